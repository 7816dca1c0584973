"""Shadow comparison on a real local endpoint: a known pair of models, agreement computed independently,
answers matched by correlation id, and promotion of the shadow through a guarded rollout."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.backends.local.serving.shadow import MAX_ROWS
from mlops_sdk.clients.deployments import DeploymentClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.deployments import Canary, Replace, Shadow
from mlops_sdk.models.guardrails import Guardrails
from tests.loadgen import LoadRun, build_request
from tests.local._deploy import COLUMNS, Models, save_models
from tests.local._guarded import LoadPacedClock

SETTINGS = {"show_progress": False, "poll_interval": 0.01}
ENDPOINT = "shadow-ep"
TOLERANCE = 0.5
RNG_ROWS = np.random.default_rng(21).normal(size=(200, 3)).round(3)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("shadow-models"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[Path]:
    """blue: model A (2a + b) live; green: model B (3a - c) mirrored at 50 %."""
    folder = tmp_path_factory.mktemp("shadow") / ".mlops"
    with MLOpsClient(f"local://{folder}", **SETTINGS) as setup:
        assert setup.deployments.begin_deploy(
            models.a, endpoint=ENDPOINT, deployment="blue", strategy=Replace()
        ).result()
        shadow = setup.deployments.begin_deploy(
            models.b, endpoint=ENDPOINT, deployment="green", strategy=Shadow(mirror_percent=50)
        ).result()
        assert shadow.mirror == {"green": 50}
    yield folder
    EndpointServer(folder / "endpoints" / ENDPOINT, ENDPOINT).stop()


def _send(server: EndpointServer, request_id: str) -> list[float]:
    info = server.info()
    assert info is not None
    body = json.dumps({"input_data": {"columns": COLUMNS, "data": RNG_ROWS.tolist()}})
    connection = http.client.HTTPConnection(info.host, info.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/score",
            body=body,
            headers={
                "Authorization": f"Bearer {server.keys()['primary_key']}",
                "Content-Type": "application/json",
                "x-ms-client-request-id": request_id,
            },
        )
        answer = connection.getresponse()
        data = json.loads(answer.read())
        assert answer.status == 200
        assert answer.getheader("azureml-model-deployment") == "blue"
        return [float(x) for x in data]
    finally:
        connection.close()


def test_shadow_report_on_a_known_pair_of_models(store: Path) -> None:
    server = EndpointServer(store / "endpoints" / ENDPOINT, ENDPOINT)
    answers = {f"req-{number}": _send(server, f"req-{number}") for number in range(12)}
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as deployments:
        deadline = time.monotonic() + 20
        report = deployments.shadow_report(ENDPOINT, tolerance=TOLERANCE)
        while report.rows < report.requests * MAX_ROWS or report.requests == 0:  # mirrors finish in workers
            assert time.monotonic() < deadline, "mirrored requests were not recorded"
            time.sleep(0.05)
            report = deployments.shadow_report(ENDPOINT, tolerance=TOLERANCE)
        pairs = deployments._svc().shadow_pairs(ENDPOINT, "green")  # type: ignore[attr-defined]

    # Independently: A(x) = 2a + b, B(x) = 3a - c, so shadow - live = a - b - c on every row. The
    # server keeps the first MAX_ROWS (100) rows of each 200-row request.
    kept = RNG_ROWS[:MAX_ROWS]
    a, b, c = kept[:, 0], kept[:, 1], kept[:, 2]
    difference = a - b - c
    expected_rate = float(np.mean(np.abs(difference) <= TOLERANCE))
    assert 0.05 < expected_rate < 0.95  # a pair that neither always agrees nor never does
    assert report.shadow == "green"
    assert report.live == ["blue"]
    assert 1 <= report.requests <= 12  # half the requests are mirrored, by the server's schedule
    assert report.rows == report.requests * MAX_ROWS
    assert report.agreement_rate == pytest.approx(expected_rate, abs=1e-9)
    assert report.difference["mean"] == pytest.approx(float(difference.mean()), abs=1e-6)
    assert report.difference["max_abs"] == pytest.approx(float(np.abs(difference).max()), abs=1e-6)
    assert report.live_errors == 0
    assert report.shadow_errors == 0
    assert report.live_latency.p50_ms is not None
    assert report.shadow_latency.p50_ms is not None
    # per-feature slices: quartiles of a, each with its own independently computed agreement
    slices_a = [item for item in report.slices if item.feature == "a"]
    assert len(slices_a) == 4
    assert sum(item.rows for item in slices_a) == report.rows
    edges = np.quantile(a, [0.25, 0.5, 0.75])
    quartile = np.searchsorted(edges, a, side="right")
    for number, item in enumerate(slices_a):
        members = quartile == number
        assert item.rows == report.requests * int(members.sum())
        assert item.agreement_rate == pytest.approx(float(np.mean(np.abs(difference[members]) <= TOLERANCE)))
    # answers are paired by correlation id: the live output of each pair is what that client received
    assert {pair["id"] for pair in pairs} <= set(answers)
    for pair in pairs:
        assert pair["live_output"] == pytest.approx(answers[pair["id"]][:MAX_ROWS])


def _guarded_promotion(store: Path, guardrails: Guardrails) -> tuple[object, dict[str, object], LoadRun]:
    server = EndpointServer(store / "endpoints" / ENDPOINT, ENDPOINT)
    info = server.info()
    assert info is not None
    rows = np.random.default_rng(5).normal(size=(101, 3)).round(4).tolist()
    requests = [
        build_request(
            info.host,
            info.port,
            "/score",
            json.dumps({"input_data": {"columns": COLUMNS, "data": [row]}}).encode(),
            key=server.keys()["primary_key"],
        )
        for row in rows
    ]
    load = LoadRun(info.host, info.port, requests, total=40_000, concurrency=4)  # stopped when done
    clock = LoadPacedClock(load, rate=10)
    load.start()
    try:
        with DeploymentClient(f"local://{store}", clock=clock, settings=SETTINGS) as deployments:
            result = deployments.begin_promote_shadow(
                ENDPOINT, strategy=Canary(percent=50, bake=30), guardrails=guardrails
            ).result()
    finally:
        load.stop()
        load.join(30)
    assert len(load.samples) < load.total, "the load budget ran out during the rollout: raise total"
    return result, server.admin("GET", "state"), load


def test_promoting_a_shifted_shadow_rolls_back_to_the_exact_maps_mirror_included(store: Path) -> None:
    guardrails = Guardrails(prediction_shift=0.25, window=30, check_interval=10, min_requests=50)
    result, state, load = _guarded_promotion(store, guardrails)
    assert result.rolled_back  # type: ignore[attr-defined]
    assert result.breach.guardrail == "prediction_shift"  # type: ignore[attr-defined]
    assert state["traffic"] == {"blue": 100, "green": 0}
    assert state["mirror"] == {"green": 50}  # the shadow is a shadow again
    assert "green" in state["deployments"]  # not created by the promotion, so not deleted by its rollback
    assert set(load.statuses()) == {200}


def test_promoting_the_shadow_makes_it_live_through_a_guarded_rollout(store: Path) -> None:
    guardrails = Guardrails(error_rate=0.01, p95_ms=50, window=30, check_interval=10, min_requests=50)
    result, state, load = _guarded_promotion(store, guardrails)
    assert result.succeeded, result.reason  # type: ignore[attr-defined]
    assert [step.percent for step in result.steps] == [50, 100]  # type: ignore[attr-defined]
    assert all(step.guardrails is not None for step in result.steps)  # type: ignore[attr-defined]
    assert state["traffic"] == {"blue": 0, "green": 100}
    assert state["mirror"] == {}
    assert set(load.statuses()) == {200}
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as deployments:
        with pytest.raises(ConfigurationError) as raised:
            deployments.shadow_report(ENDPOINT)  # nothing is mirrored any more
        assert raised.value.details["field"] == "deployment"
        with pytest.raises(ConfigurationError) as raised:
            deployments.shadow_report(ENDPOINT, "green", tolerance=-1)
        assert raised.value.details["field"] == "tolerance"
