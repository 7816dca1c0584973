"""Processes registering the same run output and setting the same alias at the same moment (two runs
of one flow, a CLI call while a flow runs): every call succeeds, one version is made, one move recorded.

Before, both were look-then-write sequences: two processes setting an alias that did not exist yet
both read "not set" and both inserted it into MLflow's alias table, so one failed with
``sqlite3.IntegrityError: UNIQUE constraint failed`` (found by running the demo twice at once with
the same run id) and both recorded a move; three processes registering one run output made versions
1, 2 and 3 instead of one. The tests make the race certain instead of likely: they hold the MLflow
database's write lock while the processes start, so each reads and then waits to write, then let
them go.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient

SRC = Path(__file__).resolve().parents[2] / "src"
PROCESSES = 3

CALLER = """
import sys
from mlops_sdk import MLOpsClient
with MLOpsClient(sys.argv[1], show_progress=False) as client:
    client.models.get("twin", "1")  # connected and warm
    print("ready", flush=True)
    sys.stdin.readline()
    if sys.argv[2] == "alias":
        print(client.models.set_alias("twin", "champion", "1").version)
    else:
        print(client.models.register(sys.argv[3], name="twin-again").version)
"""


def _register_one_version(store: Path, tmp_path: Path) -> str:
    """Train once and register the output as ``twin`` version 1; the training run's id."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "job.py").write_text(
        textwrap.dedent(
            """
            import pathlib, sys
            out = pathlib.Path(sys.argv[1])
            (out / "MLmodel").write_text("flavors:\\n  python_function:\\n    loader_module: mlflow.sklearn\\n")
            """
        )
    )
    job = {
        "code": code,
        "command": "python job.py ${{outputs.model}}",
        "experiment": "twin",
        "outputs": {"model": "mlflow_model"},
    }
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        run = client.training.begin_train(job).result(timeout=120)
        client.models.register(run, name="twin")
        return run.id


def _all_at_once(store: Path, *argv: str) -> list[str]:
    """Run ``CALLER`` in ``PROCESSES`` processes that read the store and then wait to write it; what
    each printed."""
    callers = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER, f"local://{store}", *argv],
            env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for caller in callers:
        assert caller.stdout is not None
        assert caller.stdout.readline().strip() == "ready", caller.communicate()[1]
    lock = sqlite3.connect(store / "mlflow.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # readers go on, writers wait (MLflow's busy timeout is longer)
    try:
        for caller in callers:
            assert caller.stdin is not None
            caller.stdin.write("go\n")
            caller.stdin.flush()
        time.sleep(2)  # every process reads and waits to write (were one slower, the race would be less sure)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    printed = []
    for caller in callers:
        out, err = caller.communicate(timeout=120)
        assert caller.returncode == 0, err[-3000:]
        printed.append(out.strip())
    return printed


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("concurrency")
    return folder / "store", _register_one_version(folder / "store", folder)


@pytest.mark.slow
def test_processes_setting_an_alias_at_once_all_succeed_and_record_one_move(store: tuple[Path, str]) -> None:
    folder, _ = store
    assert _all_at_once(folder, "alias") == ["1"] * PROCESSES
    with MLOpsClient(f"local://{folder}", show_progress=False) as client:
        moves = [(event.alias, event.previous_version, event.version) for event in client.models.alias_history("twin")]
        assert moves == [("champion", None, "1")]
        assert client.models.get_by_alias("twin", "champion").version == "1"


@pytest.mark.slow
def test_processes_registering_one_run_output_at_once_make_one_version(store: tuple[Path, str]) -> None:
    folder, run_id = store
    assert _all_at_once(folder, "register", run_id) == ["1"] * PROCESSES
    with MLOpsClient(f"local://{folder}", show_progress=False) as client:
        assert [version.version for version in client.models.list_versions("twin-again")] == ["1"]
