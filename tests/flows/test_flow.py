"""Flow: steps run once per run id, crashed runs re-attach with the same key, gates stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.operation import Operation, PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.flows import Flow, StepContext, default_run_id
from mlops_sdk.testing import FakeClock


class Trained(BaseModel):
    run_id: str
    rmse: float


class Report(BaseModel):
    passed: bool
    outcome: str


class Decision(BaseModel):
    approved: bool


class Calls:
    def __init__(self) -> None:
        self.keys: list[tuple[str, int]] = []

    def train(self, step: StepContext) -> Trained:
        self.keys.append((step.key, step.attempt))
        return Trained(run_id=f"job-{step.key}", rmse=53.1)


def test_steps_run_once_per_run_id_and_results_come_back_typed(tmp_path: Path) -> None:
    calls = Calls()
    with Flow("diabetes", run_id="r1", journal_dir=tmp_path) as flow:
        first = flow.step("train", calls.train)
    assert flow.outcome == "completed"
    with Flow("diabetes", run_id="r1", journal_dir=tmp_path) as again:
        second = again.step("train", calls.train)
    assert calls.keys == [("diabetes-r1-train", 1)]
    assert second == first
    assert isinstance(second, Trained)
    assert [record.status for record in again.steps] == ["skipped"]

    with Flow("diabetes", run_id="r2", journal_dir=tmp_path) as other_run:
        other_run.step("train", calls.train)
    assert calls.keys[-1] == ("diabetes-r2-train", 1)


def test_failed_step_is_retried_with_the_same_key(tmp_path: Path) -> None:
    attempts: list[tuple[str, int]] = []

    def flaky(step: StepContext) -> str:
        attempts.append((step.key, step.attempt))
        if step.attempt == 1:
            raise RuntimeError("node lost")
        return "ok"

    with pytest.raises(RuntimeError), Flow("f", run_id="r", journal_dir=tmp_path) as flow:
        flow.step("train", flaky)
    assert flow.outcome == "failed"
    with Flow("f", run_id="r", journal_dir=tmp_path) as flow:
        assert flow.step("train", flaky) == "ok"
    assert attempts == [("f-r-train", 1), ("f-r-train", 2)]


class _Done:
    kind, id = "test.op", "op-1"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def poll(self) -> PollResult:
        return PollResult(Status.SUCCEEDED if self.clock.monotonic() >= 5 else Status.RUNNING)

    def result(self) -> dict[str, Any]:
        return {"rows": 442}

    def cancel(self) -> None:
        raise AssertionError("not canceled")

    def state(self) -> dict[str, Any]:
        return {}


def test_an_operation_returned_by_a_step_is_waited_for(tmp_path: Path, clock: FakeClock) -> None:
    with Flow("f", run_id="r", journal_dir=tmp_path, clock=clock) as flow:
        value = flow.step("refresh", lambda step: Operation(_Done(clock), clock=clock))
    assert value == {"rows": 442}
    assert clock.monotonic() >= 5


@pytest.mark.parametrize(
    ("gate_value", "outcome"),
    [
        (Report(passed=False, outcome="not_promoted"), "not_promoted"),
        (Report(passed=False, outcome="failed"), "failed"),
        (Decision(approved=False), "rejected"),
    ],
)
def test_gates_stop_the_flow_cleanly(tmp_path: Path, gate_value: BaseModel, outcome: str) -> None:
    deployed: list[str] = []
    with Flow("f", run_id="r", journal_dir=tmp_path) as flow:
        flow.gate("validate", lambda step: gate_value)
        deployed.append("deploy")
    assert flow.outcome == outcome
    assert flow.stopped_at == "validate"
    assert deployed == []
    assert [record.status for record in flow.steps] == ["stopped"]


def test_a_passing_gate_continues(tmp_path: Path) -> None:
    with Flow("f", run_id="r", journal_dir=tmp_path) as flow:
        report = flow.gate("validate", lambda step: Report(passed=True, outcome="promote"))
        flow.step("deploy", lambda step: "deployed")
    assert report.passed
    assert flow.outcome == "completed"


def test_a_gate_needs_a_gate_result(tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigurationError, match="neither 'passed' nor 'approved'"),
        Flow("f", journal_dir=tmp_path) as flow,
    ):
        flow.gate("oops", lambda step: 42)


def test_dry_run_does_nothing_and_lists_the_effects(tmp_path: Path) -> None:
    touched: list[str] = []
    with Flow("diabetes", run_id="plan", dry_run=True) as flow:
        refresh = flow.step("refresh", lambda s: touched.append("refresh"), describe="refresh pipeline 'features'")
        flow.step("train", lambda s: touched.append("train"), describe=f"train on {refresh!r}")
        flow.gate("validate", lambda s: touched.append("validate"))
    assert touched == []
    assert flow.outcome == "planned"
    assert [(effect.step, effect.description) for effect in flow.plan] == [
        ("refresh", "refresh pipeline 'features'"),
        ("train", "train on <result of 'refresh'>"),
        ("validate", "run step 'validate'"),
    ]
    assert not (tmp_path / ".mlops").exists()


def test_keys_are_valid_job_names() -> None:
    flow = Flow("My_Flow", run_id="Build.2026/11", dry_run=True)
    assert flow.key("train model") == "my-flow-build-2026-11-train-model"
    long_key = flow.key("x" * 100)
    assert len(long_key) <= 63
    assert long_key != Flow("My_Flow", run_id="Build.2026/11", dry_run=True).key("x" * 99)
    with pytest.raises(ConfigurationError, match="flow name"):
        Flow("bad name!", dry_run=True)


def test_default_run_id_follows_ci() -> None:
    assert default_run_id({"BUILD_BUILDID": "812"}) == "ado-812"
    assert default_run_id({"GITHUB_RUN_ID": "9001"}) == "gh-9001"
    assert default_run_id({}) != default_run_id({})


FLOW_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mlops_sdk.flows import Flow

    journal, marks = Path(sys.argv[1]), Path(sys.argv[2])

    def effect(name, hang=False):
        def action(step):
            with (marks / "effects.log").open("a") as handle:
                handle.write(f"{name} {step.key} {step.attempt}\\n")
            if hang and step.attempt == 1:
                (marks / f"{name}.started").write_text("x")
                time.sleep(120)
            return {"step": name}
        return action

    with Flow("crash", run_id="r1", journal_dir=journal) as flow:
        flow.step("refresh", effect("refresh"))
        flow.step("train", effect("train", hang=True))
        flow.step("register", effect("register"))
    print(flow.outcome)
    """
)


def test_sigkill_mid_step_then_rerun_reattaches_and_skips_finished(tmp_path: Path) -> None:
    journal, marks = tmp_path / "journal", tmp_path / "marks"
    marks.mkdir()
    command = [sys.executable, "-c", FLOW_SCRIPT, str(journal), str(marks)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (marks / "train.started").exists():
        assert time.monotonic() < deadline, "flow never reached the train step"
        assert process.poll() is None
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "completed"
    effects = (marks / "effects.log").read_text().splitlines()
    assert effects == [
        "refresh crash-r1-refresh 1",
        "train crash-r1-train 1",  # killed here
        "train crash-r1-train 2",  # re-attached with the same key
        "register crash-r1-register 1",
    ]
