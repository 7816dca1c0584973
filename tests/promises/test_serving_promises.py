"""Black-box tests of the serving promises, written from the public docs alone.

Pages: docs/deployments.md, docs/monitoring.md, docs/operations.md, docs/secrets.md and the README
sections on endpoints, scoring, rollout, monitoring and the ``mlops endpoint/deploy/monitor``
commands. Only the public Python API and the ``mlops`` command line are used, on ``memory://``
(rollout logic on a fake clock) and ``local://`` (a real endpoint server on 127.0.0.1) in temporary
folders. Each test names the promise it holds the product to.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import (
    AllAtOnce,
    BlueGreen,
    Canary,
    Capture,
    ConfigurationError,
    ConflictError,
    DataDrift,
    DataQuality,
    Guardrails,
    Linear,
    MLOpsClient,
    ModelPerformance,
    Monitor,
    MonitorReport,
    OperationFailedError,
    OperationTimeoutError,
    Replace,
    ResourceNotFoundError,
    Secret,
    ServiceResponseError,
    Shadow,
    SmokeTest,
)
from mlops_sdk.testing import FakeClock

COLUMNS = ["a", "b", "c"]
ROW = [1.0, 2.0, 3.0]
PAYLOAD = {"input_data": {"columns": COLUMNS, "data": [ROW]}}


def _save_linear_model(path: Path, coef: list[float], intercept: float) -> Path:
    """An MLflow model folder of a LinearRegression with a numeric signature (a, b, c)."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=COLUMNS)
    y = x.to_numpy() @ np.asarray(coef) + intercept
    model = LinearRegression().fit(x, y)
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(x, y), pip_requirements=["scikit-learn"])
    return path


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different models: ``one`` (y = a + b + c) and ``two`` (y = 2a + b)."""
    root = tmp_path_factory.mktemp("models")
    return {
        "one": _save_linear_model(root / "one", [1.0, 1.0, 1.0], 0.0),
        "two": _save_linear_model(root / "two", [2.0, 1.0, 0.0], 0.0),
        "three": _save_linear_model(root / "three", [0.0, 0.0, 1.0], 1.0),
    }


@pytest.fixture
def mem() -> Iterator[MLOpsClient]:
    """A fresh memory:// client on a fake clock."""
    client = MLOpsClient(f"memory://promises-{uuid.uuid4().hex[:8]}", clock=FakeClock(), show_progress=False)
    yield client
    client.close()


def _smoke(**kwargs: Any) -> SmokeTest:
    return SmokeTest(payload=PAYLOAD, shape=[1], dtype="number", **kwargs)


# --------------------------------------------------------------------------------------------------
# Strategies and spec validation (docs/deployments.md "Strategies", docs/errors.md "Specs refuse ...")
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Canary(percent=100), "Canary.percent"),
        (lambda: Canary(percent=0), "Canary.percent"),
        (lambda: Linear(step_percent=51), "Linear.step_percent"),
        (lambda: Linear(step_percent=0), "Linear.step_percent"),
        (lambda: AllAtOnce(bake=-1), "AllAtOnce.bake"),
        (lambda: Guardrails(error_rate=-0.1), "Guardrails.error_rate"),
        (lambda: Canary(percent=5, bake=math.inf), "Canary.bake"),
        (lambda: Linear(step_percent=10, interval=math.inf), "Linear.interval"),
        (lambda: AllAtOnce(bake=math.inf), "AllAtOnce.bake"),
        (lambda: BlueGreen(bake_time=math.inf), "BlueGreen.bake_time"),
        (lambda: BlueGreen(bake_time=math.nan), "BlueGreen.bake_time"),
        (lambda: Guardrails(error_rate=0.1, window=math.inf), "Guardrails.window"),
        (lambda: Guardrails(error_rate=0.1, check_interval=math.inf), "Guardrails.check_interval"),
        (lambda: Guardrails(p95_ms=math.inf), "Guardrails.p95_ms"),
        (lambda: SmokeTest(payload=PAYLOAD, shape=[1], ready_deadline=math.inf), "SmokeTest.ready_deadline"),
        (lambda: SmokeTest(payload=PAYLOAD, expected=[1.0], tolerance=math.inf), "SmokeTest.tolerance"),
        (
            lambda: Canary(
                percent=5, bake=60, smoke_test={"payload": PAYLOAD, "shape": [1], "retry_interval": math.inf}
            ),
            "Canary.smoke_test.retry_interval",
        ),
    ],
)
def test_invalid_strategy_values_name_the_field(build: Any, field: str) -> None:
    """deployments.md: invalid values raise ConfigurationError with details["field"] (Canary.percent ...);
    a bake, window, interval or deadline that is not finite would be a rollout that never ends."""
    with pytest.raises(ConfigurationError) as info:
        build()
    assert info.value.details["field"] == field


@pytest.mark.parametrize(
    ("strategy", "field", "line"),
    [
        ({"kind": "canary", "percent": 100}, "Canary.percent", "invalid Canary: percent"),
        ({"kind": "canary", "percnt": 5}, "Canary.percnt", "did you mean `percent`"),
        ({"kind": "linear", "step_percent": 70}, "Linear.step_percent", "invalid Linear: step_percent"),
        ({"kind": "all_at_once", "bake": -1}, "AllAtOnce.bake", "invalid AllAtOnce: bake"),
        ({"steps": "x"}, "BlueGreen.steps", "invalid BlueGreen: steps"),
        ({"kind": "shadow", "mirror_percent": 0}, "Shadow.mirror_percent", "invalid Shadow: mirror_percent"),
        ({"kind": "allatonce"}, "strategy", "all_at_once"),
    ],
)
def test_invalid_strategy_dicts_name_the_field(
    mem: MLOpsClient, model_dirs: dict[str, Path], strategy: dict[str, Any], field: str, line: str
) -> None:
    """deployments.md: strategy={"kind": "canary", "percent": 100} -> details["field"] == "Canary.percent";
    errors.md: the same dict given to a client method gives the class's own line."""
    with pytest.raises(ConfigurationError) as info:
        mem.deployments.begin_deploy(model_dirs["one"], endpoint="dicts", deployment="one", strategy=strategy)
    assert info.value.details["field"] == field
    assert line in str(info.value)
    assert [e.name for e in mem.deployments.list_endpoints()] == []  # nothing was created


