"""Secrets by type on the local backend: never stored or shown, yet the worker and the job get them.

Each test puts unique canary values where a user would (a ``securestring`` parameter, a connection
string in a string parameter or an environment variable, a SAS in a data URI), then reads every
surface the SDK produces (the returned models' ``repr`` and JSON, errors' ``str`` / ``repr`` /
``to_dict``, ``mlops.db`` with its WAL, worker logs, ``launch.json``) and proves the worker or the
job really received the value by the SHA-256 it wrote.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mlops_sdk import ConfigurationError, MLOpsClient, OperationFailedError, Status
from mlops_sdk.cli.main import run as cli
from mlops_sdk.core.secrets import Secret
from mlops_sdk.models.data_factory import Copy, Python, RefreshPipeline
from mlops_sdk.models.training import TrainingJob


def canary(label: str) -> str:
    """A value that occurs nowhere unless we leaked it."""
    return f"Cnry{label}{uuid.uuid4().hex}"


def account_key_connection_string(key: str) -> str:
    return f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hits(root: Path, needles: list[str]) -> list[str]:
    """``path: needle`` for every file under ``root`` whose bytes contain a needle (SQLite, WAL included)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {needle}" for needle in needles if needle.encode() in data]
    return found


def record_secret_hashes(inputs: dict[str, pa.Table], parameters: dict[str, Any]) -> pa.Table:
    """Python activity: prove the worker got the real values by writing their hashes."""
    Path(parameters["proof"]).write_text(
        json.dumps({name: sha(parameters[name]) for name in ("token", "conn")}), encoding="utf-8"
    )
    return inputs["raw"]


SECURE = RefreshPipeline(
    name="secure",
    parameters={
        "token": {"type": "secureString"},
        "conn": {"type": "string"},
        "proof": {"type": "string"},
    },
    activities=[Copy(name="raw", source="data/sales.csv"), Python(name="hashed", function=record_secret_hashes)],
)
LEAKY = RefreshPipeline(
    name="leaky",
    parameters={"token": {"type": "string", "secret": True}},
    activities=[Copy(name="raw", source="data/${token}/sales.csv")],
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MLOpsClient]:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text("id,amount\n1,10.0\n2,2.5\n")
    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False, poll_interval=0.05) as hub:
        yield hub


def test_securestring_and_connection_string_parameters_reach_the_worker_but_nothing_else(
    client: MLOpsClient, tmp_path: Path
) -> None:
    token, key = canary("Token"), canary("Key")
    proof = tmp_path / "proof.json"
    client.data_factory.define(SECURE)
    run = client.data_factory.begin_refresh(
        "secure", parameters={"token": token, "conn": account_key_connection_string(key), "proof": str(proof)}
    ).result()

    assert run.status is Status.SUCCEEDED
    assert json.loads(proof.read_text()) == {"token": sha(token), "conn": sha(account_key_connection_string(key))}
    assert run.parameters["token"] == "***"
    assert run.parameters["conn"] == "***"
    assert run.parameters["proof"] == str(proof)
    shown = [repr(run), str(run), run.model_dump_json(), repr(client.data_factory.get_run(run.run_id))]
    assert not [text for text in shown if token in text or key in text]
    assert hits(tmp_path / ".mlops", [token, key]) == []


def test_a_secret_that_reaches_a_path_is_masked_in_the_error_and_the_store(client: MLOpsClient, tmp_path: Path) -> None:
    token = canary("Path")
    client.data_factory.define(LEAKY)
    with pytest.raises(OperationFailedError) as caught:
        client.data_factory.begin_refresh("leaky", parameters={"token": token}).result()

    error = caught.value
    assert "does not exist" in str(error)
    assert "***" in str(error)
    surfaces = [str(error), repr(error), json.dumps(error.to_dict()), str(error.details)]
    assert not [text for text in surfaces if token in text]
    assert hits(tmp_path / ".mlops", [token]) == []  # mlops.db, its WAL, the worker's log


