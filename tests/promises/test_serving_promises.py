"""Black-box tests of the serving promises, written from the public docs alone.

Pages: docs/deployments.md, docs/monitoring.md, docs/operations.md, docs/secrets.md and the README
sections on endpoints, scoring, rollout, monitoring and the ``mlops endpoint/deploy/monitor``
commands. Only the public Python API and the ``mlops`` command line are used, on ``memory://``
(rollout logic on a fake clock) and ``local://`` (a real endpoint server on 127.0.0.1) in temporary
folders. Each test names the promise it holds the product to.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
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
    Guardrails,
    Linear,
    MLOpsClient,
    OperationFailedError,
    OperationTimeoutError,
    Replace,
    ResourceNotFoundError,
    ServiceResponseError,
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
    ],
)
def test_invalid_strategy_values_name_the_field(build: Any, field: str) -> None:
    """deployments.md: invalid values raise ConfigurationError with details["field"] (Canary.percent ...)."""
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
