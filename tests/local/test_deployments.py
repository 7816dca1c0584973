"""DeploymentClient on the local backend: rollouts under load, smoke-test rollback, history, idempotency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.backends.spi.deployments import shift_traffic
from mlops_sdk.clients.deployments import DeploymentClient
from mlops_sdk.core.clock import SystemClock
from mlops_sdk.core.errors import ConfigurationError, OperationFailedError, ResourceNotFoundError
from mlops_sdk.models.deployments import BlueGreen, Replace, Shadow, SmokeTest
from mlops_sdk.models.registry import ModelVersion
from tests.loadgen import LoadRun, build_request
from tests.local._deploy import ROWS, Models, formula_a, formula_b, save_models

SETTINGS = {"show_progress": False, "poll_interval": 0.01}
PAYLOAD = {"input_data": ROWS}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


def _stop_all(store: Path) -> None:
    for folder in (store / "endpoints").glob("*"):
        if (folder / "config.json").is_file():
            EndpointServer(folder, folder.name).stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / ".mlops"
    yield folder
    _stop_all(folder)


@pytest.fixture
def client(store: Path) -> Iterator[DeploymentClient]:
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as deployments:
        yield deployments


def smoke(formula: Any, **options: Any) -> SmokeTest:
    return SmokeTest(payload=PAYLOAD, expected=[formula(row) for row in ROWS], ready_deadline=30, **options)


# -- the load test: 10 -> 50 -> 100 and a rollback with zero failed requests --------------------------------


class PhaseClock(SystemClock):
    """Real time, except that each bake sleep is a measuring window of the load run.

    During a sleep the rollout cannot change traffic, so every request SENT during it is routed
    under the map read at its start: the window tags those requests with that map, holds until
    ``per_window`` answers carry the tag (bounded by ``cap`` seconds) and then lets simulated time
    jump to the end of the bake.
    """

    def __init__(self, server: EndpointServer, load: LoadRun, per_window: int, cap: float = 20.0) -> None:
        self.server, self.load, self.per_window, self.cap = server, load, per_window, cap
        self.offset = 0.0
        self.windows: list[tuple[tuple[tuple[str, int], ...], int]] = []

    def now(self) -> datetime:
        from datetime import timedelta

        return super().now() + timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        if seconds < 0.5:
            time.sleep(max(0.0, seconds))
            return
        traffic = tuple(sorted((k, v) for k, v in self.server.admin("GET", "state")["traffic"].items() if v))
        tag = (len(self.windows), traffic)
        start = time.monotonic()
        self.load.tag = tag
        while sum(1 for s in self.load.samples if s.tag == tag) < self.per_window:
            assert time.monotonic() - start < self.cap, "load generator stalled"
            time.sleep(0.01)
        self.load.tag = None
        self.windows.append((traffic, len(self.windows)))
        self.offset += max(0.0, seconds - (time.monotonic() - start))


def test_blue_green_rollout_and_rollback_under_load_drop_nothing(store: Path, models: Models) -> None:
    with MLOpsClient(f"local://{store}", **SETTINGS) as setup:
        first = setup.deployments.begin_deploy(models.a, endpoint="load-ep", deployment="blue", strategy=Replace())
        assert first.result().traffic == {"blue": 100}
    server = EndpointServer(store / "endpoints" / "load-ep", "load-ep")
    info = server.info()
    assert info is not None
    request = build_request(
        info.host, info.port, "/score", b'{"input_data": [[1.0, 2.0, 3.0]]}', key=server.keys()["primary_key"]
    )
    load = LoadRun(info.host, info.port, [request], total=6000, concurrency=8)
    clock = PhaseClock(server, load, per_window=400)
    load.start()
    try:
        with DeploymentClient(f"local://{store}", clock=clock, settings=SETTINGS) as deployments:
            rollout = deployments.begin_deploy(
                models.b,
                endpoint="load-ep",
                deployment="green",
                strategy=BlueGreen(steps=[10, 50, 100], bake_time=60, smoke_test=smoke(formula_b)),
            ).result()
            back = deployments.begin_rollback("load-ep").result()
            clock.sleep(60)  # one more window after the rollback
    finally:
        load.stop()
        load.join(30)
    statuses = load.statuses()
    assert set(statuses) == {200}, f"failed requests during the rollout: {dict(statuses)}"
    assert sum(statuses.values()) >= 5 * 400
    assert rollout.succeeded
    assert not rollout.rolled_back
    assert [step.traffic for step in rollout.steps] == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]
    assert all(step.smoke is not None and step.smoke.passed for step in rollout.steps)
    assert back.deployment == "blue"
    assert back.traffic == {"blue": 100, "green": 0}
    observed = {}
    for traffic, index in clock.windows:
        split = load.split((index, traffic))
        total = sum(split.values())
        observed[index] = (dict(traffic), {name: count / total for name, count in split.items()})
    seen_maps = [weights for weights, _ in observed.values()]
    assert {"blue": 90, "green": 10} in seen_maps
    assert {"blue": 50, "green": 50} in seen_maps
    assert {"green": 100} in seen_maps
    assert seen_maps[-1] == {"blue": 100}
    for weights, fractions in observed.values():
        for name in set(weights) | set(fractions):
            assert abs(fractions.get(name, 0.0) - weights.get(name, 0) / 100) <= 0.03, (weights, fractions)


# -- smoke tests that fail roll back automatically ---------------------------------------------------------


def test_wrong_output_rolls_back_and_traffic_ends_exactly_as_before(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep1", deployment="blue", strategy=Replace()).result()
    before = client.get_endpoint("ep1").traffic
    result = client.begin_deploy(
        models.b,
        endpoint="ep1",
        deployment="green",
        strategy=BlueGreen(steps=[10, 100], smoke_test=smoke(formula_a)),  # B's output is not A's
    ).result()
    assert result.rolled_back
    assert not result.succeeded
    assert "smoke test before the 10% step failed" in (result.reason or "")
    assert "differs from the expected" in (result.reason or "")
    assert result.log_tail
    assert "loaded" in result.log_tail
    assert result.steps == []
    after = client.get_endpoint("ep1")
    assert after.traffic == before == {"blue": 100}
    assert [d.name for d in after.deployments] == ["blue"]  # the failed deployment was removed
    actions = [entry.action for entry in client.history("ep1")]
    assert actions[-3:] == ["smoke_failed", "rollback", "delete"]
    with pytest.raises(OperationFailedError, match="rolled back") as raised:
        result.raise_for_rollback()
    assert raised.value.details["log_tail"] == result.log_tail


def test_too_slow_rolls_back_after_a_step(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep2", deployment="blue", strategy=Replace()).result()
    result = client.begin_deploy(
        models.b,
        endpoint="ep2",
        deployment="green",
        strategy=BlueGreen(steps=[50, 100], smoke_test=smoke(formula_b, latency_budget=1e-7), keep_failed=True),
    ).result()
    assert result.rolled_back
    assert "exceeds the budget" in (result.reason or "")
    assert result.previous_traffic == {"blue": 100}
    assert result.traffic == {"blue": 100, "green": 0}
    endpoint = client.get_endpoint("ep2")
    assert endpoint.traffic == {"blue": 100, "green": 0}
    assert "green" in [d.name for d in endpoint.deployments]  # keep_failed keeps it at 0 % for debugging


def test_rollback_off_fails_the_operation_and_leaves_traffic(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep3", deployment="blue", strategy=Replace()).result()
    operation = client.begin_deploy(
        models.b,
        endpoint="ep3",
        deployment="green",
        strategy={"steps": [100], "smoke_test": {"payload": PAYLOAD, "shape": [5]}, "rollback_on_failure": False},
    )
    with pytest.raises(OperationFailedError, match=r"output shape \[2\] does not match"):
        operation.result()
    assert client.get_endpoint("ep3").traffic == {"blue": 100, "green": 0}


# -- the rest of the contract -----------------------------------------------------------------------------


def test_rollout_keeps_other_deployments_share_and_is_idempotent(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep4", deployment="aaa", strategy=Replace()).result()
    client.begin_deploy(models.b, endpoint="ep4", deployment="bbb", strategy=BlueGreen(steps=[30, 100])).result()
    client.begin_rollback("ep4", to="aaa").result()
    EndpointServer(client_store(client) / "endpoints" / "ep4", "ep4").admin(
        "PUT", "traffic", {"traffic": {"aaa": 70, "bbb": 30}}
    )
    rollout = client.begin_deploy(
        models.pyfunc, endpoint="ep4", deployment="ccc", strategy=BlueGreen(steps=[50, 100])
    ).result()
    assert rollout.steps[0].traffic == {"aaa": 35, "bbb": 15, "ccc": 50}
    assert rollout.steps[1].traffic == {"aaa": 0, "bbb": 0, "ccc": 100}
    count = len(client.history("ep4"))
    again = client.begin_deploy(models.pyfunc, endpoint="ep4", deployment="ccc").result()
    assert again.changed is False
    assert again.succeeded
    assert again.traffic == {"aaa": 0, "bbb": 0, "ccc": 100}
    assert len(client.history("ep4")) == count  # nothing changed, nothing recorded
    assert client.invoke("ep4", {"dataframe_split": {"columns": ["a", "b", "c"], "data": ROWS}}) == pytest.approx(
        [row[0] * 10 + row[1] for row in ROWS]
    )


def client_store(client: DeploymentClient) -> Path:
    return Path(client.target.removeprefix("local://"))


def test_shift_traffic_math() -> None:
    assert shift_traffic({"a": 100}, "new", 10) == {"a": 90, "new": 10}
    assert shift_traffic({"a": 70, "b": 30, "z": 0}, "new", 50) == {"a": 35, "b": 15, "z": 0, "new": 50}
    assert shift_traffic({"a": 33, "b": 33, "c": 34}, "new", 10) == {"a": 30, "b": 30, "c": 30, "new": 10}
    assert sum(shift_traffic({"a": 1, "b": 1, "c": 98}, "n", 7).values()) == 100
    assert shift_traffic({}, "new", 10) == {"new": 100}
    assert shift_traffic({"old": 0}, "new", 10) == {"old": 0, "new": 100}


def test_shadow_mirrors_without_live_traffic(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep5", deployment="blue", strategy=Replace()).result()
    result = client.begin_deploy(
        models.b, endpoint="ep5", deployment="shadow", strategy=Shadow(mirror_percent=25, smoke_test=smoke(formula_b))
    ).result()
    assert result.traffic == {"blue": 100, "shadow": 0}
    assert result.mirror == {"shadow": 25}
    for _ in range(8):
        assert client.invoke("ep5", PAYLOAD) == pytest.approx([formula_a(row) for row in ROWS])
    stats = EndpointServer(client_store(client) / "endpoints" / "ep5", "ep5").admin("GET", "stats")
    assert stats["shadow"]["mirrored"] == 2
    with pytest.raises(ConfigurationError, match="mirror_percent must be from 1 to 50"):
        client.begin_deploy(models.b, endpoint="ep5", strategy={"kind": "shadow", "mirror_percent": 60})


def test_registered_model_version_history_and_lineage(store: Path, models: Models) -> None:
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{store}/mlflow.db"
    store.mkdir(parents=True, exist_ok=True)
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = registry.create_experiment("deploy-test", artifact_location=(store / "artifacts").as_uri())
    run = registry.create_run(experiment)
    registry.log_artifacts(run.info.run_id, str(models.a), artifact_path="model")
    registry.create_registered_model("diabetes")
    registry.create_model_version("diabetes", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    del mlflow
    version = ModelVersion(name="diabetes", version="1", uri="models:/diabetes/1", run_id=run.info.run_id)
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as client:
        result = client.begin_deploy(version, endpoint="reg-ep", strategy=BlueGreen(steps=[100])).result()
        history = client.history("reg-ep")
        endpoint = client.get_endpoint("reg-ep")
        assert client.invoke("reg-ep", PAYLOAD) == pytest.approx([formula_a(row) for row in ROWS])
    assert result.deployment == "diabetes-v1"
    assert result.model == "diabetes@1"
    assert result.model_uri == "models:/diabetes/1"
    assert endpoint.deployments[0].model == "diabetes@1"
    assert endpoint.scoring_uri is not None
    assert endpoint.scoring_uri.startswith("http://127.0.0.1:")
    assert [entry.action for entry in history] == ["deploy", "traffic"]
    assert history[-1].traffic == {"diabetes-v1": 100}
    assert history[-1].by
    assert history[-1].model == "diabetes@1"
    assert history[-1].lineage.user == history[-1].by


def test_failed_deployment_carries_the_log_tail(client: DeploymentClient, models: Models) -> None:
    with pytest.raises(OperationFailedError) as raised:
        client.begin_deploy(models.broken, endpoint="ep6", deployment="bad").result()
    message = str(raised.value)
    assert "Deployment log tail" in message
    assert "cannot load the scikit-learn model" in raised.value.details["log_tail"]
    assert client.get_endpoint("ep6").traffic == {}
    assert [entry.action for entry in client.history("ep6")][-1] == "failed"


def test_resume_from_token_in_another_client(store: Path, models: Models) -> None:
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as first:
        first.begin_deploy(models.a, endpoint="ep7", deployment="blue", strategy=Replace()).result()
        operation = first.begin_deploy(
            models.b, endpoint="ep7", deployment="green", strategy=BlueGreen(steps=[20, 100], bake_time=3600)
        )
        operation.status()  # creates the deployment and moves to 20 %, then bakes for an hour
        token = operation.continuation_token()
    with DeploymentClient(f"local://{store}", settings=SETTINGS, clock=_Jump()) as second:
        assert second.get_endpoint("ep7").traffic == {"blue": 80, "green": 20}
        result = second.resume_operation(token).result()
    assert result.succeeded
    assert result.traffic == {"blue": 0, "green": 100}
    assert [step.percent for step in result.steps] == [20, 100]


class _Jump(SystemClock):
    """Real clock whose sleeps jump simulated time instead of waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        from datetime import timedelta

        return super().now() + timedelta(seconds=self.offset)

    def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