def test_cli_json_of_a_refresh_shows_no_secret(client: MLOpsClient, tmp_path: Path, capsys: Any) -> None:
    token, key = canary("Cli"), canary("CliKey")
    (tmp_path / "pipelines.toml").write_text(
        textwrap.dedent(
            """
            [pipelines.cli_secure]
            parameters = { token = { type = "securestring" }, conn = { type = "string" } }
            [[pipelines.cli_secure.activities]]
            type = "copy"
            name = "raw"
            source = "data/sales.csv"
            """
        )
    )
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\n')
    argv = ["-o", "json", "data", "refresh", "cli_secure", "--param", f"token={token}", "--wait"]
    assert cli([*argv, "--param", f"conn={account_key_connection_string(key)}"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["parameters"]["token"] == "***"
    assert cli(["-o", "json", "data", "show", result["run_id"]]) == 0
    shown = capsys.readouterr()
    assert json.loads(shown.out)["parameters"]["conn"] == "***"
    assert token not in shown.out + shown.err
    assert key not in shown.out + shown.err
    assert hits(tmp_path / ".mlops", [token, key]) == []


def test_a_rerun_of_a_run_with_secrets_asks_for_a_new_refresh(client: MLOpsClient, tmp_path: Path) -> None:
    token = canary("Rerun")
    client.data_factory.define(LEAKY)
    failed = client.data_factory.begin_refresh("leaky", parameters={"token": token})
    with pytest.raises(OperationFailedError):
        failed.result()
    with pytest.raises(ConfigurationError, match=r"secret parameter\(s\) \['token'\].*start a new refresh"):
        client.data_factory.begin_rerun(failed.id)


def test_a_secret_default_is_refused_by_define(client: MLOpsClient) -> None:
    declared = SECURE.model_dump()
    declared["parameters"]["token"] = {"type": "securestring", "default": canary("Def")}
    with pytest.raises(ConfigurationError, match="secret parameter") as caught:
        client.data_factory.define(RefreshPipeline.model_validate(declared))
    assert "Cnry" not in json.dumps(caught.value.to_dict())


JOB = """
import hashlib, json, os, sys
names = ["STORAGE", "SERVICE_TOKEN", "EXPLICIT", "PLAIN"]
with open(sys.argv[1], "w") as out:
    json.dump({name: hashlib.sha256(os.environ[name].encode()).hexdigest() for name in names}, out)
"""


def test_secret_environment_variables_reach_the_job_only(client: MLOpsClient, tmp_path: Path) -> None:
    key, token, explicit = canary("EnvKey"), canary("EnvTok"), canary("EnvExp")
    code = tmp_path / "code"
    code.mkdir()
    (code / "job.py").write_text(JOB)
    proof = tmp_path / "env-proof.json"
    job = TrainingJob(
        code=code,
        command=f"python job.py {proof}",
        environment_variables={
            "STORAGE": account_key_connection_string(key),  # secret by shape
            "SERVICE_TOKEN": token,  # secret by name
            "EXPLICIT": Secret(explicit),  # secret by type
            "PLAIN": "visible",
        },
    )
    assert not [c for c in (key, token, explicit) if c in repr(job) + job.model_dump_json()]

    run = client.training.begin_train(job).result()

    assert run.status is Status.SUCCEEDED
    assert json.loads(proof.read_text()) == {
        "STORAGE": sha(account_key_connection_string(key)),
        "SERVICE_TOKEN": sha(token),
        "EXPLICIT": sha(explicit),
        "PLAIN": sha("visible"),
    }
    launch = json.loads((Path(run.log_location or "").parent / "launch.json").read_text())
    assert launch["env"]["PLAIN"] == "visible"
    assert launch["secret_env"] == ["EXPLICIT", "SERVICE_TOKEN", "STORAGE"]
    assert hits(tmp_path / ".mlops", [key, token, explicit]) == []


def test_a_sas_signature_in_a_data_uri_is_masked_in_the_error_dict(client: MLOpsClient) -> None:
    signature = canary("Sig")
    job = TrainingJob(
        code=Path("."),
        command="python train.py --data ${{inputs.data}}",
        inputs={"data": f"https://acct.blob.core.windows.net/data/train.csv?sv=2024-01-01&sp=r&sig={signature}"},
    )
    assert signature not in repr(job)
    with pytest.raises(ConfigurationError) as caught:
        client.training.begin_train(job)
    error = caught.value
    assert "cannot read" in str(error)
    assert error.details["field"] == "inputs.data"
    assert not [text for text in (str(error), repr(error), json.dumps(error.to_dict())) if signature in text]
