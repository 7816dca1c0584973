"""``mlops monitor labels`` and ``mlops monitor run --report`` SIGKILLed at seeded moments.

After every kill: each label part is whole (all its rows, readable), the report file is absent or whole
(its digest checks), and nothing the readers would pick up is half-written. After the kills, completing
the commands gives exactly the answer of a run that was never killed (the same report digest: the window
is fixed, so the digest depends on the data only). The moments are seeded fractions of each command's
own duration, measured on the uninterrupted reference run, so they land inside the run on a fast and on a
loaded machine; a moment the command outran is halved until one lands. ``MLOPS_CRASH_SEED=<seed>`` replays
a sweep.

- ``test_monitor_commands_killed_at_seeded_moments_leave_whole_files`` (CI): 1 kill per command.
- ``test_monitor_commands_killed_across_their_whole_run_leave_whole_files`` (``nox -s soak``): 25 each.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.models.monitoring import MonitorReport

SEED = int(os.environ.get("MLOPS_CRASH_SEED") or random.SystemRandom().randrange(2**32))
ENDPOINT = "crash-mon"
ROWS = 400
START = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
SRC = Path(__file__).resolve().parents[2] / "src"


def _project(folder: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=ROWS), "z": rng.normal(size=ROWS)})
    with MLOpsClient(f"local://{folder / '.mlops'}", show_progress=False) as client:
        ids = client.monitoring.log_inferences(
            ENDPOINT, frame, predictions=(frame.x > 0).astype(int).tolist(), at=START + timedelta(minutes=30)
        )
    truth = (frame.x + frame.z > 0).astype(int)
    pd.DataFrame({"correlation_id": ids, "label": truth}).to_csv(folder / "labels.csv", index=False)
    pd.DataFrame({"x": rng.normal(size=ROWS), "z": rng.normal(size=ROWS)}).to_parquet(folder / "train.parquet")
    (folder / "monitor.toml").write_text(
        f'[monitor]\nendpoint = "{ENDPOINT}"\n'
        f"window = {{ start = {START.isoformat()}, end = {(START + timedelta(hours=1)).isoformat()} }}\n"
        'baseline = { kind = "data", path = "train.parquet" }\n'
        '[[monitor.signals]]\nkind = "data_drift"\n'
        '[[monitor.signals]]\nkind = "model_performance"\nthresholds = { accuracy = 0.9 }\n'
    )


def _command(folder: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "mlops_sdk.cli", "-t", f"local://{folder / '.mlops'}", *argv]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


def _complete(folder: Path, *argv: str) -> float:
    """Run the command to its end; its wall time in seconds."""
    started = time.monotonic()
    done = subprocess.run(_command(folder, *argv), cwd=folder, env=_environment(), capture_output=True, timeout=120)
    assert done.returncode in (0, 3), done.stderr.decode()[-2000:]
    return time.monotonic() - started


def _kill_at(folder: Path, delay: float, *argv: str) -> bool:
    """Start the command, SIGKILL it after ``delay`` seconds; True when it was still running."""
    process = subprocess.Popen(
        _command(folder, *argv), cwd=folder, env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return True


def _whole_files(folder: Path, ids: set[str]) -> None:
    labels = folder / ".mlops" / "monitoring" / ENDPOINT / "labels"
    for part in sorted(labels.glob("part-*.parquet")) if labels.is_dir() else []:
        table = pq.read_table(part)  # raises on a half-written file
        assert table.num_rows == ROWS, part
        assert set(table.column("_id").to_pylist()) == ids
    report = folder / "out" / "report.json"
    if report.exists():
        MonitorReport.from_json(report.read_text())  # whole: parses and its digest checks


def _kill_inside(folder: Path, ids: set[str], fraction: float, duration: float, *argv: str) -> None:
    """SIGKILL the command ``fraction`` of ``duration`` into its run; halve a moment it outran."""
    delay = fraction * duration
    for _ in range(8):
        landed = _kill_at(folder, delay, *argv)
        _whole_files(folder, ids)
        if landed:
            return
        delay /= 2
    raise AssertionError(f"seed {SEED}: {argv[:3]} finished before every kill down to {delay:.3f} s")


def _sweep(tmp_path: Path, kills: int) -> None:
    print(f"\nmonitor crash seed: {SEED} (replay with MLOPS_CRASH_SEED={SEED})")
    rng = random.Random(SEED)
    reference, folder = tmp_path / "reference", tmp_path / "killed"
    for place in (reference, folder):
        place.mkdir()
        _project(place)
    ids = set(pd.read_csv(folder / "labels.csv")["correlation_id"].astype(str))
    labels = ("monitor", "labels", ENDPOINT, "labels.csv")
    report = ("-o", "json", "monitor", "run", "monitor.toml", "--report", "out/report.json")
    # the answer of commands never killed, and how long each takes on this machine now
    durations = {argv: _complete(reference, *argv) for argv in (labels, report)}
    expected = MonitorReport.from_json((reference / "out" / "report.json").read_text())
    assert expected.labeled_rows == ROWS
    for argv in (labels, report):
        for _ in range(kills):
            _kill_inside(folder, ids, rng.uniform(0.05, 0.95), durations[argv], *argv)
    _complete(folder, *labels)
    _complete(folder, *report)
    _whole_files(folder, ids)
    again = MonitorReport.from_json((folder / "out" / "report.json").read_text())
    assert again.digest == expected.digest
    assert again.labeled_rows == ROWS


def test_monitor_commands_killed_at_seeded_moments_leave_whole_files(tmp_path: Path) -> None:
    _sweep(tmp_path, kills=1)


@pytest.mark.soak
def test_monitor_commands_killed_across_their_whole_run_leave_whole_files(tmp_path: Path) -> None:
    _sweep(tmp_path, kills=25)