def test_misspelled_spec_keywords_are_refused_with_a_suggestion() -> None:
    """errors.md: BlueGreen(step=...) / Capture(sampel_rate=...) name the class, key and closest field."""
    with pytest.raises(ConfigurationError, match=r"BlueGreen.*step.*did you mean `steps`"):
        BlueGreen(step=[10, 100])  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"Capture.*sampel_rate.*did you mean `sample_rate`"):
        Capture(sampel_rate=0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize("rate", [0, -0.5, 1.5, math.nan])
def test_capture_sample_rate_must_be_in_0_1(rate: float) -> None:
    """monitoring.md: sample_rate is a share of requests (0 < rate <= 1)."""
    with pytest.raises(ConfigurationError):
        Capture(sample_rate=rate)


def test_capture_needs_inputs_or_outputs() -> None:
    """monitoring.md: capture the input rows, the predictions (at least one)."""
    with pytest.raises(ConfigurationError):
        Capture(inputs=False, outputs=False)


def test_smoke_test_must_assert_something() -> None:
    """deployments.md: a SmokeTest needs at least one of expected, predicate, shape/dtype."""
    with pytest.raises(ConfigurationError):
        SmokeTest(payload=PAYLOAD)


@pytest.mark.parametrize("strategy", [Replace(), BlueGreen(bake_time=0)])
def test_guardrails_need_a_bake(mem: MLOpsClient, model_dirs: dict[str, Path], strategy: Any) -> None:
    """deployments.md: Replace() or BlueGreen(bake_time=0) with guardrails -> field strategy.bake."""
    with pytest.raises(ConfigurationError) as info:
        mem.deployments.begin_deploy(
            model_dirs["one"],
            endpoint="bakes",
            deployment="one",
            strategy=strategy,
            guardrails=Guardrails(error_rate=0.1),
        )
    assert info.value.details["field"] == "strategy.bake"
    assert [e.name for e in mem.deployments.list_endpoints()] == []


def test_memory_refuses_guardrails_it_cannot_measure_before_anything_changes(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """deployments.md: a backend that cannot measure a guardrail refuses it before anything changes."""
    first = mem.deployments.begin_deploy(model_dirs["one"], endpoint="guarded", deployment="one").result()
    assert first.traffic == {"one": 100}
    history_before = mem.deployments.history("guarded")
    with pytest.raises(ConfigurationError) as info:
        mem.deployments.begin_deploy(
            model_dirs["two"],
            endpoint="guarded",
            deployment="two",
            strategy=Canary(percent=10, bake=60),
            guardrails=Guardrails(error_rate=0.01),
        ).result()
    assert info.value.details["field"] == "guardrails"  # memory refuses guardrails as a whole
    endpoint = mem.deployments.get_endpoint("guarded")
    assert endpoint.traffic == {"one": 100}
    assert "two" not in [d.name for d in endpoint.deployments]
    assert len(mem.deployments.history("guarded")) == len(history_before)


# --------------------------------------------------------------------------------------------------
# Rollouts on memory:// (same engine as local), fake clock
# --------------------------------------------------------------------------------------------------


def test_first_deployment_gets_all_traffic_at_every_step(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: on an endpoint's first deployment every step gives it 100 %."""
    result = mem.deployments.begin_deploy(
        model_dirs["one"],
        endpoint="first",
        deployment="one",
        strategy=BlueGreen(steps=[10, 50, 100], smoke_test=_smoke()),
    ).result()
    assert result.succeeded
    assert not result.rolled_back
    assert result.changed
    assert result.traffic == {"one": 100}
    traffic_changes = [h.traffic for h in mem.deployments.history("first") if h.action not in ("create", "deploy")]
    assert traffic_changes
    assert all(t == {"one": 100} for t in traffic_changes)


@pytest.mark.parametrize(
    ("strategy", "maps", "bakes_checked", "bakes_unchecked"),
    [
        (Canary(percent=5, bake=10), [5, 100], 2, 1),
        (Linear(step_percent=30, interval=10), [30, 60, 90, 100], 4, 3),
        (AllAtOnce(bake=10), [100], 1, 0),
        (BlueGreen(steps=[10, 100], bake_time=timedelta(seconds=10)), [10, 100], 2, 1),
        (Replace(), [100], 0, 0),
    ],
)
def test_strategy_steps_and_bakes(
    model_dirs: dict[str, Path], strategy: Any, maps: list[int], bakes_checked: int, bakes_unchecked: int
) -> None:
    """deployments.md: each strategy's steps (Linear: step_percent, twice that, ... 100); each step is
    shift -> smoke test -> bake; the last step's bake and the final smoke test run when something checks
    (a smoke test here), else the rollout ends at 100 %. Bakes take seconds or a timedelta, on the client's clock."""
    for smoke, bakes in ((_smoke(), bakes_checked), (None, bakes_unchecked)):
        clock = FakeClock()
        with MLOpsClient("memory://", clock=clock, show_progress=False) as client:
            client.deployments.begin_deploy(model_dirs["one"], endpoint="steps", deployment="one").result()
            slept = sum(clock.sleeps)
            result = client.deployments.begin_deploy(
                model_dirs["two"],
                endpoint="steps",
                deployment="two",
                strategy=strategy.model_copy(update={"smoke_test": smoke}),
            ).result()
            assert [step.percent for step in result.steps] == maps
            assert [step.traffic["two"] for step in result.steps] == maps
            assert all(sum(step.traffic.values()) == 100 for step in result.steps)
            assert sum(clock.sleeps) - slept == pytest.approx(10.0 * bakes)
            assert result.traffic["two"] == 100


def test_local_and_memory_accept_resources_and_say_what_they_ignored(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """deployments.md: every Resources field is accepted; result.resources_ignored names each with a reason;
    result.resources echoes the request; bad values name resources and the field before anything is sent."""
    from mlops_sdk import Resources

    asked = Resources(instance_type="Standard_F4s_v2", instance_count=2)
    result = mem.deployments.begin_deploy(
        model_dirs["one"], endpoint="sized", deployment="one", resources=asked
    ).result()
    assert set(result.resources_ignored) == {"instance_type", "instance_count"}
    assert all(reason for reason in result.resources_ignored.values())
    assert result.resources == asked
    for bad, field in (({"instance_count": 0}, "instance_count"), ({"instance_type": "x"}, "instance_type")):
        with pytest.raises(ConfigurationError, match=field) as info:
            mem.deployments.begin_deploy(model_dirs["two"], endpoint="sized", deployment="two", resources=bad)
        assert info.value.details["field"] == "resources"
    assert [d.name for d in mem.deployments.get_endpoint("sized").deployments] == ["one"]


def test_rerunning_the_same_deploy_changes_nothing(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: re-running the same deploy changes nothing and returns changed=False."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="again", deployment="one").result()
    history = mem.deployments.history("again")
    again = mem.deployments.begin_deploy(model_dirs["one"], endpoint="again", deployment="one").result()
    assert again.changed is False
    assert again.traffic == {"one": 100}
    assert len(mem.deployments.history("again")) == len(history)


def test_a_different_model_under_a_live_deployment_name_is_a_conflict(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """deployments.md: deploying a different model under a deployment name serving traffic -> ConflictError."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="clash", deployment="live").result()
    with pytest.raises(ConflictError) as info:
        mem.deployments.begin_deploy(model_dirs["two"], endpoint="clash", deployment="live").result()
    assert info.value.status_code == 409
    assert mem.deployments.invoke("clash", PAYLOAD) == pytest.approx([6.0])


def _deploy_split(mem: MLOpsClient, model_dirs: dict[str, Path], endpoint: str) -> None:
    """Leave ``endpoint`` at {one: 70, two: 30}: a rollout whose second smoke test fails, no rollback."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint=endpoint, deployment="one").result()
    calls = {"n": 0}

    def first_only(_: Any) -> bool:
        calls["n"] += 1
        return calls["n"] <= 1  # the first step's smoke test passes, the next one fails

    with pytest.raises(OperationFailedError):
        mem.deployments.begin_deploy(
            model_dirs["two"],
            endpoint=endpoint,
            deployment="two",
            strategy=BlueGreen(
                steps=[30, 100], smoke_test=SmokeTest(payload=PAYLOAD, predicate=first_only), rollback_on_failure=False
            ),
        ).result()


def test_rollback_on_failure_false_fails_and_leaves_traffic(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: with rollback_on_failure=False the operation fails and traffic stays where it was."""
    _deploy_split(mem, model_dirs, "split")
    assert mem.deployments.get_endpoint("split").traffic == {"one": 70, "two": 30}


def test_a_step_keeps_the_other_deployments_proportions(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: with {a: 70, b: 30}, a 50 % step of c gives {a: 35, b: 15, c: 50}."""
    _deploy_split(mem, model_dirs, "props")
    mem.deployments.begin_deploy(
        model_dirs["three"],
        endpoint="props",
        deployment="three",
        strategy=BlueGreen(steps=[50, 100], smoke_test=_smoke()),
    ).result()
    maps = [h.traffic for h in mem.deployments.history("props")]
    assert {"one": 35, "two": 15, "three": 50} in maps
    assert maps[-1] == {"one": 0, "two": 0, "three": 100} or maps[-1] == {"three": 100}
    for traffic in maps:
        if traffic:
            assert sum(traffic.values()) == 100


def test_failed_smoke_test_rolls_back_to_the_previous_map(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: a failed check restores the previous map, deletes the new deployment, is a result."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="rollb", deployment="one").result()
    result = mem.deployments.begin_deploy(
        model_dirs["two"],
        endpoint="rollb",
        deployment="two",
        strategy=BlueGreen(steps=[10, 100], smoke_test=SmokeTest(payload=PAYLOAD, expected=[123.0])),
    ).result()
    assert result.rolled_back is True
    assert result.reason
    endpoint = mem.deployments.get_endpoint("rollb")
    assert endpoint.traffic == {"one": 100}
    assert "two" not in [d.name for d in endpoint.deployments]
    assert "smoke_failed" in [h.action for h in mem.deployments.history("rollb")]
    with pytest.raises(OperationFailedError):
        result.raise_for_rollback()


def test_keep_failed_keeps_the_rolled_back_deployment(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: the new deployment is deleted on rollback unless keep_failed=True."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="keepf", deployment="one").result()
    result = mem.deployments.begin_deploy(
        model_dirs["two"],
        endpoint="keepf",
        deployment="two",
        strategy=BlueGreen(steps=[100], smoke_test=SmokeTest(payload=PAYLOAD, expected=[123.0]), keep_failed=True),
    ).result()
    assert result.rolled_back
    endpoint = mem.deployments.get_endpoint("keepf")
    assert endpoint.traffic.get("one") == 100
    assert endpoint.traffic.get("two", 0) == 0
    assert "two" in [d.name for d in endpoint.deployments]


def test_rollback_restores_the_previous_production_deployment(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: begin_rollback puts the previous production deployment back to 100 %."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="back", deployment="one").result()
    mem.deployments.begin_deploy(model_dirs["two"], endpoint="back", deployment="two").result()
    assert mem.deployments.invoke("back", PAYLOAD) == pytest.approx([4.0])
    mem.deployments.begin_rollback("back").result()
    assert mem.deployments.get_endpoint("back").traffic.get("one") == 100
    assert mem.deployments.invoke("back", PAYLOAD) == pytest.approx([6.0])
    assert mem.deployments.invoke("back", PAYLOAD, deployment="two") == pytest.approx([4.0])


def test_weighted_routing_is_exact_per_hundred(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """testing.md/deployments.md: with {blue: 90, green: 10} every 100 requests send exactly 10 to green."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="wrr", deployment="blue").result()
    with pytest.raises(OperationFailedError):
        mem.deployments.begin_deploy(
            model_dirs["two"],
            endpoint="wrr",
            deployment="green",
            strategy=BlueGreen(
                steps=[10, 100],
                smoke_test=SmokeTest(payload=PAYLOAD, predicate=_passes_n(1)),
                rollback_on_failure=False,
            ),
        ).result()
    assert mem.deployments.get_endpoint("wrr").traffic == {"blue": 90, "green": 10}
    answers = [mem.deployments.invoke("wrr", PAYLOAD)[0] for _ in range(100)]
    assert sum(1 for a in answers if a == pytest.approx(4.0)) == 10


def _passes_n(n: int) -> Any:
    calls = {"n": 0}

    def predicate(_: Any) -> bool:
        calls["n"] += 1
        return calls["n"] <= n

    return predicate


def test_history_records_every_change_and_survives_delete(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: every change is a HistoryEntry with the whole map; delete_endpoint keeps history."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="hist", deployment="one").result()
    entries = mem.deployments.history("hist")
    assert entries
    assert all(e.by and e.at for e in entries)
    assert entries == sorted(entries, key=lambda e: e.at)
    mem.deployments.delete_endpoint("hist")
    with pytest.raises(ResourceNotFoundError):
        mem.deployments.get_endpoint("hist")
    assert len(mem.deployments.history("hist")) >= len(entries)


def test_memory_logs_and_rollbacks_name_what_exists(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """errors.md: a name that names nothing is ResourceNotFoundError listing what exists; a failed
    rollback's message names what failed (no 'None' standing in for a missing target)."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="logs", deployment="one").result()
    with pytest.raises(ResourceNotFoundError, match=r"deployments: \['one'\]"):
        mem.deployments.get_logs("logs", deployment="nope")
    assert "one" in mem.deployments.get_logs("logs", deployment="one")
    with pytest.raises(OperationFailedError) as info:
        mem.deployments.begin_rollback("logs").result()
    assert "None" not in str(info.value)
    assert "no previous production deployment" in str(info.value)
    history = mem.deployments.history("logs")
    with pytest.raises(ResourceNotFoundError, match=r"deployments: \['one'\]"):
        mem.deployments.begin_rollback("logs", to="nope")
    with pytest.raises(ResourceNotFoundError, match=r"deployments: \['one'\]"):
        mem.deployments.begin_promote_shadow("logs", "nope")
    assert mem.deployments.history("logs") == history  # refused before anything ran


def test_memory_endpoints_cannot_be_stopped(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """testing.md: stop_endpoint raises ConfigurationError on memory://."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="nostop", deployment="one").result()
    with pytest.raises(ConfigurationError):
        mem.deployments.stop_endpoint("nostop")


def test_bad_input_is_refused_naming_row_and_column(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md/testing.md: bad input is a 400 naming the row and column (both from 0)."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="badin", deployment="one").result()
    bad = {"input_data": {"columns": COLUMNS, "data": [ROW, [1.0, True, 3.0]]}}
    with pytest.raises(ServiceResponseError) as info:
        mem.deployments.invoke("badin", bad)
    assert info.value.status_code == 400
    assert "row 1, column 'b'" in str(info.value)
    with pytest.raises(ServiceResponseError) as info:
        mem.deployments.invoke("badin", {"input_data": {"columns": [*COLUMNS, "d"], "data": [[*ROW, 4.0]]}})
    assert info.value.status_code == 400
    assert "unknown column" in str(info.value)
    with pytest.raises(ServiceResponseError) as info:
        mem.deployments.invoke("badin", {"input_data": {"columns": COLUMNS, "data": []}})
    assert info.value.status_code == 400
    assert "no rows" in str(info.value)


def test_keys_are_secret_strings(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: EndpointKeys' primary/secondary are SecretStr shown ***; regenerate replaces one."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="keys", deployment="one").result()
    keys = mem.deployments.get_keys("keys")
    primary = keys.primary_key.get_secret_value()
    assert primary
    assert primary not in repr(keys)
    assert primary not in str(keys)
    assert "***" in repr(keys)
    new = mem.deployments.regenerate_keys("keys", key="secondary")
    assert new.primary_key.get_secret_value() == primary
    assert new.secondary_key.get_secret_value() != keys.secondary_key.get_secret_value()
    with pytest.raises(ConfigurationError):
        mem.deployments.regenerate_keys("keys", key="tertiary")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Operations (docs/operations.md)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [math.nan, -1, math.inf, "5", True])
def test_operation_timeouts_are_checked(mem: MLOpsClient, model_dirs: dict[str, Path], timeout: Any) -> None:
    """operations.md: wait/result(timeout=) take None or a finite number >= 0, also once finished."""
    op = mem.deployments.begin_deploy(model_dirs["one"], endpoint="tmo", deployment="one")
    op.result()
    with pytest.raises(ConfigurationError):
        op.result(timeout=timeout)
    with pytest.raises(ConfigurationError):
        op.wait(timeout=timeout)


def test_a_timed_out_rollout_keeps_running_and_resumes_from_its_token(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """operations.md: OperationTimeoutError carries the continuation token; resuming finishes the work."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="resume", deployment="one").result()
    op = mem.deployments.begin_deploy(
        model_dirs["two"], endpoint="resume", deployment="two", strategy=BlueGreen(steps=[10, 50, 100], bake_time=600)
    )
    with pytest.raises(OperationTimeoutError) as info:
        op.result(timeout=60)
    token = info.value.details["continuation_token"]
    assert isinstance(token, str)
    assert json.loads(token)
    resumed = mem.resume_operation(token)
    result = resumed.result()
    assert result.traffic.get("two") == 100
    assert mem.deployments.get_endpoint("resume").traffic.get("two") == 100


# --------------------------------------------------------------------------------------------------
# The local endpoint server (docs/deployments.md "The local endpoint server", "Operating endpoints")
# --------------------------------------------------------------------------------------------------

ENDPOINT = "served"


class Served:
    """The module's local endpoint: ``one`` live with capture, ``two`` a 50 % shadow."""

    def __init__(self, client: MLOpsClient, store: Path, models: dict[str, Path]) -> None:
        self.client = client
        self.store = store
        self.models = models
        self.folder = store / "endpoints" / ENDPOINT

    @property
    def url(self) -> str:
        return self.client.deployments.get_endpoint(ENDPOINT).scoring_uri.rsplit("/", 1)[0]

    def key(self) -> str:
        return self.client.deployments.get_keys(ENDPOINT).primary_key.get_secret_value()

    def request(
        self,
        path: str,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        *,
        method: str | None = None,
        key: str | None = "primary",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to the server; returns (status, lower-cased headers, body)."""
        data: bytes | None
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        sent = {"Content-Type": content_type, **(headers or {})}
        if key == "primary":
            sent["Authorization"] = f"Bearer {self.key()}"
        elif key is not None:
            sent["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)  # noqa: S310 (loopback http)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, model_dirs: dict[str, Path]) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("store") / ".mlops"
    client = MLOpsClient(f"local://{store}", show_progress=False)
    try:
        client.deployments.begin_deploy(
            model_dirs["one"], endpoint=ENDPOINT, deployment="one", capture=Capture(sample_rate=1.0)
        ).result(timeout=120)
        client.deployments.begin_deploy(
            model_dirs["two"],
            endpoint=ENDPOINT,
            deployment="two",
            strategy=Shadow(mirror_percent=50),
            capture=Capture(sample_rate=1.0),
        ).result(timeout=120)
        yield Served(client, store, model_dirs)
    finally:
        try:
            client.deployments.delete_endpoint(ENDPOINT)
        finally:
            client.close()


def test_local_endpoint_folder_layout(served: Served) -> None:
    """deployments.md: config.json (127.0.0.1), secrets.json 0600, server.json, state.json, models/, logs/."""
    config = json.loads((served.folder / "config.json").read_text())
    assert config["host"] == "127.0.0.1"
    assert stat.S_IMODE((served.folder / "secrets.json").stat().st_mode) == 0o600
    server = json.loads((served.folder / "server.json").read_text())
    assert server["pid"] > 0
    assert str(server["port"]) in served.url
    state = json.loads((served.folder / "state.json").read_text())
    assert "one" in json.dumps(state)
    assert "two" in json.dumps(state)
    copies = sorted(p.name for p in (served.folder / "models").iterdir())
    assert any(name.startswith("one-") for name in copies)
    assert any(name.startswith("two-") for name in copies)
    assert (served.folder / "logs" / "server.log").is_file()
    assert served.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("path", ["/ping", "/health", "/version"])
def test_probes_need_no_key_and_reveal_no_secret(served: Served, path: str) -> None:
    """deployments.md: GET /ping, /health, /version need no key and reveal nothing secret."""
    status, _, body = served.request(path, method="GET", key=None)
    assert status == 200
    secrets = json.loads((served.folder / "secrets.json").read_text())
    for value in _strings(secrets):
        if len(value) >= 6:
            assert value not in body.decode("utf-8", "replace")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_scoring_needs_a_valid_key(served: Served) -> None:
    """deployments.md: Authorization: Bearer <key>, 401 without a valid key (checked before the body)."""
    assert served.request("/score", PAYLOAD, key=None)[0] == 401
    assert served.request("/score", PAYLOAD, key="not-the-key")[0] == 401
    assert served.request("/score", b"\xff not even json", key=None)[0] == 401
    status, headers, body = served.request("/score", PAYLOAD)
    assert status == 200
    assert json.loads(body) == pytest.approx([6.0])  # a bare JSON list
    assert headers["azureml-model-deployment"] == "one"
    assert headers["x-mlops-correlation-id"]


def test_both_protocols_answer(served: Served) -> None:
    """deployments.md: /score answers a bare list; /invocations {"predictions": ...}, also from CSV."""
    split = {"dataframe_split": {"columns": COLUMNS, "data": [ROW, [0.0, 0.0, 1.0]]}}
    status, _, body = served.request("/invocations", split)
    assert status == 200
    assert json.loads(body) == {"predictions": pytest.approx([6.0, 1.0])}
    records = {"dataframe_records": [dict(zip(COLUMNS, ROW, strict=True))]}
    assert json.loads(served.request("/invocations", records)[2]) == {"predictions": pytest.approx([6.0])}
    status, _, body = served.request("/invocations", "a,b,c\n1,2,3\n", content_type="text/csv")
    assert status == 200
    assert json.loads(body) == {"predictions": pytest.approx([6.0])}
    both = {**split, **records}
    status, _, body = served.request("/invocations", both)
    assert status == 400
    assert json.loads(body)["error_code"] == "BAD_REQUEST"


def test_header_routes_to_one_deployment_regardless_of_weights(served: Served) -> None:
    """deployments.md: azureml-model-deployment: <name> routes to that deployment; answers name it."""
    status, headers, body = served.request("/score", PAYLOAD, headers={"azureml-model-deployment": "two"})
    assert status == 200
    assert headers["azureml-model-deployment"] == "two"
    assert json.loads(body) == pytest.approx([4.0])
    assert served.client.deployments.invoke(ENDPOINT, PAYLOAD, deployment="two") == pytest.approx([4.0])
    status, _, body = served.request("/score", PAYLOAD, headers={"azureml-model-deployment": "nope"})
    assert status == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"input_data": {"columns": COLUMNS, "data": []}}, "the input has no rows"),
        ({"input_data": []}, "the input has no rows"),
        ({"input_data": {"columns": COLUMNS, "data": [ROW, [1.0, 2.0]]}}, "row 1"),
        ({"input_data": [[1.0, 2.0, 3.0, 4.0]]}, "row 0 has 4"),
        ({"input_data": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}}, "unknown column"),
        ({"input_data": {"columns": ["a", "a", "c"], "data": [[1, 2, 3]]}}, "column"),
        ({"input_data": {"columns": ["a", "b"], "data": [[1, 2]]}}, "column"),
        ({"input_data": {"columns": COLUMNS, "data": [[1.0, True, 3.0]]}}, "row 0, column 'b': true is a boolean"),
        ({"input_data": {"columns": COLUMNS, "data": [[1.0, "1.5", 3.0]]}}, "row 0, column 'b'"),
        ({"input_data": {"columns": COLUMNS, "data": [[1.0, [2.0], 3.0]]}}, "row 0, column 'b'"),
        ({"input_data": {"columns": COLUMNS, "data": [[1.0, {"x": 1}, 3.0]]}}, "row 0, column 'b'"),
        ({"input_data": {"columns": COLUMNS, "data": [ROW, [1.0, 2.0, None]]}}, "row 1, column 'c'"),
        ('{"input_data": [[1, 2, ' + "1" * 400 + "]]}", "too large for a 64-bit float"),
        ('{"input_data": [[1, 2, NaN]]}', "row 0, column"),
        ("{not json", "not valid JSON"),
        (b'{"input_data": [[1, 2, "\xff"]]}', "not valid JSON"),
        ({"something": "else"}, ""),
        ("[" * 10_000 + "]" * 10_000, ""),
    ],
)
def test_bad_input_is_a_400_naming_row_and_column(served: Served, body: Any, expected: str) -> None:
    """deployments.md: bad input is a 400 {"error_code": "BAD_REQUEST", "message": ...}, never a 5xx."""
    status, _, answer = served.request("/score", body)
    assert status == 400, answer
    error = json.loads(answer)
    assert error["error_code"] == "BAD_REQUEST"
    assert expected in error["message"]


def test_other_client_errors(served: Served) -> None:
    """deployments.md: 404 unknown path, 405 wrong method, 415 content type, 413 over the body limit."""
    assert served.request("/nowhere", PAYLOAD)[0] == 404
    assert served.request("/score", method="GET")[0] == 405
    assert served.request("/score", PAYLOAD, content_type="text/plain")[0] == 415
    assert served.request("/score", PAYLOAD, content_type="application/json; charset=latin-1")[0] == 415
    assert served.request("/score", PAYLOAD)[0] == 200  # the server still answers


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(served: Served) -> None:
    """deployments.md: 413 for a body over the limit (16 MiB); a chunked body while it streams."""
    import http.client

    port = int(served.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    chunk = b"1," * (512 * 1024)  # 1 MiB

    def body() -> Iterator[bytes]:
        yield b'{"input_data": [['
        for _ in range(20):  # 20 MiB with no declared length
            yield chunk

    try:
        # the server may answer and close while we still send: what "refused while it streams" looks like
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST",
                "/score",
                body=body(),
                headers={"Authorization": f"Bearer {served.key()}", "Content-Type": "application/json"},
                encode_chunked=True,
            )
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def test_declared_length_over_the_limit_is_refused_at_once(served: Served) -> None:
    """deployments.md: a declared length over the limit (16 MiB) is refused at once (no body sent)."""
    import http.client

    port = int(served.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("POST", "/score")
        connection.putheader("Authorization", f"Bearer {served.key()}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(17 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def test_metrics_need_a_key(served: Served) -> None:
    """deployments.md: GET /metrics with a scoring key or the admin key; Prometheus text."""
    assert served.request("/metrics", method="GET", key=None)[0] == 401
    served.request("/score", PAYLOAD)
    status, _, body = served.request("/metrics", method="GET")
    assert status == 200
    assert b"mlops_requests_total" in body
    assert b'deployment="one"' in body


@pytest.mark.parametrize(
    ("sent", "used"),
    [
        ("order-17", True),
        ("a.b_c~d-1", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("ünïcode", False),
        ("a/b", False),
        ("", False),
    ],
)
def test_correlation_ids_are_used_or_replaced_never_refused(served: Served, sent: str, used: bool) -> None:
    """monitoring.md: your own x-mlops-correlation-id (1-128 of [A-Za-z0-9._~-]) is used; else replaced."""
    header = {"x-mlops-correlation-id": sent} if sent.isascii() else {}
    if not sent.isascii():  # urllib cannot send it; latin-1 bytes stand for it
        header = {"x-mlops-correlation-id": sent.encode("utf-8").decode("latin-1")}
    status, headers, _ = served.request("/score", PAYLOAD, headers=header)
    assert status == 200
    answered = headers["x-mlops-correlation-id"]
    assert (answered == sent) is used
    assert 1 <= len(answered) <= 128


# --------------------------------------------------------------------------------------------------
# Capture on the local server (docs/monitoring.md "Capture", "What is on disk, exactly")
# --------------------------------------------------------------------------------------------------


def test_capture_ids_columns_and_files(served: Served) -> None:
    """monitoring.md: 1 row captured under its id, row i of a batch under <id>:<i>; the documented
    columns; files at capture/<deployment>/<YYYY-MM-DD>/<HH>/part-<ms>-<pid>-<seq>.parquet, no temp files."""
    tag = uuid.uuid4().hex[:8]
    status, headers, _ = served.request("/score", PAYLOAD, headers={"x-mlops-correlation-id": f"one-{tag}"})
    assert status == 200
    assert headers["x-mlops-capture"] == "queued"
    batch = {"input_data": {"columns": COLUMNS, "data": [ROW, [0.0, 0.0, 1.0]]}}
    status, headers, _ = served.request("/score", batch, headers={"x-mlops-correlation-id": f"batch-{tag}"})
    assert status == 200
    frame = served.client.monitoring.read_captures(ENDPOINT, deployment="one")
    ours = frame[frame["_id"].astype(str).str.endswith(tag) | frame["_id"].astype(str).str.contains(f"batch-{tag}")]
    assert sorted(ours["_id"]) == sorted([f"one-{tag}", f"batch-{tag}:0", f"batch-{tag}:1"])
    for column in ("_id", "_ts", "_deployment", "_model", "_prediction", "a", "b", "c"):
        assert column in frame.columns, column
    assert set(ours["_deployment"]) == {"one"}
    by_id = dict(zip(ours["_id"], ours["_prediction"], strict=True))
    assert float(by_id[f"batch-{tag}:1"]) == pytest.approx(1.0)
    assert float(by_id[f"one-{tag}"]) == pytest.approx(6.0)
    import re

    parts = list((served.folder / "capture").rglob("*.parquet"))
    assert parts
    pattern = re.compile(r"capture/(one|two)/\d{4}-\d{2}-\d{2}/\d{2}/part-\d+-\d+-\d+\.parquet$")
    for part in parts:
        assert pattern.search(part.as_posix()), part
    leftovers = [p for p in (served.folder / "capture").rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert leftovers == []
    stats = served.client.monitoring.capture_stats(ENDPOINT)
    assert stats.written >= 3
    assert stats.captured >= stats.written
    assert stats.dropped == 0
    assert stats.failed == 0


def test_mirrored_requests_are_not_captured(served: Served) -> None:
    """monitoring.md: only the answering deployment's scoring is captured, not mirrored copies."""
    tag = uuid.uuid4().hex[:8]
    for i in range(12):
        status, headers, _ = served.request("/score", PAYLOAD, headers={"x-mlops-correlation-id": f"m{i}-{tag}"})
        assert status == 200
        assert headers["azureml-model-deployment"] == "one"
    routed = f"routed-{tag}"  # the shadow deployment answering by name is captured: the column is there
    served.request("/score", PAYLOAD, headers={"azureml-model-deployment": "two", "x-mlops-correlation-id": routed})
    shadow = served.client.monitoring.read_captures(ENDPOINT, deployment="two")
    assert routed in set(shadow["_id"])
    assert not any(str(i).endswith(tag) and i != routed for i in shadow["_id"])
    live = served.client.monitoring.read_captures(ENDPOINT, deployment="one")
    assert sum(1 for i in live["_id"] if str(i).endswith(tag)) == 12
    # live y = a + b + c, shadow y = 2a + b: every row scored so far differs by 1 or 2
    strict = served.client.deployments.shadow_report(ENDPOINT, tolerance=0.5)
    assert strict.requests > 0
    assert strict.agreement_rate == 0.0
    assert strict.difference["max_abs"] == pytest.approx(2.0)
    assert served.client.deployments.shadow_report(ENDPOINT, tolerance=2.5).agreement_rate == 1.0


def test_shadow_slices_name_the_model_inputs_for_positional_rows(served: Served) -> None:
    """deployments.md: report.slices is the agreement per quartile of every numeric input feature (the model's
    inputs a, b, c), also for requests that sent positional rows (the docs' own payload form)."""
    for i in range(20):
        row = [float(i), 2.0, 3.0]
        assert served.request("/score", {"input_data": [row]})[0] == 200
    report = served.client.deployments.shadow_report(ENDPOINT, tolerance=0.5)
    features = {item.feature for item in report.slices}
    assert features
    assert features <= {"a", "b", "c"}


def test_admin_paths_need_the_admin_key(served: Served) -> None:
    """deployments.md: GET /admin/shadow/<deployment> needs the admin key (a scoring key is not enough)."""
    secrets = json.loads((served.folder / "secrets.json").read_text())
    admin = next(value for name, value in secrets.items() if "admin" in name)
    assert served.request("/admin/shadow/two", method="GET", key=None)[0] == 401
    assert served.request("/admin/shadow/two", method="GET")[0] in (401, 403)
    assert served.request("/admin/capture", method="GET")[0] in (401, 403)
    status, _, body = served.request("/admin/shadow/two", method="GET", key=admin)
    assert status == 200
    assert json.loads(body)


def test_shadow_answers_never_reach_callers(served: Served) -> None:
    """deployments.md: a Shadow deployment gets no live traffic; its answers never reach callers."""
    for _ in range(10):
        status, headers, body = served.request("/score", PAYLOAD)
        assert status == 200
        assert headers["azureml-model-deployment"] == "one"
        assert json.loads(body) == pytest.approx([6.0])
    endpoint = served.client.deployments.get_endpoint(ENDPOINT)
    assert endpoint.traffic.get("two", 0) == 0
    assert endpoint.mirror == {"two": 50}


def test_names_that_name_nothing_are_not_found(served: Served) -> None:
    """errors.md: something that does not exist is ResourceNotFoundError; shadow_report's docstring:
    no such deployment on the endpoint -> ResourceNotFoundError (a 2-letter name is a valid deployment name)."""
    for name in ("nope", "ab"):
        with pytest.raises(ResourceNotFoundError, match=r"deployments: \["):
            served.client.deployments.shadow_report(ENDPOINT, name)
        with pytest.raises(ResourceNotFoundError, match=r"deployments: \["):
            served.client.deployments.get_logs(ENDPOINT, deployment=name)
        with pytest.raises(ResourceNotFoundError):
            served.client.deployments.invoke(ENDPOINT, PAYLOAD, deployment=name)
    assert "listening" in served.client.deployments.get_logs(ENDPOINT, deployment="one", lines=1000)


def test_a_log_tail_of_zero_lines_is_refused_not_the_whole_log(served: Served, mem: MLOpsClient) -> None:
    """errors.md: numbers are bounded (`endpoints logs --lines` 1-1000000); the API refuses what the CLI refuses."""
    with pytest.raises(ConfigurationError) as info:
        served.client.deployments.get_logs(ENDPOINT, lines=0)
    assert info.value.details["field"] == "lines"
    assert served.client.deployments.get_logs(ENDPOINT, lines=1).count("\n") == 0
    with pytest.raises(ConfigurationError):
        mem.deployments.get_logs(ENDPOINT, lines=0)


def test_cli_logs_of_a_deployment_that_does_not_exist(served: Served, cli: Any) -> None:
    """errors.md: a name that names nothing is an error, not an empty answer (exit 1, one JSON document)."""
    result = cli("-o", "json", "endpoints", "logs", ENDPOINT, "--deployment", "nope")
    assert result.returncode == 1, result.stdout
    assert _one_json(result)["error"]["type"] == "ResourceNotFoundError"


def test_regenerated_key_replaces_the_old_one(served: Served) -> None:
    """deployments.md: regenerate_keys replaces one key; the old one stops working; secrets.json stays 0600;
    deployments and traffic come back as they were."""
    before = served.client.deployments.get_endpoint(ENDPOINT)
    old = served.key()
    served.old_keys = [old]  # type: ignore[attr-defined]
    new = served.client.deployments.regenerate_keys(ENDPOINT, key="primary").primary_key.get_secret_value()
    assert new != old
    assert served.request("/score", PAYLOAD, key=old)[0] == 401
    assert served.request("/score", PAYLOAD, key=new)[0] == 200
    assert stat.S_IMODE((served.folder / "secrets.json").stat().st_mode) == 0o600
    after = served.client.deployments.get_endpoint(ENDPOINT)
    assert after.traffic == before.traffic
    assert after.mirror == before.mirror


def test_a_stopped_endpoint_comes_back_with_its_traffic(served: Served) -> None:
    """deployments.md: stop_endpoint stops the server; the next invoke restarts it with deployments and traffic;
    monitoring.md: a graceful stop writes the whole capture queue first."""
    before = served.client.deployments.get_endpoint(ENDPOINT)
    tag = uuid.uuid4().hex[:8]
    for i in range(3):  # queued rows: a graceful stop writes the whole queue before the server exits
        assert served.request("/score", PAYLOAD, headers={"x-mlops-correlation-id": f"s{i}-{tag}"})[0] == 200
    assert served.client.deployments.stop_endpoint(ENDPOINT) is True
    ids = set(served.client.monitoring.read_captures(ENDPOINT, deployment="one")["_id"])
    assert {f"s{i}-{tag}" for i in range(3)} <= ids
    assert served.client.deployments.invoke(ENDPOINT, PAYLOAD) == pytest.approx([6.0])
    after = served.client.deployments.get_endpoint(ENDPOINT)
    assert after.traffic == before.traffic
    assert after.mirror == before.mirror
    assert served.client.deployments.invoke(ENDPOINT, PAYLOAD, deployment="two") == pytest.approx([4.0])


# --------------------------------------------------------------------------------------------------
# The command line (README "Command line", docs/deployments.md CLI, docs/errors.md "The command line")
# --------------------------------------------------------------------------------------------------


def mlops(served: Served, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``mlops -t local://<store> ARGS`` in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "mlops_sdk.cli", "-t", f"local://{served.store}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd or served.store.parent,
        env=env,
        check=False,
    )


@pytest.fixture
def cli(served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``mlops -t local://<store> ARGS`` in this process (the console script's own ``run``): the same
    command line without an interpreter start; tests about what a separate process prints use ``mlops``."""
    from mlops_sdk.cli.main import run

    for name in [name for name in os.environ if name.startswith("MLOPS_")]:
        monkeypatch.delenv(name)

    def call(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd or served.store.parent)
        capsys.readouterr()
        code = run(["-t", f"local://{served.store}", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return call


def _one_json(result: subprocess.CompletedProcess[str]) -> Any:
    """With -o json stdout is exactly one JSON document."""
    return json.loads(result.stdout)


def test_cli_keys_print_only_when_asked(served: Served) -> None:
    """deployments.md: `endpoints keys NAME --primary` prints the bare key; -o json {"endpoint", "primary_key"}."""
    key = served.key()
    bare = mlops(served, "endpoints", "keys", ENDPOINT, "--primary")
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.strip() == key
    doc = mlops(served, "-o", "json", "endpoints", "keys", ENDPOINT, "--primary")
    assert doc.returncode == 0
    assert _one_json(doc) == {"endpoint": ENDPOINT, "primary_key": key}


def test_cli_show_ends_with_a_curl_line_without_the_key(served: Served) -> None:
    """deployments.md: `mlops endpoints show` ends with a scoring call reading the key from a variable."""
    key = served.key()
    shown = mlops(served, "endpoints", "show", ENDPOINT)
    assert shown.returncode == 0, shown.stderr
    last = [line for line in shown.stdout.splitlines() if line.strip()][-1]
    assert "curl" in last
    assert "$MLOPS_ENDPOINT_KEY" in last
    for output in (shown, mlops(served, "-o", "json", "endpoints", "show", ENDPOINT)):
        assert key not in output.stdout
        assert key not in output.stderr
    listed = mlops(served, "endpoints", "list", "-o", "json")
    assert listed.returncode == 0
    assert ENDPOINT in json.dumps(_one_json(listed))
    assert key not in listed.stdout


@pytest.mark.parametrize(
    ("args", "code", "error_type", "mentions"),
    [
        (["endpoints", "history", "no-such-endpoint"], 1, "ResourceNotFoundError", ENDPOINT),
        (["endpoints"], 2, "UsageError", ""),
        (["endpoints", "logs", ENDPOINT, "--lines", "0"], 2, "UsageError", "--lines"),
        (["endpoints", "invoke", ENDPOINT, "--data", "{not json"], 2, "UsageError", "--data"),
        (["endpoints", "invoke", ENDPOINT, "--data", "@missing.json"], 1, "ConfigurationError", "--data"),
        (["deploy", "x@1", "--endpoint", ENDPOINT, "--bake", "nan"], 2, "UsageError", "--bake"),
        (["deploy", "x@1", "--endpoint", ENDPOINT, "--bake", "-1"], 2, "UsageError", "--bake"),
        (["deploy", "x@1", "--endpoint", ENDPOINT, "--smoke", "{not json"], 2, "UsageError", "--smoke"),
        (["monitor", "run", "missing.toml"], 1, "ConfigurationError", "missing.toml"),
        (["deploy", "nosuch@1", "--endpoint", ENDPOINT], 1, "ResourceNotFoundError", "nosuch"),
        (["rollback", "no-such-endpoint"], 1, "ResourceNotFoundError", ENDPOINT),
        (["rollback", ENDPOINT, "--to", "nope"], 1, "ResourceNotFoundError", "nope"),
        (["endpoints", "keys", "no-such-endpoint"], 1, "ResourceNotFoundError", ENDPOINT),
        (["endpoints", "show", "x"], 1, "ConfigurationError", "endpoint"),
        (["monitor", "labels", ENDPOINT, "missing.csv"], 1, "ConfigurationError", "missing.csv"),
        (["monitor", "stats", "x"], 1, "ConfigurationError", "endpoint"),
    ],
)
def test_cli_errors_are_one_json_document_with_the_documented_exit_code(
    served: Served, cli: Any, args: list[str], code: int, error_type: str, mentions: str
) -> None:
    """errors.md: exit 1 error / 2 usage; with -o json stdout is one JSON error document; no traceback."""
    result = cli("-o", "json", *args)
    assert result.returncode == code, (result.stdout, result.stderr)
    error = _one_json(result)["error"]
    assert error["type"] == error_type
    assert mentions in json.dumps(error)
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_invoke_from_a_file_and_delete_needs_yes(served: Served, cli: Any) -> None:
    """deployments.md: `endpoints invoke NAME --data @file`; errors.md: with -o json delete needs --yes."""
    request = served.store.parent / "sample-request.json"
    request.write_text(json.dumps(PAYLOAD), encoding="utf-8")
    invoked = cli("-o", "json", "endpoints", "invoke", ENDPOINT, "--data", "@sample-request.json")
    assert invoked.returncode == 0, invoked.stderr
    assert _one_json(invoked) == pytest.approx([6.0])
    refused = cli("-o", "json", "endpoints", "delete", ENDPOINT)
    assert refused.returncode != 0
    assert "error" in _one_json(refused)
    assert served.client.deployments.get_endpoint(ENDPOINT).traffic.get("one") == 100


def test_cli_deploy_rolled_back_exits_1_and_keeps_traffic(served: Served, cli: Any) -> None:
    """deployments.md: `mlops deploy` exits 1 when the rollout was rolled back; the map is restored."""
    before = served.client.deployments.get_endpoint(ENDPOINT)
    smoke = json.dumps({"payload": PAYLOAD, "expected": [123.0]})
    result = cli(
        "deploy",
        str(served.models["three"]),
        "--endpoint",
        ENDPOINT,
        "--deployment",
        "three",
        "--steps",
        "50,100",
        "--smoke",
        smoke,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    after = served.client.deployments.get_endpoint(ENDPOINT)
    assert after.traffic == before.traffic
    assert after.mirror == before.mirror
    assert "three" not in [d.name for d in after.deployments]


def test_cli_monitor_stats_and_a_monitor_without_data(served: Served, cli: Any) -> None:
    """monitoring.md: `mlops monitor stats ENDPOINT` (any endpoint name); a monitor that saw nothing
    is no_data and `mlops monitor run` exits 3."""
    # its own captured request, written (read_captures flushes first): not one an earlier test left
    assert served.request("/score", PAYLOAD)[0] == 200
    assert len(served.client.monitoring.read_captures(ENDPOINT)) >= 1
    stats = cli("-o", "json", "monitor", "stats", ENDPOINT)
    assert stats.returncode == 0, stats.stderr
    counters = _one_json(stats)
    assert counters["written"] >= 1
    other = cli("-o", "json", "monitor", "stats", "served-elsewhere")
    assert other.returncode == 0, other.stderr
    assert _one_json(other)["captured"] == 0
    monitor = served.store.parent / "monitor.toml"
    monitor.write_text(
        '[monitor]\nendpoint = "nothing-here"\nwindow = "1h"\nbaseline = { kind = "data", path = "base.csv" }\n'
        '[[monitor.signals]]\nkind = "data_drift"\n',
        encoding="utf-8",
    )
    (served.store.parent / "base.csv").write_text("a,b,c\n1,2,3\n2,3,4\n3,4,5\n", encoding="utf-8")
    run = cli("-o", "json", "monitor", "run", "monitor.toml")
    assert run.returncode == 3, (run.stdout, run.stderr)
    assert _one_json(run)["outcome"] == "no_data"


# --------------------------------------------------------------------------------------------------
# Monitoring on memory:// (docs/monitoring.md "Ground truth", "Signals", "Monitors in TOML", "The report")
# --------------------------------------------------------------------------------------------------


def _frame(n: int = 300, shift: float = 0.0, seed: int = 3) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n) + shift, "b": rng.normal(size=n), "c": rng.normal(size=n)})


@pytest.mark.parametrize(
    ("ids", "labels", "field"),
    [
        ("order-17", [1], "ids"),  # a lone string is refused, not split into characters
        (["a1", "a2"], [1], "labels"),  # one label per id
        ([" a1"], [1], "ids"),  # no surrounding spaces
        ([""], [1], "ids"),
        (["x" * 1025], [1], "ids"),
        (["a1", "a2"], [1, math.nan], "labels"),
        (["a1", "a2"], [1, None], "labels"),
        (["a1", "a2"], [1, math.inf], "labels"),
        (["a1", "a2"], [1, "yes"], "labels"),  # all numbers or all text
        (["a1", "a2"], [[1], [0]], "labels"),
        (["a1", "a2"], [{"x": 1}, {"x": 0}], "labels"),
        ([1.5, 2.5], [1, 0], "ids"),  # text or whole numbers
    ],
)
def test_ground_truth_refusals_store_nothing(mem: MLOpsClient, ids: Any, labels: Any, field: str) -> None:
    """monitoring.md: anything else raises ConfigurationError naming ids or labels, and nothing is stored."""
    ids_out = mem.monitoring.log_inferences("churn", _frame(2), predictions=[0.0, 1.0], ids=["a1", "a2"])
    assert ids_out == ["a1", "a2"]
    with pytest.raises(ConfigurationError) as info:
        mem.monitoring.log_ground_truth("churn", ids=ids, labels=labels)
    assert info.value.details["field"] == field
    # nothing stored: a performance monitor finds no labelled row
    report = mem.monitoring.run(
        Monitor(endpoint="churn", signals=[ModelPerformance(thresholds={"rmse": 5}, min_labels=1)]),
        baseline_data=_frame(2),
    )
    assert report.rows == 2  # the inferences are in the window
    assert report.labeled_rows == 0


def test_ground_truth_latest_label_wins(mem: MLOpsClient) -> None:
    """monitoring.md: when an id is labelled twice the latest label wins (within one call, the later one)."""
    ids = mem.monitoring.log_inferences("churn", _frame(4), predictions=[1.0, 2.0, 3.0, 4.0])
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert mem.monitoring.log_ground_truth("churn", ids=[*ids, ids[0]], labels=[0.0, 2.0, 3.0, 4.0, 1.0]) == 4
    monitor = Monitor(endpoint="churn", signals=[ModelPerformance(thresholds={"rmse": 0.5}, min_labels=1)])
    report = mem.monitoring.run(monitor, baseline_data=_frame(4))
    assert report.labeled_rows == 4
    assert report.passed, report.alerts  # rmse 0: the later label (1.0) of the first id won
    mem.monitoring.log_ground_truth("churn", ids=[ids[1]], labels=[7.0])  # a later part corrects one
    report = mem.monitoring.run(monitor, baseline_data=_frame(4))
    assert not report.passed
    assert report.outcome == "alert"


def test_inference_ids_must_not_repeat(mem: MLOpsClient) -> None:
    """monitoring.md: ids of log_inferences follow log_ground_truth's rule and must not repeat within a call."""
    with pytest.raises(ConfigurationError) as info:
        mem.monitoring.log_inferences("churn", _frame(2), predictions=[0.0, 1.0], ids=["same", "same"])
    assert info.value.details["field"] == "ids"
    assert len(mem.monitoring.read_captures("churn")) == 0


@pytest.mark.parametrize("endpoint", ["ab", "-abc", "a" * 33, "has space", "ünï"])
def test_monitoring_endpoint_names_follow_the_endpoint_rule(mem: MLOpsClient, endpoint: str) -> None:
    """monitoring.md: endpoint names follow the endpoint rule (3-32 letters, digits or -) on memory:// too."""
    with pytest.raises(ConfigurationError):
        mem.monitoring.log_ground_truth(endpoint, ids=["a1"], labels=[1])
    with pytest.raises(ConfigurationError):
        mem.monitoring.log_inferences(endpoint, _frame(1), predictions=[1.0])


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "featurs": ["a"]}]}, "signals.0.data_drift.featurs"),
        ({"endpoint": "churn", "window": "0h", "signals": [{"kind": "data_drift"}]}, "window"),
        ({"endpoint": "churn", "window": "101y", "signals": [{"kind": "data_drift"}]}, "window"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "thresholds": {"js": 1.5}}]}, "js"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "thresholds": {"psi": math.nan}}]}, "psi"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "thresholds": {"psi": -1}}]}, "psi"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "features": []}]}, "features"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "features": ["a", "a"]}]}, "features"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift", "thresholds": {"nope": 1}}]}, "nope"),
        ({"endpoint": "churn", "signals": []}, "signals"),
        ({"endpoint": "x", "signals": [{"kind": "data_drift"}]}, "endpoint"),
        ({"endpoint": "churn", "signals": [{"kind": "data_drift"}], "thresholds": {"nosuch.psi": 0.1}}, "nosuch"),
    ],
)
def test_monitor_specs_name_the_bad_field(spec: dict[str, Any], field: str) -> None:
    """monitoring.md: a monitor is checked when it is built; every problem is a ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError) as info:
        Monitor(**spec)
    assert field in str(info.value.details.get("field", "")) + str(info.value)


def test_identical_window_and_baseline_never_alert(mem: MLOpsClient) -> None:
    """monitoring.md: identical window and baseline never alert; a feature shifted alone is the only one."""
    frame = _frame(400)
    mem.monitoring.log_inferences("churn", frame, predictions=[0.0] * 400)
    monitor = Monitor(endpoint="churn", signals=[DataDrift(), DataQuality()])
    same = mem.monitoring.run(monitor, baseline_data=frame)
    assert same.outcome == "passed"
    assert same.passed
    assert same.alerts == ()
    shifted = mem.monitoring.run(monitor, baseline_data=_frame(400, shift=-3.0))
    assert shifted.outcome == "alert"
    assert shifted.drifted_features() == ("a",)


def test_a_monitor_that_sees_nothing_does_not_pass(mem: MLOpsClient) -> None:
    """monitoring.md: when every signal is skipped the outcome is no_data and passed is false."""
    report = mem.monitoring.run(
        Monitor(endpoint="nothing-here", signals=[DataDrift(), DataQuality()]), baseline_data=_frame(10)
    )
    assert report.outcome == "no_data"
    assert report.passed is False


def test_report_json_round_trips_and_refuses_an_edited_report(mem: MLOpsClient) -> None:
    """monitoring.md: to_json() / from_json() (refuses an edited report: the content digest must match)."""
    frame = _frame(200)
    mem.monitoring.log_inferences("churn", frame, predictions=[0.0] * 200)
    report = mem.monitoring.run(Monitor(endpoint="churn", signals=[DataDrift()]), baseline_data=_frame(200, shift=2))
    text = report.to_json()
    again = MonitorReport.from_json(text)
    assert again.outcome == report.outcome
    assert again.digest == report.digest
    assert report.outcome == "alert"
    for field, value in (("outcome", "passed"), ("rows", report.rows + 1), ("signals", [])):
        edited = json.loads(text)
        edited[field] = value
        with pytest.raises(ConfigurationError, match="edited"):
            MonitorReport.from_json(json.dumps(edited))
    assert "<svg" in report.to_html()
    assert report.to_markdown()


def test_memory_capture_keeps_scored_rows_before_invoke_returns(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """monitoring.md/testing.md: memory deployments with Capture keep every scored request before invoke returns,
    with the server's columns and <id>:<row> ids; capture_stats counts them."""
    mem.deployments.begin_deploy(
        model_dirs["one"], endpoint="memcap", deployment="one", capture=Capture(sample_rate=1.0)
    ).result()
    mem.deployments.invoke("memcap", {"input_data": {"columns": COLUMNS, "data": [ROW, [0.0, 0.0, 1.0]]}})
    frame = mem.monitoring.read_captures("memcap")
    assert len(frame) == 2
    assert {"_id", "_ts", "_deployment", "_model", "_prediction", "a", "b", "c"} <= set(frame.columns)
    assert sorted(str(i).rsplit(":", 1)[1] for i in frame["_id"]) == ["0", "1"]
    assert sorted(float(p) for p in frame["_prediction"]) == pytest.approx([1.0, 6.0])
    assert mem.monitoring.capture_stats("memcap").captured == 2