def test_endpoint_listing_stop_logs_and_delete(client: DeploymentClient, models: Models) -> None:
    client.begin_deploy(models.a, endpoint="ep8", deployment="blue", strategy=Replace()).result()
    assert [endpoint.name for endpoint in client.list_endpoints()] == ["ep8"]
    assert client.stop_endpoint("ep8") is True
    stopped = client.get_endpoint("ep8")
    assert stopped.state == "Stopped"
    assert stopped.traffic == {"blue": 100}
    assert client.invoke("ep8", PAYLOAD, deployment="blue") == pytest.approx([formula_a(r) for r in ROWS])
    assert "loaded" in client.get_logs("ep8")
    client.delete_endpoint("ep8")
    assert client.list_endpoints() == []
    with pytest.raises(ResourceNotFoundError, match="endpoints: none"):
        client.get_endpoint("ep8")
    assert client.history("ep8")[-1].action == "delete"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"endpoint": "a"}, "endpoint name 'a' is invalid"),
        ({"endpoint": "ok-name", "deployment": "9bad"}, "deployment name '9bad' is invalid"),
        ({"endpoint": "ok-name", "strategy": {"steps": [50, 10]}}, "steps must increase"),
        ({"endpoint": "ok-name", "strategy": {"steps": [10, 50]}}, "last step must be 100"),
        ({"endpoint": "ok-name", "strategy": {"smoke_test": {"payload": {}}}}, "needs an expectation"),
        ({"endpoint": "ok-name", "strategy": 5}, "strategy must be"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    client: DeploymentClient, models: Models, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        client.begin_deploy(models.a, **kwargs).result()


def test_missing_model_folder_is_a_configuration_error(client: DeploymentClient, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not an MLflow model directory"):
        client.begin_deploy(tmp_path / "nothing-here", endpoint="ep9").result()


def test_endpoint_created_ahead_preloads_and_the_first_deployment_uses_it(store: Path, models: Models) -> None:
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as client:
        operation = client.begin_create_endpoint("ep10")
        # begin_* started the work and returned: the server process runs before anybody waits
        server = EndpointServer(store / "endpoints" / "ep10", "ep10")
        assert server.starting() or server.running() is not None
        endpoint = operation.result()
        assert (endpoint.name, endpoint.state, endpoint.deployments, endpoint.traffic) == ("ep10", "Running", [], {})
        pid = server.info().pid  # type: ignore[union-attr]
        again = client.begin_create_endpoint("ep10").result()  # exists: nothing new starts
        assert again.scoring_uri == endpoint.scoring_uri
        assert server.info().pid == pid  # type: ignore[union-attr]
        # bounded wait: the preload runs at the lowest priority, so on a busy machine it takes minutes
        deadline = time.monotonic() + 240
        while "preloaded" not in server.log_tail() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "preloaded sklearn.base, skops.io" in server.log_tail()
        result = client.begin_deploy(models.a, endpoint="ep10", deployment="blue", strategy=Replace()).result()
        assert result.succeeded
        assert client.invoke("ep10", PAYLOAD) == pytest.approx([formula_a(row) for row in ROWS])
        assert server.info().pid == pid  # type: ignore[union-attr]
        assert client.history("ep10")[0].action == "deploy"


def test_endpoint_creation_resumes_from_its_token_and_names_are_checked(store: Path) -> None:
    with DeploymentClient(f"local://{store}", settings=SETTINGS) as client:
        token = client.begin_create_endpoint("ep11").continuation_token()
        with pytest.raises(ConfigurationError, match="endpoint name 'x' is invalid"):
            client.begin_create_endpoint("x")
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        endpoint = hub.resume_operation(token).result()
    assert endpoint.name == "ep11"
    assert endpoint.state == "Running"


def test_sizing_is_accepted_and_reported_as_ignored_locally(client: DeploymentClient, models: Models) -> None:
    from mlops_sdk import Autoscale, Probe, RequestSettings, Resources

    resources = Resources(
        instance_type="Standard_F4s_v2",
        instance_count=2,
        request=RequestSettings(request_timeout=10, max_concurrent_requests_per_instance=4),
        readiness_probe=Probe(initial_delay=5),
        autoscale=Autoscale(min_instances=1, max_instances=3),
    )

    result = client.begin_deploy(
        models.a, endpoint="sized", deployment="aaa", strategy=Replace(), resources=resources
    ).result()

    assert result.succeeded
    assert result.resources == resources
    # Every field given is listed with why it cannot apply here; fields left out are not.
    assert sorted(result.resources_ignored) == [
        "autoscale",
        "instance_count",
        "instance_type",
        "readiness_probe",
        "request",
    ]
    assert "one server process" in result.resources_ignored["instance_type"]
    assert client.invoke("sized", {"dataframe_split": {"columns": ["a", "b", "c"], "data": ROWS}}) == pytest.approx(
        [formula_a(row) for row in ROWS]
    )
    with pytest.raises(ConfigurationError, match="resources"):
        client.begin_deploy(models.a, endpoint="sized", deployment="bbb", resources={"instance_count": -1})


def test_a_rerun_writes_the_deploy_entry_a_killed_rollout_left_out(
    client: DeploymentClient, store: Path, models: Models
) -> None:
    """Found by the crash sweep: killed between creating the deployment and writing its history entry."""
    import sqlite3

    first = client.begin_deploy(models.a, endpoint="ep-hist", deployment="blue", strategy=Replace()).result()
    assert first.succeeded
    # What the killed process left: the deployment serves, its 'deploy' entry was never written.
    with sqlite3.connect(store / "mlops.db") as db:
        db.execute("DELETE FROM deployment_history WHERE endpoint = 'ep-hist' AND action = 'deploy'")
    assert [e.action for e in client.history("ep-hist")] == ["traffic"]

    again = client.begin_deploy(models.a, endpoint="ep-hist", deployment="blue", strategy=Replace()).result()

    assert again.succeeded
    assert again.traffic == {"blue": 100}
    entries = client.history("ep-hist")
    assert [(e.action, e.deployment) for e in entries] == [("traffic", "blue"), ("deploy", "blue")]
    assert "re-run" in (entries[-1].reason or "")
    # A further re-run finds the entry and writes nothing.
    client.begin_deploy(models.a, endpoint="ep-hist", deployment="blue", strategy=Replace()).result()
    assert len(client.history("ep-hist")) == 2
