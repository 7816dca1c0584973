"""The end-to-end demo (the README's first command) runs the whole loop twice on the local backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

DEMO = Path(__file__).resolve().parents[2] / "examples" / "diabetes" / "demo.py"


@pytest.mark.slow
def test_demo_runs_both_rounds_and_promotes_the_challenger(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    completed = subprocess.run(
        [sys.executable, str(DEMO), "--workdir", str(workdir)], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "round 1: first model -> completed" in out
    assert "round 2: new data, champion vs challenger -> completed" in out
    assert "first model: no version of diabetes holds alias 'champion'" in out
    assert "vs champion diabetes@1" in out
    assert "deploy    diabetes-v2: 10% -> 50% -> 100%" in out
    assert "auto_approved" in out
    report = (workdir / "run-report.html").read_text()
    assert "diabetes@2" in report
    assert "<svg" in report  # the validation report's plots are embedded
    assert "endpoint:    stopped" in out
    assert not list((workdir / ".mlops" / "endpoints").glob("*/pid"))  # no server left running


@pytest.mark.slow
def test_third_round_monitors_a_production_shift_and_retrains_through_the_gates(tmp_path: Path) -> None:
    workdir = tmp_path / "demo3"
    completed = subprocess.run(
        [sys.executable, str(DEMO), "--workdir", str(workdir), "--rounds", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "== production monitor -> alert (442 rows, 221 labelled)" in out
    alerts = [line.strip() for line in out.splitlines() if line.strip().startswith("alert ")]
    assert [line.split(":")[1].strip() for line in alerts if "data_drift" in line] == ["bmi"]  # only the shift
    assert any("model_performance: rmse" in line for line in alerts)
    assert "retrain   True: drifted bmi" in out
    assert "round 3: retrain after a production shift -> completed" in out
    assert "vs champion diabetes@2" in out
    assert "deploy    diabetes-v3: 10% -> 50% -> 100%" in out
    assert "Monitor <code>diabetes-monitor</code>" in (workdir / "run-report.html").read_text()