def test_inputs_named_like_capture_columns_are_kept_apart(mem: MLOpsClient) -> None:
    """monitoring.md: an input named like a capture column (_id) is kept as input__id on every backend."""
    import pandas as pd

    frame = pd.DataFrame({"_id": ["mine-1", "mine-2"], "a": [1.0, 2.0]})
    ids = mem.monitoring.log_inferences("churn", frame, predictions=[1.0, 2.0])
    captured = mem.monitoring.read_captures("churn")
    assert sorted(captured["_id"]) == sorted(ids)
    assert sorted(captured["input__id"]) == ["mine-1", "mine-2"]


# --------------------------------------------------------------------------------------------------
# One rollout per endpoint, cancel (docs/deployments.md, docs/operations.md)
# --------------------------------------------------------------------------------------------------


def test_of_two_overlapping_rollouts_one_completes_and_the_other_stops(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """deployments.md: a rollout that finds someone else's traffic change stops with ConflictError (409,
    details expected/found), records a failed history entry and leaves the traffic alone."""
    import threading

    mem.deployments.begin_deploy(model_dirs["one"], endpoint="race", deployment="one").result()
    b_shifted = threading.Event()
    calls = {"a": 0, "b": 0}

    def a_predicate(_: Any) -> bool:
        calls["a"] += 1
        if calls["a"] == 2:  # A has shifted once; let B shift before A goes on
            b_shifted.wait(timeout=60)
        return True

    def b_predicate(_: Any) -> bool:
        calls["b"] += 1
        if calls["b"] == 2:  # B's first shift is done
            b_shifted.set()
        return True

    errors: list[BaseException] = []

    def run_a() -> None:
        try:
            mem.deployments.begin_deploy(
                model_dirs["two"],
                endpoint="race",
                deployment="two",
                strategy=BlueGreen(steps=[10, 100], smoke_test=SmokeTest(payload=PAYLOAD, predicate=a_predicate)),
            ).result()
        except BaseException as error:  # the assertions below read it
            errors.append(error)

    thread = threading.Thread(target=run_a)
    thread.start()
    for _ in range(600):  # A's first shift (bounded wait for the other thread)
        if mem.deployments.get_endpoint("race").traffic.get("two", 0) > 0:
            break
        thread.join(timeout=0.05)
    b = mem.deployments.begin_deploy(
        model_dirs["three"],
        endpoint="race",
        deployment="three",
        strategy=BlueGreen(steps=[10, 100], smoke_test=SmokeTest(payload=PAYLOAD, predicate=b_predicate)),
    ).result()
    thread.join(timeout=60)
    assert b.succeeded
    assert b.traffic.get("three") == 100
    assert len(errors) == 1
    conflict = errors[0]
    assert isinstance(conflict, ConflictError)
    assert conflict.status_code == 409
    assert conflict.details["expected"].get("two") == 10
    assert conflict.details["found"] != conflict.details["expected"]
    assert mem.deployments.get_endpoint("race").traffic.get("three") == 100
    assert any(h.action == "failed" and h.deployment == "two" for h in mem.deployments.history("race"))


def test_cancel_restores_the_previous_traffic(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """operations.md/deployments.md: cancel() restores the previous traffic map at the next poll."""
    from mlops_sdk import OperationCanceledError, Status

    mem.deployments.begin_deploy(model_dirs["one"], endpoint="cancel", deployment="one").result()
    op = mem.deployments.begin_deploy(
        model_dirs["two"], endpoint="cancel", deployment="two", strategy=BlueGreen(steps=[10, 50, 100], bake_time=600)
    )
    for _ in range(50):
        op.status()
        if mem.deployments.get_endpoint("cancel").traffic.get("two", 0) > 0:
            break
    assert mem.deployments.get_endpoint("cancel").traffic.get("two", 0) > 0
    op.cancel()
    with pytest.raises(OperationCanceledError):
        op.result()
    assert op.status() == Status.CANCELED
    live = {name: share for name, share in mem.deployments.get_endpoint("cancel").traffic.items() if share}
    assert live == {"one": 100}


# --------------------------------------------------------------------------------------------------
# Secrets (docs/secrets.md "Where secrets never appear", deployments.md "Keys")
# --------------------------------------------------------------------------------------------------


def test_a_secret_quoted_by_the_server_is_masked_in_the_error(served: Served) -> None:
    """secrets.md: every Secret built in the process is registered for redaction: a message quoting it shows ***."""
    canary = f"canary-{uuid.uuid4().hex}"
    Secret(canary)
    with pytest.raises(ServiceResponseError) as info:
        served.client.deployments.invoke(ENDPOINT, {"input_data": {"columns": [canary, "b", "c"], "data": [ROW]}})
    assert info.value.status_code == 400
    for text in (str(info.value), repr(info.value), json.dumps(info.value.to_dict())):
        assert canary not in text
        assert "***" in text


def test_endpoint_keys_never_appear_outside_their_file(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    """secrets.md/deployments.md: endpoint keys never appear in --output json, logs, errors, the store or
    endpoint folders other than secrets.json; `mlops deploy`/`endpoints show` print no key."""
    import logging

    caplog.set_level(logging.DEBUG)
    keys = [v for v in _strings(json.loads((served.folder / "secrets.json").read_text())) if len(v) >= 6]
    keys += getattr(served, "old_keys", [])
    assert len(keys) >= 3  # primary, secondary, admin
    outputs: list[str] = []
    for args in (
        ["endpoints", "show", ENDPOINT],
        ["-o", "json", "endpoints", "show", ENDPOINT],
        ["-o", "json", "endpoints", "list"],
        ["-o", "json", "endpoints", "history", ENDPOINT],
        ["endpoints", "logs", ENDPOINT, "--lines", "1000"],
        ["-o", "json", "endpoints", "invoke", ENDPOINT, "--data", json.dumps({"input_data": [[1, True, 3]]})],
        ["-o", "json", "monitor", "stats", ENDPOINT],
        ["-o", "json", "config", "show"],
    ):
        result = mlops(served, *args)
        outputs += [result.stdout, result.stderr]
    outputs.append(served.client.deployments.get_logs(ENDPOINT, lines=10_000))
    outputs.append(repr(served.client.deployments.get_keys(ENDPOINT)))
    outputs.append(repr(served.client.deployments.get_endpoint(ENDPOINT)))
    outputs.append(json.dumps([h.model_dump(mode="json") for h in served.client.deployments.history(ENDPOINT)]))
    with pytest.raises(ServiceResponseError) as info:
        served.client.deployments.invoke(ENDPOINT, {"input_data": [[1, True, 3]]})
    outputs += [str(info.value), repr(info.value), json.dumps(info.value.to_dict())]
    outputs.append(caplog.text)
    for key in keys:
        for text in outputs:
            assert key not in text
    for path in served.store.rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            data = path.read_bytes()
            for key in keys:
                assert key.encode() not in data, path


# --------------------------------------------------------------------------------------------------
# Open-ended inputs (hypothesis): the server never answers 5xx to a client's mistake
# --------------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _examples(default: int) -> int:
    """Examples per fuzz test: small in CI (the file runs in well under a minute); PROMISES_FUZZ for a longer hunt."""
    return int(os.environ.get("PROMISES_FUZZ", default))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_bodies = st.one_of(
    _json.map(json.dumps),
    st.fixed_dictionaries({"input_data": _json}).map(json.dumps),
    st.fixed_dictionaries({"input_data": st.fixed_dictionaries({"columns": _json, "data": _json})}).map(json.dumps),
    st.fixed_dictionaries({"dataframe_split": _json}).map(json.dumps),
    st.binary(max_size=64).map(lambda raw: raw.decode("latin-1")),
)


@settings(
    max_examples=int(os.environ.get("PROMISES_FUZZ", "60")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@given(body=_bodies, path=st.sampled_from(["/score", "/invocations"]))
def test_no_body_gets_a_5xx(served: Served, body: str, path: str) -> None:
    """deployments.md: bad input is a 400, never a 5xx (5xx is reserved for the server's own faults)."""
    status, _, answer = served.request(path, body.encode("latin-1"))
    assert status in (200, 400), (status, answer)
    if status == 400:
        assert json.loads(answer)["error_code"] == "BAD_REQUEST"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(sent=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=140))
def test_any_correlation_id_is_used_only_when_valid(served: Served, sent: str) -> None:
    """monitoring.md: 1-128 letters, digits, '.', '_', '~', '-' is used; anything else replaced, never refused."""
    import re

    status, headers, _ = served.request("/score", PAYLOAD, headers={"x-mlops-correlation-id": sent})
    assert status == 200
    valid = re.fullmatch(r"[A-Za-z0-9._~-]{1,128}", sent) is not None
    answered = headers["x-mlops-correlation-id"]
    assert (answered == sent) is valid
    assert re.fullmatch(r"[A-Za-z0-9._~-]{1,128}", answered)


_csv = st.lists(
    st.lists(
        st.sampled_from(["1", "2.5", "", "nan", "inf", "-inf", "1e999", "x", "true", '"q"', "a", "b", "c"]), max_size=5
    ),
    max_size=5,
).map(lambda rows: "\n".join(",".join(row) for row in rows))


@settings(
    max_examples=int(os.environ.get("PROMISES_FUZZ", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@given(text=_csv)
def test_no_csv_gets_a_5xx(served: Served, text: str) -> None:
    """deployments.md: CSV bodies are checked like JSON ones: 200 or a 400, never a 5xx."""
    status, _, answer = served.request("/invocations", text, content_type="text/csv")
    assert status in (200, 400), (status, answer)


# --------------------------------------------------------------------------------------------------
# More of the command line and the endpoint's life (deployments.md "Creating the endpoint ahead")
# --------------------------------------------------------------------------------------------------


def test_cli_deploy_ends_with_a_curl_line_and_endpoints_stop_start_delete(served: Served) -> None:
    """README/deployments.md: `mlops deploy` ends with a ready-to-paste curl line that reads the key from a
    variable; `endpoints stop` stops the server, `start` brings deployments and traffic back; delete --yes."""
    name = "cli-made"
    deployed = mlops(served, "deploy", str(served.models["three"]), "--endpoint", name, "--deployment", "three")
    assert deployed.returncode == 0, (deployed.stdout, deployed.stderr)
    key = served.client.deployments.get_keys(name).primary_key.get_secret_value()
    last = [line for line in deployed.stdout.splitlines() if line.strip()][-1]
    assert last.strip().startswith("curl")
    assert "$MLOPS_ENDPOINT_KEY" in last
    assert key not in deployed.stdout + deployed.stderr
    pid = json.loads((served.store / "endpoints" / name / "server.json").read_text())["pid"]
    assert _alive(pid)
    assert mlops(served, "endpoints", "stop", name).returncode == 0
    assert _gone(pid)
    started = mlops(served, "-o", "json", "endpoints", "start", name)
    assert started.returncode == 0, started.stderr
    assert served.client.deployments.invoke(name, PAYLOAD) == pytest.approx([4.0])
    assert served.client.deployments.get_endpoint(name).traffic == {"three": 100}
    deleted = mlops(served, "-o", "json", "endpoints", "delete", name, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(ResourceNotFoundError):
        served.client.deployments.get_endpoint(name)
    assert served.client.deployments.history(name)  # its history stays


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its parent to reap it has exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat_file = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat_file.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a bounded wait of up to 30 s for it to do so)."""
    import time

    for _ in range(600):
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stop_with_client_ties_the_server_to_the_client(served: Served) -> None:
    """deployments.md: with stop_with_client=True the server stops when the client closes; creating an
    endpoint that exists creates nothing."""
    name = "tied-ep"
    with MLOpsClient(f"local://{served.store}", show_progress=False) as client:
        endpoint = client.deployments.begin_create_endpoint(name, stop_with_client=True).result(timeout=120)
        assert endpoint.name == name
        again = client.deployments.begin_create_endpoint(name).result(timeout=120)
        assert again.name == name
        pid = json.loads((served.store / "endpoints" / name / "server.json").read_text())["pid"]
        assert _alive(pid)
        owner = json.loads((served.store / "endpoints" / name / "owner.json").read_text())
        assert owner["pid"] == os.getpid()
    assert _gone(pid)  # the server exits at close()
    served.client.deployments.delete_endpoint(name)


def test_cli_labels_read_ids_as_text(served: Served, cli: Any) -> None:
    """monitoring.md: from a CSV the id column is read as text: 00042 and 1e5 stay what they are;
    `mlops monitor labels ENDPOINT labels.csv`; a CSV with an empty label is refused and stores nothing."""
    endpoint = "labels-demo"
    frame = _frame(3)
    served.client.monitoring.log_inferences(endpoint, frame, predictions=[1.0, 0.0, 1.0], ids=["00042", "1e5", "x-3"])
    labels_dir = served.store / "monitoring" / endpoint / "labels"
    bad = served.store.parent / "bad-labels.csv"
    bad.write_text("correlation_id,label\n00042,1\n1e5,\n", encoding="utf-8")
    refused = cli("-o", "json", "monitor", "labels", endpoint, str(bad))
    assert refused.returncode == 1, refused.stdout
    assert _one_json(refused)["error"]["type"] == "ConfigurationError"
    assert not labels_dir.exists() or not any(labels_dir.rglob("*.parquet"))
    good = served.store.parent / "labels.csv"
    good.write_text("correlation_id,label\n00042,1\n1e5,0\n", encoding="utf-8")
    logged = cli("-o", "json", "monitor", "labels", endpoint, str(good))
    assert logged.returncode == 0, logged.stderr
    report = served.client.monitoring.run(
        Monitor(endpoint=endpoint, signals=[ModelPerformance(thresholds={"accuracy": 0.1}, min_labels=1)]),
        baseline_data=frame,
    )
    assert report.labeled_rows == 2
    assert [p.suffix for p in labels_dir.rglob("*") if p.is_file()] == [".parquet"]


def test_a_token_is_bound_to_its_target(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """operations.md: a token is bound to its target: resuming it with a client of another target is refused."""
    op = mem.deployments.begin_deploy(model_dirs["one"], endpoint="bound", deployment="one")
    token = op.continuation_token()
    op.result()
    with (
        MLOpsClient("memory://elsewhere", clock=FakeClock(), show_progress=False) as other,
        pytest.raises(ConfigurationError),
    ):
        other.resume_operation(token)
    assert mem.resume_operation(token).result().traffic == {"one": 100}


def test_short_secrets_are_still_hidden_where_held() -> None:
    """secrets.md: values shorter than 6 characters are still stored and shown as *** where they are held."""
    short = Secret("abc")
    assert "abc" not in repr(short)
    assert "abc" not in str(short)
    assert short.get_secret_value() == "abc"


def test_a_deployment_that_fails_to_start_carries_its_log_tail(served: Served, tmp_path: Path) -> None:
    """deployments.md: a deployment that fails to start raises OperationFailedError carrying the tail of the
    local server log; the traffic is untouched."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(served.models["one"], broken)
    for estimator in broken.glob("model.*"):
        estimator.write_bytes(b"this is not a model")
    before = served.client.deployments.get_endpoint(ENDPOINT)
    with pytest.raises(OperationFailedError) as info:
        served.client.deployments.begin_deploy(broken, endpoint=ENDPOINT, deployment="broken").result(timeout=120)
    assert "Deployment log tail" in str(info.value)
    assert info.value.details["log_tail"]
    after = served.client.deployments.get_endpoint(ENDPOINT)
    assert after.traffic == before.traffic
    assert after.mirror == before.mirror
    assert served.client.deployments.history(ENDPOINT)[-1].action == "failed"
    assert served.request("/score", PAYLOAD)[0] == 200


def test_unknown_model_references_are_refused_before_anything_changes(mem: MLOpsClient) -> None:
    """deployments.md (begin_deploy): a reference naming no registered version -> ResourceNotFoundError;
    a model that is no reference, URI or folder -> ConfigurationError (field model); nothing is created."""
    with pytest.raises(ResourceNotFoundError):
        mem.deployments.begin_deploy("nosuch@3", endpoint="refs").result()
    with pytest.raises(ResourceNotFoundError):
        mem.deployments.begin_deploy("nosuch:champion", endpoint="refs").result()
    with pytest.raises(ConfigurationError) as info:
        mem.deployments.begin_deploy("not a model at all", endpoint="refs").result()
    assert info.value.details["field"] == "model"
    assert [e.name for e in mem.deployments.list_endpoints()] == []


def test_memory_capture_sampling_and_what_is_kept(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """monitoring.md: sample_rate is decided per request and counted; inputs/outputs choose the columns."""
    mem.deployments.begin_deploy(
        model_dirs["one"], endpoint="sampled", deployment="one", capture=Capture(sample_rate=0.5)
    ).result()
    for _ in range(40):
        mem.deployments.invoke("sampled", PAYLOAD)
    stats = mem.monitoring.capture_stats("sampled")
    assert stats.captured + stats.sampled_out == 40
    assert 0 < stats.captured < 40
    assert len(mem.monitoring.read_captures("sampled")) == stats.captured
    mem.deployments.begin_deploy(
        model_dirs["one"], endpoint="no-inputs", deployment="one", capture=Capture(inputs=False)
    ).result()
    mem.deployments.invoke("no-inputs", PAYLOAD)
    kept = mem.monitoring.read_captures("no-inputs")
    assert len(kept) == 1
    assert "_prediction" in kept.columns
    assert not {"a", "b", "c"} & set(kept.columns)
    mem.deployments.begin_deploy(
        model_dirs["one"], endpoint="no-outputs", deployment="one", capture=Capture(outputs=False)
    ).result()
    mem.deployments.invoke("no-outputs", PAYLOAD)
    kept = mem.monitoring.read_captures("no-outputs")
    assert len(kept) == 1
    assert {"a", "b", "c"} <= set(kept.columns)
    assert "_prediction" not in kept.columns or kept["_prediction"].isna().all()


def test_cli_monitor_run_exit_codes_and_report(served: Served, cli: Any) -> None:
    """monitoring.md: `mlops monitor run monitor.toml --report report.html`: exit 0 passed, 3 alert; -o json;
    errors.md: --report must be writable (a folder is refused before any work, leaving no partial file)."""
    work = served.store.parent
    endpoint = "cli-mon"
    served.client.monitoring.log_inferences(endpoint, _frame(300), predictions=[0.0] * 300)
    _frame(300).to_csv(work / "same.csv", index=False)
    _frame(300, shift=-3.0).to_csv(work / "shifted.csv", index=False)
    for baseline, code, outcome in (("same.csv", 0, "passed"), ("shifted.csv", 3, "alert")):
        (work / "mon.toml").write_text(
            f'[monitor]\nendpoint = "{endpoint}"\nwindow = "24h"\nbaseline = {{ kind = "data", path = "{baseline}" }}\n'
            '[[monitor.signals]]\nkind = "data_drift"\n',
            encoding="utf-8",
        )
        report = work / f"report-{outcome}.html"
        run = cli("-o", "json", "monitor", "run", "mon.toml", "--report", str(report))
        assert run.returncode == code, (run.stdout, run.stderr)
        assert _one_json(run)["outcome"] == outcome
        assert "<svg" in report.read_text(encoding="utf-8")
    (work / "a-folder").mkdir()
    refused = cli("-o", "json", "monitor", "run", "mon.toml", "--report", str(work / "a-folder"))
    assert refused.returncode in (1, 2)
    assert "--report" in json.dumps(_one_json(refused))
    assert list((work / "a-folder").iterdir()) == []
    assert not [p for p in work.rglob("*") if p.suffix in (".tmp", ".partial")]


def test_a_predicate_must_be_passed_again_to_resume(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """deployments.md: a smoke-test predicate cannot travel in a token: pass smoke_test= again to resume_operation;
    operations.md: progress=callback gets a ProgressEvent after every poll."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="pred", deployment="one").result()
    seen: list[Any] = []
    smoke = SmokeTest(payload=PAYLOAD, predicate=lambda out: seen.append(out) is None)
    events: list[Any] = []
    op = mem.deployments.begin_deploy(
        model_dirs["two"],
        endpoint="pred",
        deployment="two",
        strategy=BlueGreen(steps=[10, 50, 100], bake_time=600, smoke_test=smoke),
        progress=events.append,
    )
    with pytest.raises(OperationTimeoutError) as info:
        op.result(timeout=100)
    assert events
    assert all(event.operation_id == op.id for event in events)
    token = info.value.details["continuation_token"]
    with pytest.raises(ConfigurationError, match="predicate"):
        mem.deployments.resume_operation(token)
    calls = len(seen)
    result = mem.deployments.resume_operation(token, smoke_test=smoke).result()
    assert result.traffic["two"] == 100
    assert len(seen) > calls  # the predicate passed again is the one the later steps ran


def test_cli_create_no_wait_prints_a_token_that_resume_finishes(served: Served, cli: Any) -> None:
    """deployments.md: `mlops endpoints create NAME --no-wait` prints a resume token; `mlops resume TOKEN`."""
    name = "made-ahead"
    created = cli("-o", "json", "endpoints", "create", name, "--no-wait")
    assert created.returncode == 0, created.stderr
    document = _one_json(created)
    token = document.get("continuation_token") or document.get("token")
    assert isinstance(token, str), document
    resumed = cli("-o", "json", "resume", token)
    assert resumed.returncode == 0, resumed.stderr
    assert _one_json(resumed)["name"] == name
    assert served.client.deployments.get_endpoint(name).name == name
    served.client.deployments.delete_endpoint(name)


def test_data_quality_rates_and_an_empty_baseline(mem: MLOpsClient) -> None:
    """monitoring.md: DataQuality null_rate / type_error_rate / out_of_range_rate with defaults 0.05, 0.01,
    0.05; a column whose values share no type is kept as text (type errors); a baseline without rows is a
    ConfigurationError (field baseline)."""
    import numpy as np

    base = _frame(200)
    window = base.copy()
    window.loc[:39, "b"] = None  # 20 % missing
    window["c"] = window["c"].astype(object)
    window.loc[:9, "c"] = "oops"  # 5 % text in a number column
    window.loc[100:119, "a"] = 50.0  # 10 % beyond the baseline's max
    mem.monitoring.log_inferences("quality", window, predictions=list(np.arange(200) % 2))
    report = mem.monitoring.run(Monitor(endpoint="quality", signals=[DataQuality()]), baseline_data=base)
    assert report.outcome == "alert"
    assert sorted(report.alerts) == [
        "data_quality: a: out_of_range_rate 0.1 > 0.05",
        "data_quality: b: null_rate 0.2 > 0.05",
        "data_quality: c: type_error_rate 0.05 > 0.01",
    ]
    with pytest.raises(ConfigurationError) as info:
        mem.monitoring.run(Monitor(endpoint="quality", signals=[DataQuality()]), baseline_data=base.iloc[:0])
    assert info.value.details["field"] == "baseline"


@pytest.mark.parametrize(
    ("thresholds", "min_labels", "outcome"),
    [
        ({"accuracy": 0.85}, 1, "alert"),  # accuracy 0.5 alerts below its bound
        ({"accuracy": 0.4}, 1, "passed"),
        ({"rmse": 0.5}, 1, "alert"),  # rmse alerts above its bound (rmse of 0/1 misses is ~0.71)
        ({"accuracy": 0.4}, 500, "no_data"),  # fewer labelled rows than min_labels: skipped, not an alert
    ],
)
def test_model_performance_bounds(
    mem: MLOpsClient, thresholds: dict[str, float], min_labels: int, outcome: str
) -> None:
    """monitoring.md: {"accuracy": 0.85} alerts below, {"rmse": 5} above; fewer labelled rows than
    min_labels is skipped; a run whose every signal was skipped is no_data."""
    ids = mem.monitoring.log_inferences("perf", _frame(200), predictions=[1] * 200)
    mem.monitoring.log_ground_truth("perf", ids=ids[:100], labels=[1] * 50 + [0] * 50)
    signal = ModelPerformance(thresholds=thresholds, min_labels=min_labels)
    report = mem.monitoring.run(Monitor(endpoint="perf", signals=[signal]), baseline_data=_frame(200))
    assert report.outcome == outcome
    assert report.labeled_rows == 100


def test_window_baseline_compares_two_windows_of_one_endpoint(mem: MLOpsClient) -> None:
    """monitoring.md: WindowBaseline(window=(start, end)) is an earlier window of the same endpoint's captures."""
    from datetime import datetime, timezone

    from mlops_sdk import WindowBaseline

    early = datetime(2025, 12, 20, tzinfo=timezone.utc)
    mem.monitoring.log_inferences("windows", _frame(200), predictions=[0.0] * 200, at=early)
    mem.monitoring.log_inferences("windows", _frame(200, shift=-3, seed=9), predictions=[0.0] * 200)
    baseline = WindowBaseline(window=(early - timedelta(hours=1), early + timedelta(hours=1)))
    report = mem.monitoring.run(Monitor(endpoint="windows", window="24h", baseline=baseline, signals=[DataDrift()]))
    assert report.rows == 200
    assert report.baseline["rows"] == 200
    assert report.drifted_features() == ("a",)


def test_torn_capture_files_are_named_not_read(served: Served) -> None:
    """monitoring.md: capture files the SDK did not write whole (truncated, zero bytes, not Parquet) make
    read_captures / run fail with a ConfigurationError listing each; empty hour folders and Parquet files
    without _ts are fine."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    endpoint = "torn-ep"
    served.client.monitoring.log_inferences(endpoint, _frame(5), predictions=[0.0] * 5)
    parts = list((served.store / "endpoints" / endpoint / "capture").rglob("*.parquet"))
    assert len(parts) == 1
    hour = parts[0].parent
    (hour.parent / "99").mkdir()  # an empty hour folder
    pq.write_table(pa.table({"x": [1]}), hour / "part-no-ts.parquet")  # holds no captured rows: ignored
    assert len(served.client.monitoring.read_captures(endpoint)) == 5
    torn = {
        hour / "part-zero.parquet": b"",
        hour / "part-cut.parquet": parts[0].read_bytes()[: len(parts[0].read_bytes()) // 2],
        hour / "part-text.parquet": b"not parquet at all",
    }
    for path, data in torn.items():
        path.write_bytes(data)
    with pytest.raises(ConfigurationError) as info:
        served.client.monitoring.read_captures(endpoint)
    for path in torn:
        assert path.name in str(info.value)
    with pytest.raises(ConfigurationError):
        served.client.monitoring.run(Monitor(endpoint=endpoint, signals=[DataDrift()]), baseline_data=_frame(5))
    for path in torn:
        path.unlink()
    assert len(served.client.monitoring.read_captures(endpoint)) == 5


def test_capture_durability_and_a_full_queue(served: Served) -> None:
    """monitoring.md: durability="acknowledged" answers `stored` once the rows' file is on disk, so a
    SIGKILL right after loses nothing; a deployment whose queue holds max_queue rows answers `dropped`
    (still 200 with the prediction) and counts the drops."""
    import signal

    name = "capture-kinds"
    deployments = served.client.deployments
    deployments.begin_deploy(
        served.models["one"], endpoint=name, deployment="acked", capture=Capture(durability="acknowledged")
    ).result(timeout=120)
    deployments.begin_deploy(
        served.models["two"],
        endpoint=name,
        deployment="capped",
        strategy=Shadow(mirror_percent=1),
        capture=Capture(max_queue=3, flush_interval=300),
    ).result(timeout=120)
    folder = served.store / "endpoints" / name
    url = deployments.get_endpoint(name).scoring_uri
    key = deployments.get_keys(name).primary_key.get_secret_value()

    def score(deployment: str, correlation: str) -> tuple[int, str, Any]:
        request = urllib.request.Request(  # noqa: S310 (loopback http)
            url,
            data=json.dumps(PAYLOAD).encode(),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "azureml-model-deployment": deployment,
                "x-mlops-correlation-id": correlation,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.headers["x-mlops-capture"], json.loads(answer.read())

    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        assert score("acked", f"k{i}-{tag}") == (200, "stored", pytest.approx([6.0]))
    answers = [score("capped", f"q{i}-{tag}") for i in range(5)]
    assert [a[1] for a in answers] == ["queued", "queued", "queued", "dropped", "dropped"]
    assert all(a[0] == 200 and a[2] == pytest.approx([4.0]) for a in answers)
    assert served.client.monitoring.capture_stats(name).dropped == 2
    pid = json.loads((folder / "server.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    frame = served.client.monitoring.read_captures(name, deployment="acked")
    assert {f"k{i}-{tag}" for i in range(5)} <= set(frame["_id"])
    deployments.delete_endpoint(name)


def test_sdk_log_records_mask_secrets_in_tracebacks_too() -> None:
    """secrets.md: secrets never appear in log records of the mlops_sdk.* loggers; errors.md: the CLI logs an
    unexpected exception's traceback at DEBUG on the mlops_sdk.cli logger (that traceback included)."""
    import io
    import logging

    import mlops_sdk.cli  # noqa: F401 - the documented CLI module owns the mlops_sdk.cli logger
    from mlops_sdk.core.logging import RedactionFilter

    canary = f"canary-{uuid.uuid4().hex}"
    Secret(canary)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("mlops_sdk.cli")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        try:
            raise RuntimeError(f"connection to {canary} failed")
        except RuntimeError:
            logger.debug("unexpected error in mlops %s", canary, exc_info=True, stack_info=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    text = stream.getvalue()
    assert "RuntimeError: connection to *** failed" in text
    assert canary not in text
    # the documented filter does the same on a handler for any logger
    other = io.StringIO()
    attached = logging.StreamHandler(other)
    attached.addFilter(RedactionFilter())
    plain = logging.getLogger(f"app-{uuid.uuid4().hex[:6]}")
    plain.addHandler(attached)
    try:
        plain.error("boom", exc_info=RuntimeError(f"token {canary}"))
    finally:
        plain.removeHandler(attached)
    assert "***" in other.getvalue()
    assert canary not in other.getvalue()


def test_labels_of_two_kinds_are_named_at_run_and_booleans_count_as_numbers(mem: MLOpsClient) -> None:
    """monitoring.md: booleans count as 0/1 and agree with parts logged as numbers; labels logged as numbers
    in one part and text in another are a ConfigurationError naming the kinds when the monitor runs."""
    ids = mem.monitoring.log_inferences("kinds", _frame(4), predictions=[1.0, 0.0, 1.0, 0.0])
    mem.monitoring.log_ground_truth("kinds", ids=ids[:2], labels=[True, 0.0])
    signal = ModelPerformance(thresholds={"accuracy": 0.9}, min_labels=1)
    report = mem.monitoring.run(Monitor(endpoint="kinds", signals=[signal]), baseline_data=_frame(4))
    assert report.passed
    assert report.labeled_rows == 2
    mem.monitoring.log_ground_truth("kinds", ids=ids[2:], labels=["yes", "no"])
    with pytest.raises(ConfigurationError, match="text") as info:
        mem.monitoring.run(Monitor(endpoint="kinds", signals=[signal]), baseline_data=_frame(4))
    assert "numbers" in str(info.value)


def test_a_zero_timeout_on_running_work_times_out_at_once(mem: MLOpsClient, model_dirs: dict[str, Path]) -> None:
    """operations.md: wait(timeout=0) is allowed (a finite number >= 0): running work raises
    OperationTimeoutError carrying the token, and keeps running; done() is False until it finishes."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="zero", deployment="one").result()
    op = mem.deployments.begin_deploy(
        model_dirs["two"], endpoint="zero", deployment="two", strategy=BlueGreen(steps=[10, 100], bake_time=60)
    )
    with pytest.raises(OperationTimeoutError) as info:
        op.wait(timeout=0)
    assert info.value.details["continuation_token"]
    assert op.done() is False
    assert op.result().traffic["two"] == 100
    assert op.done() is True


def test_config_show_and_doctor_mask_secret_settings(tmp_path: Path) -> None:
    """secrets.md: `mlops config show` prints *** for devops_pat, notify_webhook(_secret); their values (a
    webhook URL's token segment too) never appear in what config show or doctor print."""
    canaries = {
        "MLOPS_DEVOPS_PAT": f"pat-{uuid.uuid4().hex}",
        "MLOPS_NOTIFY_WEBHOOK": f"https://hooks.example.com/services/T000/B000/{uuid.uuid4().hex}",
        "MLOPS_NOTIFY_WEBHOOK_SECRET": f"whsec-{uuid.uuid4().hex}",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")} | canaries
    texts: list[str] = []
    for args in (["-o", "json", "config", "show"], ["config", "show"], ["doctor"], ["-o", "json", "doctor"]):
        result = subprocess.run(
            [sys.executable, "-m", "mlops_sdk.cli", "-t", "memory://", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        assert "Traceback" not in result.stderr
        texts += [result.stdout, result.stderr]
    shown = json.loads(texts[0])
    assert "***" in json.dumps(shown)
    secret_parts = [*canaries.values(), canaries["MLOPS_NOTIFY_WEBHOOK"].rsplit("/", 1)[1]]
    for text in texts:
        for value in secret_parts:
            assert value not in text


def test_cli_arguments_that_are_not_utf8_are_usage_errors(tmp_path: Path) -> None:
    """errors.md: bytes that are not UTF-8 in an argument are a usage error (exit 2), no traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_sdk.cli",
            "-t",
            f"local://{tmp_path / '.mlops'}",
            "-o",
            "json",
            "endpoints",
            "show",
            b"end\xffpoint",
        ],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2, result.stdout
    assert json.loads(result.stdout)["error"]["type"] == "UsageError"
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("endpoint", "deployment", "ok"),
    [
        ("abc", "ab", True),
        ("a" * 32, "b" * 32, True),
        ("ab", "ok", False),  # endpoint: 3-32
        ("a" * 33, "ok", False),
        ("-abc", "ok", False),
        ("abc-", "ok", False),
        ("1abc", "ok", False),
        ("ab_c", "ok", False),
        ("ëndpoint", "ok", False),
        ("abc", "a", False),  # deployment: 2-32, starting with a letter
        ("abc", "b" * 33, False),
        ("abc", "1b", False),
        ("abc", "a_b", False),
    ],
)
def test_endpoint_and_deployment_names_follow_azure_rules(
    mem: MLOpsClient, model_dirs: dict[str, Path], endpoint: str, deployment: str, ok: bool
) -> None:
    """errors.md/deployments.md: endpoint names 3-32 letters, digits or '-' starting with a letter; deployment
    names 2-32 letters, digits or '-' starting with a letter; refused before anything is created."""
    if ok:
        result = mem.deployments.begin_deploy(model_dirs["one"], endpoint=endpoint, deployment=deployment).result()
        assert result.traffic == {deployment: 100}
        return
    with pytest.raises(ConfigurationError) as info:
        mem.deployments.begin_deploy(model_dirs["one"], endpoint=endpoint, deployment=deployment)
    assert info.value.details["field"] in ("endpoint", "deployment")
    assert [e.name for e in mem.deployments.list_endpoints()] == []


def test_windows_and_naive_times_are_utc(mem: MLOpsClient) -> None:
    """monitoring.md: a naive `at` is UTC, as in windows; a window that ends before it starts is refused."""
    from datetime import datetime, timezone

    naive = datetime(2025, 12, 20, 12, 0)
    mem.monitoring.log_inferences("naive", _frame(3), predictions=[0.0] * 3, at=naive)
    aware = datetime(2025, 12, 20, 12, 0, tzinfo=timezone.utc)
    frame = mem.monitoring.read_captures("naive", window=(aware - timedelta(minutes=1), aware + timedelta(minutes=1)))
    assert len(frame) == 3
    assert len(mem.monitoring.read_captures("naive", window=(naive, naive + timedelta(seconds=1)))) == 3
    with pytest.raises(ConfigurationError) as info:
        mem.monitoring.read_captures("naive", window=(aware, aware - timedelta(hours=1)))
    assert info.value.details["field"] == "window"


@pytest.mark.parametrize(
    "body",
    [
        {"input_data": [[1.0, 2.0, 3.0]]},  # Azure ML's tensor form, as the docs' own payloads send it
        {"input_data": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]},
        {"instances": [[1.0, 2.0, 3.0]]},
    ],
)
def test_positional_rows_are_captured_under_the_signature_columns(served: Served, body: dict[str, Any]) -> None:
    """monitoring.md: captured rows have one column per input (the model's inputs a, b, c), whichever
    accepted form the request used, so monitors compare them with the baseline's columns."""
    tag = f"pos-{uuid.uuid4().hex[:8]}"
    path = "/score" if "input_data" in body else "/invocations"
    assert served.request(path, body, headers={"x-mlops-correlation-id": tag})[0] == 200
    frame = served.client.monitoring.read_captures(ENDPOINT, deployment="one")
    ours = frame[frame["_id"].astype(str).str.startswith(tag)]
    assert len(ours) == len(next(iter(body.values())))
    assert ours[["a", "b", "c"]].astype(float).values.tolist() == [[1.0, 2.0, 3.0]] * len(ours)
    assert not [column for column in frame.columns if column.startswith("input_")]


def test_memory_captures_positional_rows_under_the_signature_columns(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """monitoring.md: memory deployments capture with the server's columns: positional rows by the model's inputs."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="memcap", deployment="one", capture=Capture()).result()
    mem.deployments.invoke("memcap", {"input_data": [ROW, [0.0, 0.0, 1.0]]})
    frame = mem.monitoring.read_captures("memcap")
    assert frame[["a", "b", "c"]].astype(float).values.tolist() == [ROW, [0.0, 0.0, 1.0]]
    report = mem.monitoring.run(
        Monitor(endpoint="memcap", signals=[DataQuality()]), baseline_data=_frame(50).assign(a=1.0, b=2.0, c=3.0)
    )
    assert report.signal("data_quality").skipped is False


def test_a_rollout_retries_failed_traffic_changes_without_doing_them_twice(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """testing.md/deployments.md: a failed set_traffic (503) is retried by the rollout; an answer lost after
    the change took effect is found as its own change (no conflict, no second entry); a lost create is
    found by the re-run (changed=False), which finishes the traffic steps."""
    from mlops_sdk.testing import faults

    mem.deployments.begin_deploy(model_dirs["one"], endpoint="flaky", deployment="one").result()
    injected = faults(mem)
    injected.fail_next("deployments.set_traffic", times=2)
    result = mem.deployments.begin_deploy(
        model_dirs["two"], endpoint="flaky", deployment="two", strategy=BlueGreen(steps=[10, 50, 100])
    ).result()
    assert result.traffic["two"] == 100
    changes = [h.traffic for h in mem.deployments.history("flaky") if h.deployment == "two" and h.action == "traffic"]
    assert changes == [{"one": 90, "two": 10}, {"one": 50, "two": 50}, {"one": 0, "two": 100}]
    injected.drop_answer("deployments.set_traffic", status_code=503)
    result = mem.deployments.begin_deploy(
        model_dirs["three"], endpoint="flaky", deployment="three", strategy=BlueGreen(steps=[10, 100])
    ).result()
    assert result.traffic["three"] == 100
    changes = [h for h in mem.deployments.history("flaky") if h.deployment == "three" and h.action == "traffic"]
    assert len(changes) == 2
    injected.drop_answer("deployments.create_deployment")
    with pytest.raises(OperationFailedError):
        mem.deployments.begin_deploy(model_dirs["one"], endpoint="flaky", deployment="again").result()
    rerun = mem.deployments.begin_deploy(model_dirs["one"], endpoint="flaky", deployment="again").result()
    assert rerun.changed is False
    assert rerun.traffic["again"] == 100


def test_a_server_outlives_a_crashed_script_unless_tied_to_it(served: Served) -> None:
    """deployments.md: a local endpoint server outlives your script, also when it crashes; with
    stop_with_client=True it stops when the process is killed (SIGKILL): the server checks its owner."""
    import signal

    script = (
        "import os, sys, json\n"
        "from mlops_sdk import MLOpsClient\n"
        "client = MLOpsClient(sys.argv[1], show_progress=False)\n"
        "client.deployments.begin_create_endpoint(sys.argv[2], stop_with_client=sys.argv[3] == 'tied').result()\n"
        "print(json.load(open(sys.argv[4]))['pid'], flush=True)\n"
        "if sys.argv[3] == 'tied':\n"
        "    sys.stdin.read()  # killed here\n"
        "os._exit(1)  # a crash: no close(), no atexit\n"
    )
    pids = {}
    for name, mode in (("orphan-ep", "free"), ("tied-kill", "tied")):
        server_json = served.store / "endpoints" / name / "server.json"
        child = subprocess.Popen(
            [sys.executable, "-c", script, f"local://{served.store}", name, mode, str(server_json)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        pids[name] = int(child.stdout.readline())
        if mode == "tied":
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    assert _alive(pids["orphan-ep"])
    assert served.client.deployments.get_endpoint("orphan-ep").name == "orphan-ep"
    assert _gone(pids["tied-kill"])
    for name in pids:
        served.client.deployments.delete_endpoint(name)
    assert _gone(pids["orphan-ep"])


def test_ground_truth_from_files_and_frames(mem: MLOpsClient, tmp_path: Path) -> None:
    """monitoring.md: data= takes a DataFrame or a Parquet/CSV/JSON path (id column read as text); a missing
    file or column is a ConfigurationError naming data; ids/labels and data= together are refused."""
    import pandas as pd

    mem.monitoring.log_inferences("files", _frame(3), predictions=[1.0, 0.0, 1.0], ids=["00042", "1e5", "x"])
    (tmp_path / "l.json").write_text(
        json.dumps([{"correlation_id": "00042", "label": 1}, {"correlation_id": "1e5", "label": 0}]), encoding="utf-8"
    )
    (tmp_path / "l.csv").write_text("cid,y\n00042,1\n", encoding="utf-8")
    pd.DataFrame({"correlation_id": ["x"], "label": [1.0]}).to_parquet(tmp_path / "l.parquet")
    assert mem.monitoring.log_ground_truth("files", data=str(tmp_path / "l.json")) == 2
    assert mem.monitoring.log_ground_truth("files", data=tmp_path / "l.csv", id_column="cid", label_column="y") == 1
    assert mem.monitoring.log_ground_truth("files", data=str(tmp_path / "l.parquet")) == 1
    for bad in (
        {"data": str(tmp_path / "l.csv")},  # default column names absent
        {"data": str(tmp_path / "missing.csv")},
        {"data": pd.DataFrame({"correlation_id": ["x"]})},
        {"data": str(tmp_path / "l.json"), "ids": ["x"], "labels": [1]},
    ):
        with pytest.raises(ConfigurationError) as info:
            mem.monitoring.log_ground_truth("files", **bad)
        assert info.value.details["field"] == "data"
    signal = ModelPerformance(thresholds={"accuracy": 0.5}, min_labels=1)
    report = mem.monitoring.run(Monitor(endpoint="files", signals=[signal]), baseline_data=_frame(3))
    assert report.labeled_rows == 3  # 00042 and 1e5 joined as text


def test_monitor_toml_threshold_overrides(mem: MLOpsClient, tmp_path: Path) -> None:
    """monitoring.md: thresholds = { "<signal name>.<stat>" = ... } in the TOML overrides the signal's own."""
    mem.monitoring.log_inferences("shift", _frame(300), predictions=[0.0] * 300)
    toml = tmp_path / "monitor.toml"
    for bound, outcome in ((100, "passed"), (0.25, "alert")):
        toml.write_text(
            f'[monitor]\nendpoint = "shift"\nthresholds = {{ "data_drift.psi" = {bound} }}\n'
            '[[monitor.signals]]\nkind = "data_drift"\n',
            encoding="utf-8",
        )
        report = mem.monitoring.run(str(toml), baseline_data=_frame(300, shift=-3))
        assert report.outcome == outcome
    with pytest.raises(ConfigurationError, match="nope.toml"):
        mem.monitoring.run(str(tmp_path / "nope.toml"))


def test_a_rerun_of_an_interrupted_rollout_keeps_the_original_baseline(
    mem: MLOpsClient, model_dirs: dict[str, Path]
) -> None:
    """deployments.md: re-running an interrupted rollout continues from the traffic it finds, and a rollback
    of the re-run restores the original baseline (the map before the first run), not the half-way map."""
    mem.deployments.begin_deploy(model_dirs["one"], endpoint="halfway", deployment="one").result()
    first = mem.deployments.begin_deploy(
        model_dirs["two"], endpoint="halfway", deployment="two", strategy=BlueGreen(steps=[10, 50, 100], bake_time=600)
    )
    with pytest.raises(OperationTimeoutError):
        first.result(timeout=60)  # interrupted after its first step
    assert mem.deployments.get_endpoint("halfway").traffic == {"one": 90, "two": 10}
    rerun = mem.deployments.begin_deploy(
        model_dirs["two"],
        endpoint="halfway",
        deployment="two",
        strategy=BlueGreen(steps=[10, 50, 100], smoke_test=SmokeTest(payload=PAYLOAD, expected=[123.0])),
    ).result()
    assert rerun.rolled_back is True
    assert rerun.changed is False
    live = {name: share for name, share in mem.deployments.get_endpoint("halfway").traffic.items() if share}
    assert live == {"one": 100}
