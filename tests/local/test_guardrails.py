"""Guarded rollouts on real local endpoint servers under a bounded load.

A production deployment (``blue``, y = 2a + b) serves a steady load; a new deployment rolls out by
``Canary`` with guardrails. A model failing on 2 % of inputs, one 30 ms slower and one whose
predictions are shifted by a known amount each roll back during a bake, naming the guardrail that
tripped; a healthy one completes. Clients see no failure but the failing deployment's own 500s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.live_metrics import parse_metrics
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.clients.deployments import DeploymentClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.deployments import AllAtOnce, Canary, Linear, Replace
from mlops_sdk.models.guardrails import Guardrails
from tests.loadgen import LoadRun, build_request
from tests.local._guarded import GuardedModels, LoadPacedClock, payloads, save_guarded_models

SETTINGS = {"show_progress": False, "poll_interval": 0.01}
ENDPOINT = "guard-ep"
# Simulated seconds: each check looks at the last 60 s, every 10 s, of a 60 s bake per step; the
# load-paced clock makes one simulated second last 10 answers, so a bake needs ~600 real answers
# (~150 of them at the 25 % canary). The shift needs more rows than the rates: PSI over 10 bins of
# n rows carries ~9/n of sampling noise.
WINDOW = {"window": 60, "check_interval": 10, "min_requests": 80, "min_predictions": 120}
RATE = 10.0


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> GuardedModels:
    return save_guarded_models(tmp_path_factory.mktemp("guarded-models"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, models: GuardedModels) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("guarded") / ".mlops"
    with MLOpsClient(f"local://{folder}", **SETTINGS) as setup:
        first = setup.deployments.begin_deploy(models.base, endpoint=ENDPOINT, deployment="blue", strategy=Replace())
        assert first.result().traffic == {"blue": 100}
    yield folder
    EndpointServer(folder / "endpoints" / ENDPOINT, ENDPOINT).stop()


def _rollout(store: Path, model: Path, name: str, guardrails: Guardrails) -> tuple[Any, LoadRun, dict[str, Any]]:
    """Roll ``model`` out as ``name`` by Canary(25 %) under load; the result, the load run and the final state."""
    server = EndpointServer(store / "endpoints" / ENDPOINT, ENDPOINT)
    info = server.info()
    assert info is not None
    key = server.keys()["primary_key"]
    requests = [build_request(info.host, info.port, "/score", body, key=key) for body in payloads()]
    # The clock advances with the answers: a spent budget would let simulated time run on without
    # traffic and end the bake as "insufficient_traffic". A slow provisioning (the new model's first
    # load) once spent 12,000 requests before the bake began; stop() ends the load early anyway.
    load = LoadRun(info.host, info.port, requests, total=80_000, concurrency=4)
    clock = LoadPacedClock(load, rate=RATE)
    load.start()
    try:
        with DeploymentClient(f"local://{store}", clock=clock, settings=SETTINGS) as deployments:
            result = deployments.begin_deploy(
                model, endpoint=ENDPOINT, deployment=name, strategy=Canary(percent=25, bake=60), guardrails=guardrails
            ).result()
    finally:
        load.stop()
        load.join(30)
    assert len(load.samples) < load.total, "the load budget ran out during the rollout: raise total"
    return result, load, server.admin("GET", "state")


def _only_own_failures(load: LoadRun, failing: str | None) -> None:
    """Every answer is a 200, except 500s of the ``failing`` deployment (its own model errors)."""
    bad = [(s.status, s.deployment) for s in load.samples if s.status != 200]
    allowed = [(500, failing)] if failing else []
    assert all(item in allowed for item in bad), f"client-visible failures: {sorted(set(bad))}"


def _rolled_back(result: Any, state: dict[str, Any], name: str, guardrail: str) -> None:
    assert not result.succeeded
    assert result.rolled_back
    assert result.breach is not None
    assert result.breach.guardrail == guardrail, result.reason
    assert result.breach.observed > result.breach.threshold
    assert result.breach.window_end > result.breach.window_start
    assert result.breach.requests >= WINDOW["min_requests"]
    assert guardrail in (result.reason or "")
    assert result.traffic == {"blue": 100, name: 0}  # the restored map (the new deployment then removed)
    assert state["traffic"] == {"blue": 100}  # exactly the map before the rollout
    assert name not in state["deployments"]  # the failed deployment was removed


def test_model_failing_on_two_percent_of_inputs_rolls_back_on_error_rate(store: Path, models: GuardedModels) -> None:
    result, load, state = _rollout(store, models.failing, "failing", Guardrails(error_rate=0.01, **WINDOW))
    _rolled_back(result, state, "failing", "error_rate")
    assert 0.01 < result.breach.observed < 0.2
    _only_own_failures(load, "failing")
    assert load.statuses()[500] > 0  # the failing deployment really answered 500s, and the guardrail saw them


def test_model_30ms_slower_rolls_back_on_p95(store: Path, models: GuardedModels) -> None:
    result, load, state = _rollout(store, models.slow, "slow", Guardrails(p95_ms=20, **WINDOW))
    _rolled_back(result, state, "slow", "p95_ms")
    assert result.breach.observed >= 30  # the model sleeps 30 ms per request
    _only_own_failures(load, None)


def test_shifted_predictions_roll_back_on_prediction_shift(store: Path, models: GuardedModels) -> None:
    result, load, state = _rollout(store, models.shifted, "shifted", Guardrails(prediction_shift=0.25, **WINDOW))
    _rolled_back(result, state, "shifted", "prediction_shift")
    assert result.breach.observed > 0.5  # a shift of ~0.9 standard deviations is a PSI well above 0.5
    _only_own_failures(load, None)


def test_healthy_model_completes_with_every_guardrail_holding(store: Path, models: GuardedModels) -> None:
    guardrails = Guardrails(error_rate=0.01, p95_ms=20, prediction_shift=0.25, **WINDOW)
    result, load, state = _rollout(store, models.healthy, "healthy", guardrails)
    assert result.succeeded, result.reason
    assert result.breach is None
    assert state["traffic"] == {"blue": 0, "healthy": 100}
    assert [step.percent for step in result.steps] == [25, 100]
    for step in result.steps:  # each bake was watched, with a verdict on enough traffic
        assert step.guardrails is not None
        assert step.guardrails.requests >= WINDOW["min_requests"]
        assert step.guardrails.values["error_rate"] == 0
        assert step.guardrails.values["p95_ms"] < 20
        assert step.guardrails.values["prediction_shift"] < 0.25
    _only_own_failures(load, None)
    # the server's /metrics counted the new deployment's answers by status, with both histograms
    counters = parse_metrics(_metrics_text(store), source="live")
    assert counters["healthy"]["requests"] > 0
    assert counters["healthy"]["errors"] == 0
    assert counters["healthy"]["latency"][-1][1] == counters["healthy"]["requests"]
    assert counters["healthy"]["predictions"][-1][1] == counters["healthy"]["requests"]  # one row each


def _metrics_text(store: Path) -> str:
    server = EndpointServer(store / "endpoints" / ENDPOINT, ENDPOINT)
    info = server.info()
    assert info is not None
    answer = server._request(
        info, "GET", "/metrics", headers={"Authorization": f"Bearer {server.keys()['primary_key']}"}
    )
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    unauthorized = server._request(info, "GET", "/metrics")
    assert unauthorized.status == 401
    return answer.body.decode()


def test_too_little_traffic_extends_the_bake_then_fails_closed(store: Path, models: GuardedModels) -> None:
    """No load at all: no verdict is possible, the bake is extended up to its limit, then rolled back."""
    server = EndpointServer(store / "endpoints" / ENDPOINT, ENDPOINT)
    before = server.admin("GET", "state")["traffic"]
    load = LoadRun("127.0.0.1", 1, [b""], total=0)  # nothing is sent: the clock just jumps
    load.start()
    load.join(5)
    clock = LoadPacedClock(load, rate=RATE, cap=0.0)
    guardrails = Guardrails(error_rate=0.01, max_extension=40, **WINDOW)
    with DeploymentClient(f"local://{store}", clock=clock, settings=SETTINGS) as deployments:
        result = deployments.begin_deploy(
            models.healthy, endpoint=ENDPOINT, deployment="quiet", strategy=AllAtOnce(bake=60), guardrails=guardrails
        ).result()
    assert result.rolled_back
    assert result.breach is not None
    assert result.breach.guardrail == "insufficient_traffic"
    assert result.breach.threshold == WINDOW["min_requests"]
    assert result.breach.observed < WINDOW["min_requests"]
    assert "error_rate" in result.breach.detail
    assert server.admin("GET", "state")["traffic"] == before
    finished, started = result.finished_at, result.started_at
    assert finished is not None
    assert started is not None
    assert (finished - started).total_seconds() >= 60 + 40  # the bake, then the whole extension


def test_strategies_and_guardrails_refuse_bad_input_naming_the_field(store: Path, models: GuardedModels) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Canary(percent=100)
    assert caught.value.details["field"] == "Canary.percent"
    with pytest.raises(ConfigurationError) as caught:
        Linear(step_percent=0, interval=10)
    assert caught.value.details["field"] == "Linear.step_percent"
    with pytest.raises(ConfigurationError) as caught:
        Guardrails(p95_ms=-5)
    assert caught.value.details["field"] == "Guardrails.p95_ms"
    with pytest.raises(ConfigurationError) as caught:
        Guardrails(min_requests=10)
    assert "at least one threshold" in caught.value.message
    with pytest.raises(ConfigurationError) as caught:
        Guardrails(prediction_shift=1.5, shift_metric="js")
    assert "prediction_shift" in caught.value.message
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as deployments:
        with pytest.raises(ConfigurationError) as caught:
            deployments.begin_deploy(
                models.healthy, endpoint=ENDPOINT, strategy=Replace(), guardrails={"error_rate": 0.01}
            )
        assert caught.value.details["field"] == "strategy.bake"
        with pytest.raises(ConfigurationError) as caught:
            deployments.begin_deploy(models.healthy, endpoint=ENDPOINT, strategy=AllAtOnce(bake=5), guardrails=3)
        assert caught.value.details["field"] == "guardrails"
    assert Linear(step_percent=30, interval=10).steps == [30, 60, 90, 100]
    assert Canary(percent=5, bake=1).steps == [5, 100]


def test_unreadable_metrics_fail_closed(tmp_path: Path, models: GuardedModels, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server with its metrics turned off cannot be watched: the guarded rollout rolls back at once."""
    from mlops_sdk.testing import FakeClock

    monkeypatch.setenv("MLOPS_ENDPOINT_METRICS", "0")  # the endpoint's server inherits it
    folder = tmp_path / ".mlops"
    try:
        with DeploymentClient(f"local://{folder}", clock=FakeClock(), settings=SETTINGS) as deployments:
            deployments.begin_deploy(models.base, endpoint="blind-ep", deployment="blue", strategy=Replace()).result()
            result = deployments.begin_deploy(
                models.healthy,
                endpoint="blind-ep",
                deployment="green",
                strategy=AllAtOnce(bake=60),
                guardrails=Guardrails(error_rate=0.01, **WINDOW),
            ).result()
            state = deployments.get_endpoint("blind-ep")
    finally:
        EndpointServer(folder / "endpoints" / "blind-ep", "blind-ep").stop()
    assert result.rolled_back
    assert result.breach is not None
    assert result.breach.guardrail == "metrics_unavailable"
    assert "metrics are turned off" in result.breach.detail
    assert {name: share for name, share in state.traffic.items() if share} == {"blue": 100}
    assert [item.name for item in state.deployments] == ["blue"]
