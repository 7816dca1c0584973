"""memory:// deployments beyond the conformance suite: fault injection, the fake clock, tokens, input errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import (
    ConfigurationError,
    ConflictError,
    OperationFailedError,
    OperationTimeoutError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from mlops_sdk.models.deployments import BlueGreen, Replace
from mlops_sdk.testing import FakeClock, faults
from mlops_sdk.testing.conformance.deployments import ROWS, _answers, _linear_model, _smoke


@pytest.fixture
def client(clock: FakeClock) -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", clock=clock, show_progress=False) as hub:
        yield hub


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """Two real scikit-learn MLflow models: intercept 0 and 10 (saving one costs about a second)."""
    folder = tmp_path_factory.mktemp("models")
    return {intercept: _linear_model(folder, intercept) for intercept in (0.0, 10.0)}


def _blue(client: MLOpsClient, models: dict[float, Path], endpoint: str = "churn") -> None:
    client.deployments.begin_deploy(models[0.0], endpoint=endpoint, deployment="blue", strategy=Replace()).result()


def test_bake_times_pass_on_the_fake_clock_and_each_step_is_one_traffic_change(
    client: MLOpsClient, models: dict[float, Path], clock: FakeClock
) -> None:
    _blue(client, models)
    started = clock.monotonic()
    result = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[25, 100], bake_time=600)
    ).result()
    assert result.succeeded
    assert [step.percent for step in result.steps] == [25, 100]
    assert clock.monotonic() - started >= 600  # one bake between the steps, slept on the fake clock
    assert faults(client).calls["deployments.set_traffic"] == 3  # blue's 100 %, then 25 % and 100 %
    assert result.steps[1].at > result.steps[0].at


def test_a_failed_traffic_change_is_retried_and_the_rollout_completes(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    _blue(client, models)
    faults(client).fail_next("deployments.set_traffic", times=2)
    result = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100])
    ).result()
    assert (result.succeeded, result.traffic) == (True, {"blue": 0, "green": 100})
    assert faults(client).calls["deployments.set_traffic"] == 1 + 2 + 2  # blue, two refused, two steps
    assert [e.traffic for e in client.deployments.history("churn") if e.action == "traffic"][-2:] == [
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]


def test_a_lost_answer_after_the_traffic_moved_is_redone_idempotently(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    _blue(client, models)
    faults(client).drop_answer("deployments.create_deployment")
    with pytest.raises(OperationFailedError, match="lost after it took effect"):
        client.deployments.begin_deploy(models[10.0], endpoint="churn", deployment="green", strategy=Replace()).result()
    assert "green" in [d.name for d in client.deployments.get_endpoint("churn").deployments]  # it did happen
    again = client.deployments.begin_deploy(models[10.0], endpoint="churn", deployment="green", strategy=Replace())
    result = again.result()
    assert (result.succeeded, result.changed, result.traffic) == (True, False, {"blue": 0, "green": 100})
    assert client.deployments.invoke("churn", ROWS) == pytest.approx(_answers(10.0))
    deploys = [e for e in client.deployments.history("churn") if e.action == "deploy" and e.deployment == "green"]
    assert len(deploys) == 1


def test_a_step_whose_answer_was_lost_after_it_moved_the_traffic_is_not_a_conflict(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    """A retried step finds the traffic it set itself (a gateway 503 after the service acted): the
    rollout goes on. Only a change that is not this operation's own stops it (ConflictError)."""
    _blue(client, models)
    operation = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100], bake_time=60)
    )
    assert operation.status().value == "Running"  # the 50 % step is made
    assert client.deployments.get_endpoint("churn").traffic == {"blue": 50, "green": 50}
    faults(client).drop_answer("deployments.set_traffic", status_code=503)  # the 100 % step: applied, answer lost
    result = operation.result()
    assert (result.succeeded, result.traffic) == (True, {"blue": 0, "green": 100})


