"""Kill the resumable demo with SIGKILL at chosen moments and re-run it with the same run id (test helper).

A *moment* is an anchor plus an offset in seconds. Anchors are the demo process's start and the
moments the flow journal (``flow_steps`` in ``mlops.db``) shows a step starting in that process, so
"0.75 s into the training step" means the same thing on a fast and on a loaded machine. A *chain*
runs the demo in one work folder: each run is killed at the chain's next moment, and once every
moment has fired the demo is re-run until it completes. Every side effect is then counted in the
stores themselves (``mlops.db``, the MLflow tracking store and registry, the endpoint's state).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "examples" / "diabetes" / "demo.py"
FLOW = "diabetes-demo"
STEPS = ("refresh", "train", "register", "validate", "request-approval", "approval", "deploy")
ANCHORS = ("start", *STEPS, "deploy:done")
# Where each side effect is submitted: a kill every ~0.25 s of these (seconds from the step's start).
SUBMISSION_WINDOWS = {"refresh": 1.0, "train": 2.0, "register": 1.0, "request-approval": 0.25, "deploy": 2.0}
GRID = 0.25
RUN_TIMEOUT = 600.0  # a hang detector; a loaded 2-core machine can take minutes per run


@dataclass(frozen=True, order=True)
class Moment:
    """Kill ``offset`` seconds after ``anchor`` (see the module docstring)."""

    rank: int
    anchor: str
    offset: float

    def __str__(self) -> str:
        return f"{self.anchor}+{self.offset:.2f}s"


def moment(anchor: str, offset: float) -> Moment:
    """A moment, ordered by where its anchor comes in a run."""
    return Moment(ANCHORS.index(anchor), anchor, round(offset, 3))


def full_sweep(rng: random.Random) -> list[Moment]:
    """Every ~0.25 s of each submission window, plus moments spread over the rest of the run."""
    moments = []
    for step, window in SUBMISSION_WINDOWS.items():
        ticks = round(window / GRID)
        for tick in range(ticks + 1):
            jitter = rng.uniform(0, 0.05) if tick else 0.0
            moments.append(moment(step, min(window, tick * GRID + jitter)))
    moments += [moment("start", rng.uniform(0.3, 4.0)) for _ in range(4)]  # imports, client, endpoint start
    moments += [moment("train", rng.uniform(2.5, 6.0)) for _ in range(2)]  # the training script runs
    moments += [moment("validate", rng.uniform(0.0, 0.6)), moment("approval", rng.uniform(0.0, 0.2))]
    moments += [moment("deploy", rng.uniform(2.0, 8.0)) for _ in range(2)]  # the rest of the rollout
    moments += [moment("deploy:done", rng.uniform(0.0, 1.5)) for _ in range(2)]  # scoring, report, stop
    return sorted(moments)


def ci_subset(rng: random.Random, count: int = 7) -> list[Moment]:
    """``count`` moments of the full sweep on distinct anchors (one chain), one in the training window."""
    sweep = full_sweep(rng)
    training = [m for m in sweep if m.anchor == "train" and m.offset <= SUBMISSION_WINDOWS["train"]]
    chosen = {"train": rng.choice(training)}
    others = [anchor for anchor in dict.fromkeys(m.anchor for m in sweep) if anchor != "train"]
    for anchor in rng.sample(others, min(count - 1, len(others))):
        chosen[anchor] = rng.choice([m for m in sweep if m.anchor == anchor])
    return sorted(chosen.values())


def chains(moments: list[Moment]) -> list[list[Moment]]:
    """Group moments so that no chain has two on the same anchor (each is then hit on its own)."""
    by_anchor: dict[str, list[Moment]] = {}
    for item in moments:
        by_anchor.setdefault(item.anchor, []).append(item)
    width = max(len(items) for items in by_anchor.values())
    return [sorted(items[i] for items in by_anchor.values() if i < len(items)) for i in range(width)]


@dataclass
class Kill:
    """One SIGKILL and where it landed."""

    moment: Moment
    landed_in: str  # the step running at that instant (journal), or "outside a step"
    attempt: int  # 1: the step's first execution; 2+: a re-attach after an earlier kill
    training_claimed_without_mlflow_run: bool  # the window of issue 12's wedge


@dataclass
class ChainResult:
    """What one chain did."""

    run_id: str
    kills: list[Kill] = field(default_factory=list)
    missed: list[Moment] = field(default_factory=list)  # the process finished before the moment came
    runs: int = 0
    seconds: float = 0.0


class _Journal:
    """Read-only view of the flow journal and the training claim, polled while the demo runs."""

    def __init__(self, store: Path, run_id: str) -> None:
        self._db = store / "mlops.db"
        self._run_id = f"{run_id}-round-1"
        self._connection: sqlite3.Connection | None = None

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            if self._connection is None:
                if not self._db.exists():
                    return []
                self._connection = sqlite3.connect(f"file:{self._db}?mode=ro", uri=True, timeout=5)
            return self._connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # table not created yet, or busy
            return []

    def steps(self) -> dict[str, tuple[str, int]]:
        rows = self._query(
            "SELECT step, status, attempts FROM flow_steps WHERE flow = ? AND run_id = ?", (FLOW, self._run_id)
        )
        return {step: (status, attempts) for step, status, attempts in rows}

    def training_claim_without_mlflow_run(self) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM training_runs WHERE status IN ('NotStarted', 'Running') AND mlflow_run_id IS NULL"
            )
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _launch(workdir: Path, run_id: str, number: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / "runs-log" / f"run-{number:02d}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLOPS_SHOW_PROGRESS": "false", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, str(DEMO), "--workdir", str(workdir), "--rounds", "1", "--run-id", run_id],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return process, log


def run_chain(workdir: Path, run_id: str, moments: list[Moment]) -> ChainResult:
    """Kill the demo at each moment in turn, then re-run it until it completes (see the module docstring).

    Raises:
        AssertionError: a run that was not killed did not complete (its log is in the message).
    """
    result = ChainResult(run_id)
    pending = sorted(moments)
    journal = _Journal(workdir / ".mlops", run_id)
    started = time.monotonic()
    try:
        while True:
            result.runs += 1
            before = journal.steps()
            process, log = _launch(workdir, run_id, result.runs)
            launched = time.monotonic()
            anchors: dict[str, float] = {"start": launched}
            target = pending[0] if pending else None
            killed = False
            while process.poll() is None:
                now = time.monotonic()
                if now - launched > RUN_TIMEOUT:
                    process.kill()
                    process.wait()
                    raise AssertionError(
                        f"run {result.runs} of {run_id} took over {RUN_TIMEOUT:g}s after kills "
                        f"{[str(kill.moment) for kill in result.kills]}:\n{diagnose(workdir, log)}"
                    )
                steps = journal.steps()
                for step, (status, attempts) in steps.items():
                    if step not in anchors and before.get(step, (None, 0))[1] != attempts:
                        anchors[step] = now  # started (again) in this process
                    if step == "deploy" and "deploy" in anchors and status == "succeeded":
                        anchors.setdefault("deploy:done", now)
                if target is not None and target.anchor in anchors and now >= anchors[target.anchor] + target.offset:
                    running = [(s, a) for s, (st, a) in steps.items() if st == "running" and s in anchors]
                    claimed = journal.training_claim_without_mlflow_run()
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    landed, attempt = ("outside a step", 0)
                    if running:
                        landed, attempt = max(running, key=lambda item: anchors[item[0]])
                    result.kills.append(Kill(target, landed, attempt, claimed))
                    pending.pop(0)
                    killed = True
                    break
                time.sleep(0.02)
            if killed:
                continue
            if process.returncode != 0 or "-> completed" not in log.read_text(errors="replace"):
                raise AssertionError(
                    f"run {result.runs} of {run_id} was not killed but did not complete (exit code "
                    f"{process.returncode}) after kills {[str(kill.moment) for kill in result.kills]}:\n"
                    f"{diagnose(workdir, log)}"
                )
            result.missed.extend(pending)  # the run finished before these moments came
            break
    finally:
        journal.close()
    result.seconds = time.monotonic() - started
    return result


def diagnose(workdir: Path, log: Path) -> str:
    """What a failed chain left: the demo's log, the store's rows and the tails of every process log."""
    parts = [f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"]
    try:
        with sqlite3.connect(f"file:{workdir / '.mlops' / 'mlops.db'}?mode=ro", uri=True, timeout=5) as db:
            for sql in (
                "SELECT step, status, attempts, message FROM flow_steps",
                "SELECT id, status, native_status, pid, child_pid, mlflow_run_id, submitter_pid, error"
                " FROM training_runs",
                "SELECT run_id, status, pid, starter_pid, started_at, message FROM df_runs",
                "SELECT id, status FROM approval_requests",
            ):
                parts.append(f"--- {sql}\n{db.execute(sql).fetchall()}")
    except sqlite3.Error as error:
        parts.append(f"--- mlops.db: {error}")
    store = workdir / ".mlops"
    patterns = ("runs/*/logs/*.log", "data_factory/logs/*.log", "endpoints/*/logs/*", "endpoints/*/*.json")
    patterns += ("runs/*/*.json",)
    for path in sorted(path for pattern in patterns for path in store.glob(pattern)):
        if path.name != "secrets.json":
            parts.append(f"--- {path.relative_to(store)}\n{path.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)


def count_side_effects(workdir: Path, run_id: str) -> dict[str, Any]:
    """Every side effect of the run, counted in the stores (not through the SDK)."""
    store = workdir / ".mlops"
    with sqlite3.connect(store / "mlops.db") as db:
        refreshes = db.execute("SELECT status FROM df_runs").fetchall()
        trainings = db.execute("SELECT status, mlflow_run_id FROM training_runs").fetchall()
        approvals = db.execute("SELECT status, idempotency_key FROM approval_requests").fetchall()
        outcome = db.execute(
            "SELECT outcome FROM flow_runs WHERE flow = ? AND run_id = ?", (FLOW, f"{run_id}-round-1")
        ).fetchall()
        deploy_actions = db.execute(
            "SELECT DISTINCT deployment FROM deployment_history WHERE endpoint = 'diabetes' AND action LIKE '%deploy%'"
        ).fetchall()
    from mlflow import MlflowClient

    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [experiment.experiment_id for experiment in mlflow.search_experiments()]
    mlflow_runs = mlflow.search_runs(experiments) if experiments else []
    versions = mlflow.search_model_versions("name = 'diabetes'")
    endpoint = store / "endpoints" / "diabetes"
    state = json.loads((endpoint / "state.json").read_text(encoding="utf-8"))
    return {
        "refresh_runs": [status for (status,) in refreshes],
        "training_runs": [status for status, _ in trainings],
        "mlflow_runs": sorted(run.info.status for run in mlflow_runs),
        "model_versions": sorted(str(version.version) for version in versions),
        "approval_requests": [status for status, _ in approvals],
        "deployments": sorted(state["deployments"]),
        "traffic": state["traffic"],
        "deployed_in_history": sorted(name for (name,) in deploy_actions),
        "flow_outcome": [value for (value,) in outcome],
        "server_running": (endpoint / "server.json").exists(),
    }


EXPECTED = {
    "refresh_runs": ["Succeeded"],
    "training_runs": ["Succeeded"],
    "mlflow_runs": ["FINISHED"],
    "model_versions": ["1"],
    "approval_requests": ["auto_approved"],
    "deployments": ["diabetes-v1"],
    "traffic": {"diabetes-v1": 100},
    "deployed_in_history": ["diabetes-v1"],
    "flow_outcome": ["completed"],
    "server_running": False,
}
"""What ``count_side_effects`` finds after a completed run: each side effect exactly once."""


def summary(results: list[ChainResult], seed: int) -> str:
    """One paragraph for the test output: moments, re-runs, where the kills landed, wall time."""
    kills = [kill for result in results for kill in result.kills]
    landed: dict[str, int] = {}
    for kill in kills:
        key = kill.landed_in if kill.attempt <= 1 else f"{kill.landed_in} (re-attach)"
        landed[key] = landed.get(key, 0) + 1
    missed = [str(m) for result in results for m in result.missed]
    window = " [claimed, no MLflow run]"
    detail = ", ".join(
        f"{kill.moment}->{kill.landed_in}#{kill.attempt}{window if kill.training_claimed_without_mlflow_run else ''}"
        for kill in kills
    )
    return (
        f"seed {seed}: {len(kills)} kills in {len(results)} chains, {sum(r.runs for r in results)} runs, "
        f"{sum(r.seconds for r in results):.0f}s; landed in {dict(sorted(landed.items()))}; "
        f"{sum(k.training_claimed_without_mlflow_run for k in kills)} with a training run claimed but no MLflow "
        f"run yet; missed (run finished first): {missed or 'none'}; kills: {detail}"
    )
