"""Local model registry (MLflow on SQLite) and the train/models CLI, end to end on a real store."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.cli.main import run as cli
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.training import TrainingRun

WRITE_MODEL = """
import pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "MLmodel").write_text("flavors:\\n  python_function:\\n    loader_module: mlflow.sklearn\\n")
print("model written")
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture
def client(store: Path) -> Iterator[MLOpsClient]:
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        yield hub


def _train(client: MLOpsClient, tmp_path: Path, script: str = WRITE_MODEL) -> TrainingRun:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "job.py").write_text(textwrap.dedent(script))
    return client.training.begin_train(
        {
            "code": code,
            "command": "python job.py ${{outputs.model}}",
            "outputs": {"model": "mlflow_model"},
            "experiment": "registry",
        }
    ).result()


def test_versions_tags_alias_moves_and_history(client: MLOpsClient, tmp_path: Path) -> None:
    first = client.models.register(_train(client, tmp_path), name="churn", tags={"team": "risk"})
    second = client.models.register(_train(client, tmp_path), name="churn", description="retrained")
    assert (first.version, second.version) == ("1", "2")
    assert first.tags["team"] == "risk"
    assert second.description == "retrained"
    assert [v.version for v in client.models.list("churn")] == ["2", "1"]
    assert "churn@2" in [v.ref for v in client.models.list()]

    tagged = client.models.set_tags("churn", 2, {"mlops.validation_digest": "sha256:abc"})
    assert tagged.tags["mlops.validation_digest"] == "sha256:abc"

    client.models.set_alias("churn", "champion", 1)
    client.models.set_alias("churn", "champion", 1)  # no-op, not recorded twice
    client.models.set_alias("churn", "champion", 2)
    client.models.set_alias("churn", "challenger", 1)
    assert client.models.get_by_alias("churn", "champion").version == "2"
    assert client.models.get("churn", 1).aliases == ("challenger",)
    client.models.remove_alias("churn", "challenger")
    history = [(e.alias, e.action, e.previous_version, e.version) for e in client.models.alias_history("churn")]
    assert history == [
        ("champion", "set", None, "1"),
        ("champion", "set", "1", "2"),
        ("challenger", "set", None, "1"),
        ("challenger", "removed", "1", None),
    ]
    with pytest.raises(ResourceNotFoundError, match="has no alias 'challenger'; versions: 1, 2; aliases: champion"):
        client.models.get_by_alias("churn", "challenger")


def test_registry_errors_name_what_exists(client: MLOpsClient, tmp_path: Path) -> None:
    run = _train(client, tmp_path, "print('no model saved')\n")
    with pytest.raises(ConfigurationError, match="holds no MLflow model"):
        client.models.register(run, name="empty")
    with pytest.raises(ConfigurationError, match="has no output 'weights'; its outputs: model"):
        client.models.register(run, name="empty", output="weights")
    with pytest.raises(ResourceNotFoundError, match="no registered model 'ghost'"):
        client.models.get("ghost", 1)
    with pytest.raises(ConfigurationError, match="model name 'bad name' is invalid"):
        client.models.get("bad name", 1)
    with pytest.raises(ConfigurationError, match="alias 'latest' is invalid"):
        client.models.set_alias("churn", "latest", 1)
    with pytest.raises(ConfigurationError, match="NAME@VERSION"):
        client.models.resolve("churn")


def test_cli_train_submit_runs_and_models(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "job.py").write_text(textwrap.dedent(WRITE_MODEL))
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "code: code\ncommand: python job.py ${{outputs.model}}\noutputs:\n  model:\n    type: mlflow_model\n"
        "experiment: cli\n"
    )
    target = ["--target", f"local://{store}", "--output", "json"]
    assert cli([*target, "train", "submit", str(spec), "--wait", "--key", "cli-1"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "Succeeded"
    assert run["idempotency_key"] == "cli-1"

    assert cli([*target, "train", "runs", "--experiment", "cli"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run["id"]]

    with MLOpsClient(f"local://{store}") as client:
        client.models.register(run["id"], name="cli-model")
    assert cli([*target, "models", "alias", "cli-model", "champion", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["aliases"] == ["champion"]
    assert cli([*target, "models", "show", "cli-model:champion"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1"
    assert cli([*target, "models", "list", "cli-model"]) == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == ["1"]
    assert cli([*target, "models", "alias", "cli-model"]) == 0
    assert [e["alias"] for e in json.loads(capsys.readouterr().out)] == ["champion"]
    assert cli([*target, "models", "show", "cli-model@7"]) == 1
    assert "has no version 7" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_list_shows_aliases_like_show_does(
    client: MLOpsClient, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = client.models.register(_train(client, tmp_path), name="aliased")
    client.models.set_alias("aliased", "champion", version.version)
    assert [v.aliases for v in client.models.list("aliased")] == [("champion",)]
    assert {v.name: v.aliases for v in client.models.list()}["aliased"] == ("champion",)
    capsys.readouterr()
    assert cli(["-t", f"local://{store}", "-o", "json", "models", "list", "aliased"]) == 0
    assert [item["aliases"] for item in json.loads(capsys.readouterr().out)] == [["champion"]]
    assert cli(["-t", f"local://{store}", "models", "list", "aliased"]) == 0
    assert "champion" in capsys.readouterr().out


def test_cli_registers_a_run_by_id_or_unique_prefix(
    client: MLOpsClient, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _train(client, tmp_path)
    target = ["-t", f"local://{store}"]
    capsys.readouterr()
    assert cli([*target, "-o", "json", "models", "register", first.id, "--name", "from-cli", "--tag", "team=risk"]) == 0
    version = json.loads(capsys.readouterr().out)
    assert (version["name"], version["version"], version["tags"]["team"]) == ("from-cli", "1", "risk")
    assert version["tags"]["mlops.training_run_id"] == first.id
    # The same run again is the same version; a unique prefix of the id will do.
    prefix = first.id[: len(first.id) - 2]
    assert cli([*target, "models", "register", prefix, "--name", "from-cli", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1"
    assert cli([*target, "-o", "json", "train", "show", prefix]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first.id
    assert cli([*target, "models", "register", first.id, "--name", "x", "--job-output", "nope"]) == 1
    assert "has no output 'nope'; its outputs: model" in capsys.readouterr().err
    assert cli([*target, "models", "register", "zzzzzz", "--name", "x"]) == 1
