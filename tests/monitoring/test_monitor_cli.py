"""``mlops monitor run / labels / stats`` on a shared ``memory://`` store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.memory import reset_memory_stores
from mlops_sdk.cli.main import run

TARGET = "memory://cli-monitor"


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[list[str]]:
    rng = np.random.default_rng(4)
    pd.DataFrame({"x": rng.normal(size=500), "z": rng.normal(size=500)}).to_parquet(tmp_path / "train.parquet")
    current = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200) + 3})
    with MLOpsClient(TARGET, show_progress=False) as client:
        ids = client.monitoring.log_inferences(
            "churn", current, predictions=[1] * 200, at=datetime.now(timezone.utc) - timedelta(minutes=1)
        )
        yield ids
    reset_memory_stores()


def test_run_exits_3_on_alert_writes_the_report_and_prints_json(
    logged: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd.DataFrame({"correlation_id": logged[:50], "label": [0] * 50}).to_csv(tmp_path / "labels.csv", index=False)
    assert run(["-t", TARGET, "-o", "json", "monitor", "labels", "churn", str(tmp_path / "labels.csv")]) == 0
    assert json.loads(capsys.readouterr().out) == {"endpoint": "churn", "labels": 50}
    (tmp_path / "monitor.toml").write_text(
        """
[monitor]
endpoint = "churn"
window = "1h"
baseline = { kind = "data", path = "train.parquet" }

[[monitor.signals]]
kind = "data_drift"

[[monitor.signals]]
kind = "model_performance"
thresholds = { accuracy = 0.9 }
"""
    )
    code = run(["-t", TARGET, "-o", "json", "monitor", "run", "monitor.toml", "--report", "out/report.html"])
    assert code == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed["outcome"] == "alert"
    assert printed["passed"] is False
    assert printed["signals"][1]["metrics"][0]["value"] == 0.0
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")
    drifted = [f["feature"] for f in printed["signals"][0]["features"] if f["alerts"]]
    assert drifted == ["z"]


def test_run_exits_0_when_nothing_alerts_and_1_on_a_bad_file(
    logged: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "quiet.toml").write_text(
        '[monitor]\nendpoint = "churn"\nwindow = "1h"\n[[monitor.signals]]\nkind = "data_drift"\nfeatures = ["x"]\n'
    )
    assert run(["-t", TARGET, "monitor", "run", "quiet.toml", "-b", "train.parquet"]) == 0
    assert "passed" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text('[monitor]\nendpoint = "churn"\nsignals = []\n')
    assert run(["-t", TARGET, "monitor", "run", "bad.toml"]) == 1
    assert "signals" in capsys.readouterr().err


def test_stats(logged: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-t", TARGET, "-o", "json", "monitor", "stats", "churn"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["captured"], stats["dropped"], stats["failed"]) == (200, 0, 0)


def test_a_monitor_that_saw_no_data_does_not_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, a monitor over an endpoint with no captured rows (a misspelt name, capture off) passed
    with every signal skipped and exited 0: a scheduled job stayed green while it watched nothing."""
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "train.parquet")
    (tmp_path / "monitor.toml").write_text(
        '[monitor]\nendpoint = "no-such-endpoint"\nwindow = "1h"\n'
        'baseline = { kind = "data", path = "train.parquet" }\n[[monitor.signals]]\nkind = "data_drift"\n'
    )
    monkeypatch.chdir(tmp_path)
    code = run(["-t", f"local://{tmp_path / 'store'}", "-o", "json", "monitor", "run", "monitor.toml"])
    report = json.loads(capsys.readouterr().out)
    assert code == 3
    assert (report["outcome"], report["passed"], report["rows"]) == ("no_data", False, 0)
    assert report["signals"][0]["skipped"]
