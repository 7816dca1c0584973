"""``mlops deploy`` / ``mlops rollback`` / ``mlops endpoints ...`` on a real local store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.cli.main import run
from tests.local._deploy import ROWS, Models, formula_a, formula_b, save_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    store = tmp_path / ".mlops"
    yield f"local://{store}"
    for folder in (store / "endpoints").glob("*"):
        if (folder / "config.json").is_file():
            EndpointServer(folder, folder.name).stop()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(list(args))
    return code, capsys.readouterr().out


def test_deploy_invoke_history_rollback_stop(capsys: pytest.CaptureFixture[str], target: str, models: Models) -> None:
    code, out = cli(capsys, "-t", target, "-o", "json", "deploy", str(models.a), "-e", "cli-ep", "--deployment", "blue")
    assert code == 0, out
    assert json.loads(out)["traffic"] == {"blue": 100}
    smoke = json.dumps({"payload": {"input_data": ROWS}, "expected": [formula_b(r) for r in ROWS]})
    code, out = cli(
        capsys,
        "-t",
        target,
        "-o",
        "json",
        "deploy",
        str(models.b),
        "-e",
        "cli-ep",
        "--deployment",
        "green",
        "--steps",
        "25,100",
        "--smoke",
        smoke,
    )
    assert code == 0, out
    steps = [step["traffic"] for step in json.loads(out)["steps"]]
    assert steps == [{"blue": 75, "green": 25}, {"blue": 0, "green": 100}]

    code, out = cli(capsys, "-t", target, "endpoints", "invoke", "cli-ep", "--data", json.dumps({"input_data": ROWS}))
    assert code == 0
    assert json.loads(out) == pytest.approx([formula_b(r) for r in ROWS])

    code, out = cli(capsys, "-t", target, "-o", "json", "rollback", "cli-ep")
    assert code == 0
    assert json.loads(out)["traffic"] == {"blue": 100, "green": 0}

    code, out = cli(capsys, "-t", target, "-o", "json", "endpoints", "history", "cli-ep")
    actions = [entry["action"] for entry in json.loads(out)]
    assert actions == ["deploy", "traffic", "deploy", "traffic", "traffic", "rollback"]

    code, out = cli(capsys, "-t", target, "-o", "json", "endpoints", "list")
    assert [(e["name"], e["traffic"]) for e in json.loads(out)] == [("cli-ep", {"blue": 100, "green": 0})]
    code, out = cli(capsys, "-t", target, "endpoints", "logs", "cli-ep", "-n", "5")
    assert code == 0
    assert len(out.strip().splitlines()) == 5
    code, out = cli(capsys, "-t", target, "-o", "json", "endpoints", "stop", "cli-ep")
    assert json.loads(out) == {"endpoint": "cli-ep", "stopped": True}
    code, out = cli(capsys, "-t", target, "endpoints", "invoke", "cli-ep", "--data", json.dumps({"input_data": ROWS}))
    assert json.loads(out) == pytest.approx([formula_a(r) for r in ROWS])  # restarted with its state


def test_failed_smoke_exits_nonzero_and_says_why(
    capsys: pytest.CaptureFixture[str], target: str, models: Models
) -> None:
    assert cli(capsys, "-t", target, "deploy", str(models.a), "-e", "cli-ep2", "--deployment", "blue")[0] == 0
    smoke = json.dumps({"payload": {"input_data": ROWS}, "shape": [7]})
    code, out = cli(capsys, "-t", target, "deploy", str(models.b), "-e", "cli-ep2", "--smoke", smoke)
    assert code == 1
    assert "rolled back" in out
    assert "output shape [2] does not match the expected [7]" in out
    code, _ = cli(capsys, "-t", target, "deploy", str(models.b), "-e", "cli-ep2", "--steps", "ten")
    assert code == 2


def test_create_an_endpoint_ahead_with_and_without_waiting(capsys: pytest.CaptureFixture[str], target: str) -> None:
    code, out = cli(capsys, "-t", target, "-o", "json", "endpoints", "create", "cli-early", "--no-wait")
    assert code == 0, out
    token = json.loads(out)["continuation_token"]
    code, out = cli(capsys, "-t", target, "-o", "json", "resume", token)
    assert code == 0, out
    assert json.loads(out)["state"] == "Running"
    code, out = cli(capsys, "-t", target, "endpoints", "create", "cli-early")  # exists: shown, not recreated
    assert code == 0, out
    assert "cli-early (local) Running" in out
    capsys.readouterr()
    assert run(["-t", target, "endpoints", "create", "x"]) == 1
    assert "endpoint name 'x' is invalid" in capsys.readouterr().err
