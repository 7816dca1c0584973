"""`mlops data ...` end to end on the local engine (real worker processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run

PIPELINES = """
[pipelines.sales]
parameters = { min_amount = { type = "float", default = 0.0 } }

[[pipelines.sales.activities]]
type = "copy"
name = "raw"
source = "data/sales.csv"

[[pipelines.sales.activities]]
type = "sql"
name = "clean"
query = "SELECT * FROM raw WHERE amount >= $min_amount ORDER BY id"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\n')
    (tmp_path / "pipelines.toml").write_text(PIPELINES)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text("id,amount\n1,10.0\n2,2.5\n3,6.0\n")
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_refresh_wait_runs_and_cancel(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-o", "json", "data", "refresh", "sales", "--param", "min_amount=5", "--wait"]) == 0
    result = _json(capsys)
    assert isinstance(result, dict)
    assert result["status"] == "Succeeded"
    assert result["parameters"]["min_amount"] == 5.0
    assert result["outputs"]["clean"]["row_count"] == 2
    assert Path(result["outputs"]["clean"]["uri"]).is_file()

    assert run(["-o", "json", "data", "runs", "--pipeline", "sales"]) == 0
    runs = _json(capsys)
    assert isinstance(runs, list)
    assert [item["run_id"] for item in runs] == [result["run_id"]]

    assert run(["-o", "json", "data", "cancel", result["run_id"]]) == 0
    assert _json(capsys) == {"native_status": "Succeeded", "run_id": result["run_id"], "status": "Succeeded"}

    assert run(["data", "show", result["run_id"]]) == 0
    text = capsys.readouterr().out
    assert "clean" in text
    assert "Succeeded" in text


def test_refresh_without_wait_prints_a_resume_token(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-o", "json", "data", "refresh", "sales", "--key", "ci-42"]) == 0
    started = _json(capsys)
    assert isinstance(started, dict)
    assert run(["-o", "json", "resume", started["continuation_token"]]) == 0
    finished = _json(capsys)
    assert isinstance(finished, dict)
    assert finished["run_id"] == started["run_id"]
    assert finished["idempotency_key"] == "ci-42"


def test_bad_input_exits_with_a_clear_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "refresh", "sale"]) == 1
    assert "'sale' does not exist" in capsys.readouterr().err
    assert run(["data", "refresh", "sales", "--param", "min_amount=lots"]) == 1
    assert "parameter 'min_amount' must be float" in capsys.readouterr().err
    assert run(["data", "refresh", "sales", "--param", "min_amount"]) == 2


def test_a_unique_prefix_of_a_printed_run_id_is_accepted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-o", "json", "data", "refresh", "sales", "--wait"]) == 0
    run_id = _json(capsys)["run_id"]  # type: ignore[index]
    assert run(["data", "runs"]) == 0
    assert run_id in capsys.readouterr().out  # printed whole
    assert run(["-o", "json", "data", "show", run_id[:8]]) == 0
    shown = _json(capsys)
    assert isinstance(shown, dict)
    assert shown["run_id"] == run_id
    assert run(["data", "show", "ffffffffff-not-a-run"]) == 1