def test_a_traffic_change_by_someone_else_stops_the_rollout_and_is_left_alone(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    _blue(client, models)
    operation = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[50, 100], bake_time=60)
    )
    operation.status()  # the 50 % step
    client.deployments.begin_rollback("churn", to="blue").result()  # an operator puts blue back meanwhile
    with pytest.raises(ConflictError, match="changed while") as caught:
        operation.result()
    assert caught.value.details["expected"] == {"blue": 50, "green": 50}
    assert client.deployments.get_endpoint("churn").traffic == {"blue": 100, "green": 0}  # the operator's


def test_a_hung_provisioning_times_out_on_the_fake_clock_then_finishes_once_released(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    _blue(client, models)
    injector = faults(client)
    injector.hang("deployments.provision")
    operation = client.deployments.begin_deploy(models[10.0], endpoint="churn", deployment="green", strategy=Replace())
    with pytest.raises(OperationTimeoutError):
        operation.wait(timeout=120)
    endpoint = client.deployments.get_endpoint("churn")
    assert {d.name: d.state for d in endpoint.deployments} == {"blue": "Succeeded", "green": "Creating"}
    assert endpoint.traffic == {"blue": 100, "green": 0}
    assert client.deployments.invoke("churn", ROWS) == pytest.approx(_answers(0.0))
    injector.release("deployments.provision")
    resumed = client.deployments.resume_operation(operation.continuation_token())
    assert resumed.result().traffic == {"blue": 0, "green": 100}


def test_a_provisioning_failure_fails_the_rollout_with_the_log_and_keeps_the_traffic(
    client: MLOpsClient, models: dict[float, Path]
) -> None:
    _blue(client, models)
    faults(client).fail_next("deployments.provision")
    with pytest.raises(OperationFailedError, match="injected fault") as caught:
        client.deployments.begin_deploy(models[10.0], endpoint="churn", deployment="green", strategy=Replace()).result()
    assert "deployments.provision failed" in (caught.value.details["log_tail"] or "")
    assert client.deployments.get_endpoint("churn").traffic == {"blue": 100, "green": 0}
    assert "deployments.provision failed" in client.deployments.get_logs("churn")


def test_a_failing_smoke_sample_is_an_answer_not_an_exception(client: MLOpsClient, models: dict[float, Path]) -> None:
    _blue(client, models)
    faults(client).fail_next("deployments.score")
    result = client.deployments.begin_deploy(
        models[10.0], endpoint="churn", deployment="green", strategy=BlueGreen(steps=[100], smoke_test=_smoke(10.0))
    ).result()
    assert result.succeeded  # 503 is "not ready yet": the smoke test asked again
    assert result.steps[0].smoke is not None
    assert result.steps[0].smoke.attempts == 2


def test_both_scoring_protocols_and_bad_input_naming_the_cell(client: MLOpsClient, models: dict[float, Path]) -> None:
    _blue(client, models)
    records = {"dataframe_records": [{"a": 1, "b": 0}, {"a": 0, "b": 1}]}
    assert client.deployments.invoke("churn", records) == pytest.approx(_answers(0.0))
    with pytest.raises(ServiceResponseError, match="row 1, column 'b'") as caught:
        client.deployments.invoke("churn", {"input_data": {"columns": ["a", "b"], "data": [[1, 0], [0, "x"]]}})
    assert caught.value.status_code == 400
    with pytest.raises(ResourceNotFoundError, match="'gold'"):
        client.deployments.invoke("churn", ROWS, deployment="gold")


def test_endpoints_cannot_be_stopped_and_bad_names_are_refused(client: MLOpsClient, models: dict[float, Path]) -> None:
    _blue(client, models)
    with pytest.raises(ConfigurationError, match="cannot be stopped"):
        client.deployments.stop_endpoint("churn")
    assert client.deployments.start_endpoint("churn").traffic == {"blue": 100}
    with pytest.raises(ConfigurationError, match="endpoint name") as caught:
        client.deployments.begin_deploy(models[0.0], endpoint="x", strategy=Replace())
    assert caught.value.details["field"] == "endpoint"
    assert [e.name for e in client.deployments.list_endpoints()] == ["churn"]


def test_named_stores_share_endpoints(tmp_path: Path, models: dict[float, Path]) -> None:
    from mlops_sdk.backends.memory import reset_memory_stores

    try:
        with MLOpsClient("memory://serving", show_progress=False) as first:
            _blue(first, models, endpoint="shared")
            with MLOpsClient("memory://serving", show_progress=False) as second:
                assert second.deployments.invoke("shared", ROWS) == pytest.approx(_answers(0.0))
    finally:
        reset_memory_stores()


def test_capture_keeps_every_scored_request_with_the_local_servers_columns(
    client: MLOpsClient, clock: FakeClock, models: dict[float, Path], tmp_path: Path
) -> None:
    from mlops_sdk import Capture

    client.deployments.begin_deploy(
        models[0.0], endpoint="churn", deployment="blue", strategy=Replace(), capture=Capture()
    ).result()
    one_row = {"input_data": {"columns": ["a", "b"], "data": [[2, 1]]}}
    assert client.deployments.invoke("churn", one_row) == pytest.approx([4.0])
    assert client.deployments.invoke("churn", ROWS) == pytest.approx(_answers(0.0))
    answered = clock.now().timestamp()
    clock.advance(1)  # a window ends before "now": the requests above are one second old
    captured = client.monitoring.read_captures("churn", window="1h").sort_values("_ts", kind="stable")
    smoke = len(captured) - 3  # the rollout's smoke test is a scored request too, as on the server
    assert smoke >= 0
    rows = captured.iloc[smoke:]
    assert rows[["a", "b"]].values.tolist() == [[2, 1], [1, 0], [0, 1]]
    assert rows["_prediction"].tolist() == pytest.approx([4.0, 3.0, -2.0])
    single, first, second = rows["_id"].tolist()
    assert len(single) == 32
    assert ":" not in single
    assert first.endswith(":0")
    assert second == first[:-1] + "1"
    assert first[:-2] == rows["_request_id"].iloc[1]
    assert set(rows["_deployment"]) == {"blue"}
    assert [stamp.timestamp() for stamp in rows["_ts"]] == pytest.approx([answered] * 3)  # the client's clock
    stats = client.monitoring.capture_stats("churn")
    assert stats.captured == stats.written == len(captured)
    assert stats.lost == 0
    assert stats.deployments["blue"]["captured"] == len(captured)

    # the same columns as a capture file written by the local endpoint server for the same request
    from mlops_sdk.backends.local.serving.capture import CaptureHub
    from mlops_sdk.backends.local.serving.payloads import parse_json_body

    hub = CaptureHub(tmp_path)
    metadata = {"capture": Capture().model_dump(mode="json")}
    hub.record({}, "blue", type("Deployment", (), {"metadata": metadata})(), parse_json_body(
        b'{"input_data": {"columns": ["a", "b"], "data": [[2, 1]]}}', protocol="azureml"), [4.0])  # fmt: skip
    asyncio.run(hub.close())
    written = pq.read_schema(next(tmp_path.rglob("part-*.parquet")))
    assert set(written.names) == set(captured.columns)


def test_capture_sampling_and_outputs_only(client: MLOpsClient, clock: FakeClock, models: dict[float, Path]) -> None:
    from mlops_sdk import Capture

    client.deployments.begin_deploy(
        models[0.0], endpoint="none", deployment="blue", strategy=Replace(), capture=Capture(sample_rate=1e-12)
    ).result()
    client.deployments.invoke("none", ROWS)
    clock.advance(1)
    assert len(client.monitoring.read_captures("none", window="1h")) == 0
    stats = client.monitoring.capture_stats("none")
    assert stats.captured == 0
    assert stats.sampled_out >= 2
    assert stats.deployments["blue"]["sampled_out"] == stats.sampled_out

    client.deployments.begin_deploy(
        models[0.0], endpoint="outs", deployment="blue", strategy=Replace(), capture=Capture(inputs=False)
    ).result()
    client.deployments.invoke("outs", ROWS)
    clock.advance(1)
    captured = client.monitoring.read_captures("outs", window="1h")
    assert "a" not in captured.columns
    assert "b" not in captured.columns
    assert captured["_prediction"].tolist()[-2:] == pytest.approx(_answers(0.0))
