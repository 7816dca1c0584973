"""A submitter killed between claiming a training run and starting it never wedges the run's key.

The submitter records the run (the claim), starts the supervisor, then creates the MLflow run; the
supervisor starts the command only once the MLflow run exists. Killing the submitter in between used
to end the run Failed for good, and every keyed re-submission re-attached to that failure.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.status import Status

pytest.importorskip("mlflow")

KEY = "wedge-train"
SUBMITTER = """
import sys
from mlops_sdk import MLOpsClient
client = MLOpsClient(sys.argv[1], show_progress=False)
client.training.begin_train(
    {"code": sys.argv[2], "command": "python job.py", "experiment": "wedge"}, idempotency_key=sys.argv[3])
print("submitted", flush=True)
"""


def _wait_for(predicate, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _mlflow_database_locked(store: Path) -> Iterator[None]:
    """Hold a write lock on ``mlflow.db``: whoever creates an MLflow run meanwhile waits for it."""
    connection = sqlite3.connect(store / "mlflow.db", timeout=30, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def _row(store: Path, key: str) -> sqlite3.Row | None:
    with sqlite3.connect(store / "mlops.db", timeout=30) as connection:
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute("SELECT * FROM training_runs WHERE idempotency_key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # the table does not exist yet
            return None


def _kill_submitter_after_the_claim(store: Path, code: Path, key: str, *extra: str, script: str = SUBMITTER) -> str:
    """Run a submitter, SIGKILL it once the supervisor claimed the run but before any MLflow run exists."""
    with _mlflow_database_locked(store):
        submitter = subprocess.Popen(
            [sys.executable, "-c", script, f"local://{store}", str(code), key, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(lambda: (row := _row(store, key)) is not None and row["pid"] is not None, "the claim")
            submitter.send_signal(signal.SIGKILL)
            out, err = submitter.communicate(timeout=30)
        finally:
            if submitter.poll() is None:
                submitter.kill()
                submitter.wait()
    assert submitter.returncode == -signal.SIGKILL, out + err
    assert "submitted" not in out
    row = _row(store, key)
    assert row is not None
    assert row["mlflow_run_id"] is None
    return str(row["id"])


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    with MLOpsClient(f"local://{folder}", show_progress=False) as client:
        client.models.list()  # builds mlflow.db, so the test can lock it
    return folder


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "job.py").write_text(
        textwrap.dedent(
            """
            import mlflow
            mlflow.log_metric("trained", 1)
            print("training ran", flush=True)
            """
        ),
        encoding="utf-8",
    )
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after the run failed", "while its supervisor still waits"])
def test_a_keyed_resubmission_starts_a_run_whose_submitter_died_before_it_started(
    store: Path, code: Path, when: str
) -> None:
    run_id = _kill_submitter_after_the_claim(store, code, KEY)
    job = {"code": code, "command": "python job.py", "experiment": "wedge"}
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        if when == "after the run failed":
            _wait_for(lambda: client.training.get_run(run_id).status is Status.FAILED, "the supervisor to give up")
            failed = client.training.get_run(run_id)
            assert failed.native_status == "NotStarted"
            assert "submitting process died" in (failed.error or "")
        operation = client.training.begin_train(job, idempotency_key=KEY)
        assert operation.id == run_id  # the same run, not a new one
        run = operation.result(timeout=120)
        assert run.status is Status.SUCCEEDED
        assert run.metrics == {"trained": 1.0}
        assert [r.id for r in client.training.list_runs(experiment="wedge")] == [run_id]
        # Exactly one MLflow run, and the command ran exactly once.
        from mlflow import MlflowClient

        mlflow = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
        mlflow_runs = mlflow.search_runs([mlflow.get_experiment_by_name("wedge").experiment_id])
        assert [r.info.run_id for r in mlflow_runs] == [run.mlflow_run_id]
        assert mlflow_runs[0].info.status == "FINISHED"
        assert (Path(run.log_location or "") / "stdout.log").read_text().count("training ran") == 1
        # A finished run is returned as it is: nothing starts again.
        again = client.training.begin_train(job, idempotency_key=KEY)
        assert again.id == run_id
        assert again.done()
        assert again.result().metrics == {"trained": 1.0}


SECRET_SUBMITTER = """
import sys
from mlops_sdk import MLOpsClient
client = MLOpsClient(sys.argv[1], show_progress=False)
client.training.begin_train(
    {"code": sys.argv[2], "command": "python job.py", "experiment": "wedge",
     "environment_variables": {"DB_PASSWORD": sys.argv[4]}},
    idempotency_key=sys.argv[3])
print("submitted", flush=True)
"""


@pytest.mark.slow
def test_a_never_started_run_with_a_secret_restarts_only_with_the_resubmitted_secret(
    store: Path, tmp_path: Path
) -> None:
    """The secret is never stored, so only a keyed re-submission (which brings it) starts the run again."""
    import hashlib

    canary = "canary-wedge-secret-5f1e9a"
    code = tmp_path / "secret-code"
    code.mkdir()
    (code / "job.py").write_text(
        "import hashlib, os\n"
        "print('secret sha256', hashlib.sha256(os.environ['DB_PASSWORD'].encode()).hexdigest(), flush=True)\n",
        encoding="utf-8",
    )
    key = "wedge-secret"
    # The same kill as above, with the secret passed to the submitter's job.
    run_id = _kill_submitter_after_the_claim(store, code, key, canary, script=SECRET_SUBMITTER)
    job = {"code": code, "command": "python job.py", "experiment": "wedge"}
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        _wait_for(lambda: client.training.get_run(run_id).status is Status.FAILED, "the supervisor to give up")
        # A reader without the secret cannot start it again: it stays failed-before-start, retryable.
        assert client.training.get_run(run_id).native_status == "NotStarted"
        operation = client.training.begin_train(
            {**job, "environment_variables": {"DB_PASSWORD": canary}}, idempotency_key=key
        )
        assert operation.id == run_id
        run = operation.result(timeout=120)
    assert run.status is Status.SUCCEEDED
    stdout = (Path(run.log_location or "") / "stdout.log").read_text()
    assert f"secret sha256 {hashlib.sha256(canary.encode()).hexdigest()}" in stdout
    for path in store.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
