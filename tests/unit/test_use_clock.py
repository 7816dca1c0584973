"""``mlops_sdk.testing.use_clock``: scripts that build their own client wait on the test's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlops_sdk import ApprovalPolicy, ConfigurationError, MLOpsClient, TrainingJob
from mlops_sdk.backends.memory import reset_memory_stores
from mlops_sdk.core.clock import SystemClock, default_clock
from mlops_sdk.testing import FakeClock, use_clock


@pytest.fixture(autouse=True)
def _fresh_memory_stores() -> Iterator[None]:
    yield
    reset_memory_stores()


def _script_waiting_two_days() -> str:
    """What a user's script does: its own client from configuration, a request that times out in 2 days."""
    client = MLOpsClient.from_config(show_progress=False)
    code = Path("code")
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(
        "import pathlib, sys\npathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(sys.argv[1]) / 'MLmodel').write_text('flavors: {}')\n",
        encoding="utf-8",
    )
    job = TrainingJob(code="code", command="python train.py ${{outputs.model}}", outputs={"model": "mlflow_model"})
    version = client.models.register(client.training.begin_train(job).result(), name="m")
    policy = ApprovalPolicy(approvers=["alice"], timeout=timedelta(days=2), require_validation_passed=False)
    request = client.approvals.request(version, policy=policy)
    decision = client.approvals.begin_wait(request.id).result()
    client.close()
    return f"{decision.status} {decision.decided_at.isoformat() if decision.decided_at else ''}"


def test_a_script_building_its_own_client_waits_on_the_installed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_TARGET", "memory://use-clock")
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    clock = FakeClock(start=start)
    with use_clock(clock) as installed:
        assert installed is clock
        assert default_clock() is clock
        outcome = _script_waiting_two_days()
    status, decided_at = outcome.split(" ")
    assert status == "timed_out"
    # The two days passed on the fake clock (its sleeps), not on the wall clock.
    assert sum(clock.sleeps) >= timedelta(days=2).total_seconds()
    assert datetime.fromisoformat(decided_at) >= start + timedelta(days=2)
    assert datetime.fromisoformat(decided_at) < start + timedelta(days=3)
    assert isinstance(default_clock(), SystemClock)


def test_use_clock_nests_and_restores_on_error() -> None:
    outer, inner = FakeClock(), FakeClock()
    seen = []

    def fail_inside() -> None:
        with use_clock(inner):
            seen.append(default_clock())
            raise RuntimeError("boom")

    with use_clock(outer):
        with pytest.raises(RuntimeError, match="boom"):
            fail_inside()
        assert seen == [inner]
        assert default_clock() is outer
    assert isinstance(default_clock(), SystemClock)


def test_fake_clock_takes_timedeltas_and_refuses_going_back() -> None:
    clock = FakeClock()
    clock.advance(timedelta(hours=2))  # a TypeError from inside before
    clock.sleep(timedelta(minutes=1))
    assert clock.monotonic() == 7260.0
    assert clock.sleeps == [60.0]
    for bad in (-1, float("nan"), float("inf"), "5", None, True):
        with pytest.raises(ConfigurationError) as caught:
            clock.advance(bad)  # type: ignore[arg-type]
        assert caught.value.details["field"] == "seconds"
    clock.sleep(-5)  # a deadline already past: no wait, as before
    assert clock.monotonic() == 7260.0
