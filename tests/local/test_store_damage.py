"""A store file overwritten or damaged is named in a ConfigurationError saying what to do, and left as it is.

``mlops.db`` (the SDK's own tables) and ``mlflow.db`` (MLflow's tracking store and registry) answered
``sqlite3.DatabaseError: file is not a database`` from inside, or a bare ``MlopsError`` quoting
MLflow's SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import ConfigurationError, MLOpsClient
from mlops_sdk.cli.main import run

JUNK = {"text": b"not a database " * 40, "torn header": b"SQLite format 3\x00" + b"\x00" * 80}
CALLS: dict[str, Callable[[MLOpsClient], Any]] = {
    "models": lambda client: client.models.list_models(),
    "approvals": lambda client: client.approvals.list_requests("all"),
    "training": lambda client: client.training.list_runs(),
    "data_factory": lambda client: client.data_factory.list_runs(),
}


def _store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    with MLOpsClient(f"local://{folder}", show_progress=False) as client:
        assert list(client.models.list_models()) == []  # creates mlops.db and mlflow.db
    assert {"mlops.db", "mlflow.db"} <= {path.name for path in folder.iterdir()}
    return folder


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_a_damaged_mlops_db_is_named_in_a_configuration_error(tmp_path: Path, junk: bytes) -> None:
    folder = _store(tmp_path)
    for name in ("mlops.db-wal", "mlops.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "mlops.db").write_bytes(junk)
    target = f"local://{folder}"
    for call in CALLS.values():
        with pytest.raises(ConfigurationError) as caught, MLOpsClient(target, show_progress=False) as client:
            call(client)
        assert str(folder / "mlops.db") in caught.value.message
        assert "Move it aside" in caught.value.message
        assert caught.value.details["field"] == "target"
    assert (folder / "mlops.db").read_bytes() == junk  # never "repaired" by overwriting what is there


def test_a_damaged_mlflow_db_is_a_configuration_error_not_mlflow_sql(tmp_path: Path) -> None:
    folder = _store(tmp_path)
    for name in ("mlflow.db-wal", "mlflow.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "mlflow.db").write_bytes(JUNK["text"])
    with pytest.raises(ConfigurationError) as caught, MLOpsClient(f"local://{folder}", show_progress=False) as client:
        client.models.list_models()
    assert "mlflow.db" in caught.value.message
    assert "SELECT" not in caught.value.message
    assert (folder / "mlflow.db").read_bytes() == JUNK["text"]


def test_the_cli_says_the_same_in_one_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _store(tmp_path)
    (folder / "mlops.db").write_bytes(JUNK["text"])
    assert run(["-o", "json", "-t", f"local://{folder}", "approvals", "list"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["type"] == "ConfigurationError"
    assert "mlops.db" in error["message"]
    assert "Traceback" not in captured.err
