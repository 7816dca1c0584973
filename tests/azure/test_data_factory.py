"""DataFactoryClient on Azure: the REAL DataFactoryManagementClient over loopback TLS against tests/fakes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import (
    ConfigurationError,
    OperationCanceledError,
    OperationFailedError,
    ResourceNotFoundError,
    Status,
)
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.core.operation import ProgressEvent
from mlops_sdk.models.data_factory import Schedule, StorageEvent
from mlops_sdk.testing import FakeClock
from tests.fakes.credential import FAKE_TOKEN, StaticTokenCredential
from tests.fakes.data_factory import API_VERSION, COPY_ACTIVITY, FakeDataFactory, RunPlan, failing_plan
from tests.fakes.server import FakeService, Fault

pytestmark = pytest.mark.azure

SUB, RG, FACTORY = "12345678-1234-1234-1234-12345678abc", "exampleResourceGroup", "exampleFactoryName"
TARGET = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/ws"
BASE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataFactory/factories/{FACTORY}"


@pytest.fixture
def adf(tls_ca: Any, clock: FakeClock) -> Iterator[FakeDataFactory]:
    service = FakeService(tls_ca).start()
    fake = FakeDataFactory(service, clock)
    fake.add_pipeline(
        "examplePipeline",
        parameters={"region": {"type": "String"}, "days": {"type": "Int", "defaultValue": 7}},
    )
    yield fake
    service.stop()


@pytest.fixture
def client(adf: FakeDataFactory, ca_bundle: Path, clock: FakeClock) -> Iterator[DataFactoryClient]:
    with DataFactoryClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        settings={
            "resource_manager_url": adf.service.url,
            "ca_bundle": str(ca_bundle),
            "data_factory": FACTORY,
            "show_progress": False,
        },
    ) as factory:
        yield factory


def _requests(adf: FakeDataFactory, method: str, suffix: str) -> list[Any]:
    return adf.service.requests_to(method, f"^{BASE}{suffix}$")


def test_refresh_runs_to_success_with_exact_requests(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    events: list[ProgressEvent] = []
    operation = client.begin_refresh("examplePipeline", parameters={"region": "eu"}, progress=events.append)
    run = operation.result()

    assert run.status is Status.SUCCEEDED
    assert run.native_status == "Succeeded"
    assert run.pipeline == "examplePipeline"
    assert run.parameters["region"] == "eu"
    assert run.idempotency_key is not None
    assert run.parameters == {"region": "eu", "mlops_request_id": run.idempotency_key}
    assert [a.name for a in run.activities] == ["ExampleCopyActivity"]
    assert run.lineage.refresh_run_id == run.run_id
    natives = [event.native_status for event in events]
    assert natives[0] == "Queued"
    assert "InProgress" in natives
    assert natives[-1] == "Succeeded"

    # Every request: api-version 2018-06-01, bearer token from the credential.
    assert adf.service.requests
    for request in adf.service.requests:
        assert request.api_version == API_VERSION
        assert request.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    sequence = [(r.method, r.path.removeprefix(BASE)) for r in adf.service.requests]
    # The happy path: createRun straight away, no lookup of the (generated, fresh) key at all.
    assert sequence[:2] == [("GET", "/pipelines/examplePipeline"), ("POST", "/pipelines/examplePipeline/createRun")]
    assert not _requests(adf, "POST", "/queryPipelineRuns")
    create = adf.service.requests[1]
    assert create.json == {"region": "eu", "mlops_request_id": run.idempotency_key}
    assert not {"referencePipelineRunId", "isRecovery"} & set(create.query)
    polls = [path for method, path in sequence[2:] if method == "GET"]
    assert polls
    assert all(path == f"/pipelineruns/{run.run_id}" for path in polls)
    activity_query = _requests(adf, "POST", f"/pipelineruns/{run.run_id}/queryActivityruns")[-1]
    assert set(activity_query.json) == {"lastUpdatedAfter", "lastUpdatedBefore"}


def test_an_explicit_key_is_looked_up_once_before_creating(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    client.begin_refresh("examplePipeline", parameters={"region": "eu"}, idempotency_key="flow-1:refresh")

    sequence = [(r.method, r.path.removeprefix(BASE)) for r in adf.service.requests]
    assert sequence == [
        ("GET", "/pipelines/examplePipeline"),
        ("POST", "/queryPipelineRuns"),
        ("POST", "/pipelines/examplePipeline/createRun"),
    ]
    lookup = adf.service.requests[1].json
    assert set(lookup) == {"lastUpdatedAfter", "lastUpdatedBefore", "filters", "orderBy"}
    assert lookup["filters"] == [{"operand": "PipelineName", "operator": "Equals", "values": ["examplePipeline"]}]
    assert lookup["orderBy"] == [{"orderBy": "RunStart", "order": "DESC"}]  # newest first: stops at the match


def test_same_idempotency_key_reattaches_instead_of_starting_a_second_run(
    client: DataFactoryClient, adf: FakeDataFactory
) -> None:
    first = client.begin_refresh("examplePipeline", parameters={"region": "eu"}, idempotency_key="k-1")
    again = client.begin_refresh("examplePipeline", parameters={"region": "eu"}, idempotency_key="k-1")

    assert again.id == first.id
    assert len(adf.runs_of("examplePipeline")) == 1
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == 1


@pytest.mark.parametrize(
    ("fault", "creates", "ambiguous"),
    [
        pytest.param(
            Fault("POST", "createRun$", status=429, headers={"Retry-After": "7"}), 2, False, id="429-retry-after"
        ),
        pytest.param(Fault("POST", "createRun$", status=503), 2, True, id="503-before-run-created"),
        pytest.param(Fault("POST", "createRun$", status=503, after_handler=True), 1, True, id="503-after-run-created"),
        pytest.param(
            Fault("POST", "createRun$", drop=True, after_handler=True), 1, True, id="dropped-after-run-created"
        ),
        pytest.param(Fault("POST", "createRun$", drop=True), 2, True, id="dropped-before-run-created"),
    ],
)
def test_faults_on_create_run_leave_exactly_one_run(
    client: DataFactoryClient, adf: FakeDataFactory, clock: FakeClock, fault: Fault, creates: int, ambiguous: bool
) -> None:
    adf.service.inject(fault)

    run = client.begin_refresh("examplePipeline", parameters={"region": "us"}).result()

    runs = adf.runs_of("examplePipeline")
    assert len(runs) == 1
    assert runs[0]["runId"] == run.run_id
    assert run.status is Status.SUCCEEDED
    # azure-core's own retries are off: every createRun attempt is ours.
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == creates
    lookups = _requests(adf, "POST", "/queryPipelineRuns")
    if not ambiguous:
        assert not lookups  # a clean refusal started nothing: no lookup needed
    elif creates == 1:
        assert len(lookups) == 1  # the run shows at once: found by the first lookup
    else:
        # Nothing shows: looked up with backoff until the visibility wait (30 s) ran out, then created.
        assert len(lookups) >= 5
        # The retry's backoff, then the waits between the lookups: together the whole visibility wait.
        assert sum(clock.sleeps[: len(lookups)]) >= 30.0
    for lookup in lookups:
        assert lookup.json["filters"] == [
            {"operand": "PipelineName", "operator": "Equals", "values": ["examplePipeline"]}
        ]
    if fault.status == 429:
        assert 7.0 in clock.sleeps  # Retry-After honoured, on the injectable clock


@pytest.mark.parametrize("delay", [0.0, 2.0, 10.0])
def test_lost_create_run_answer_with_visibility_delay_leaves_exactly_one_run(
    client: DataFactoryClient, adf: FakeDataFactory, clock: FakeClock, delay: float
) -> None:
    adf.visibility_delay = delay
    adf.service.inject(Fault("POST", "createRun$", drop=True, after_handler=True))

    run = client.begin_refresh("examplePipeline", parameters={"region": "us"}).result()

    assert [item["runId"] for item in adf.runs_of("examplePipeline")] == [run.run_id]
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == 1
    lookups = _requests(adf, "POST", "/queryPipelineRuns")
    assert len(lookups) >= (1 if delay == 0 else 2)
    assert run.status is Status.SUCCEEDED


def test_visibility_lag_beyond_the_wait_is_the_documented_risk(
    ca_bundle: Path, adf: FakeDataFactory, clock: FakeClock
) -> None:
    """A run that stays invisible longer than data_factory_visibility_wait is created twice (documented)."""
    adf.visibility_delay = 12.0
    adf.service.inject(Fault("POST", "createRun$", drop=True, after_handler=True))
    settings = {
        "resource_manager_url": adf.service.url,
        "ca_bundle": str(ca_bundle),
        "data_factory": FACTORY,
        "show_progress": False,
        "data_factory_visibility_wait": 5.0,
    }
    with DataFactoryClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as factory:
        factory.begin_refresh("examplePipeline", parameters={"region": "us"})

    assert len(adf.runs_of("examplePipeline")) == 2
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == 2


def test_a_refused_connection_is_not_ambiguous_a_dropped_answer_is(ca_bundle: Path, adf: FakeDataFactory) -> None:
    import socket

    from azure.mgmt.datafactory import DataFactoryManagementClient

    from mlops_sdk import MlopsError
    from mlops_sdk.backends.azure.errors import azure_errors, is_ambiguous

    with socket.socket() as sock:  # a loopback port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{sock.getsockname()[1]}"

    def create(base_url: str) -> MlopsError:
        client = DataFactoryManagementClient(
            StaticTokenCredential(), SUB, base_url=base_url, connection_verify=str(ca_bundle), retry_total=0
        )
        try:
            with pytest.raises(MlopsError) as raised, azure_errors("creating"):
                client.pipelines.create_run(RG, FACTORY, "examplePipeline", {})
        finally:
            client.close()
        return raised.value

    refused = create(closed)
    adf.service.inject(Fault("POST", "createRun$", drop=True, after_handler=True))
    dropped = create(adf.service.url)

    assert not is_ambiguous(refused)
    assert is_ambiguous(dropped)
    assert len(adf.runs_of("examplePipeline")) == 1


def test_queued_then_canceling_then_cancelled(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    adf.plans["examplePipeline"] = RunPlan(states=[("Queued", 30.0), ("InProgress", 30.0), ("Succeeded", 0.0)])
    events: list[ProgressEvent] = []
    operation = client.begin_refresh("examplePipeline", parameters={"region": "eu"}, progress=events.append)

    assert operation.status() is Status.NOT_STARTED
    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result()

    cancels = _requests(adf, "POST", f"/pipelineruns/{operation.id}/cancel")
    assert len(cancels) == 1
    assert cancels[0].query["isRecursive"] == "true"
    assert not cancels[0].body
    natives = [event.native_status for event in events]
    assert "Canceling" in natives
    assert natives[-1] == "Cancelled"
    canceling = [event.status for event in events if event.native_status == "Canceling"]
    assert set(canceling) == {Status.RUNNING}
    assert client.get_run(operation.id).status is Status.CANCELED


def test_failed_activity_is_named_with_its_type_and_error(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    adf.plans["examplePipeline"] = failing_plan()
    operation = client.begin_refresh("examplePipeline", parameters={"region": "eu"})

    with pytest.raises(OperationFailedError) as raised:
        operation.result()

    message = str(raised.value)
    assert "TransformSales" in message
    assert "ExecuteDataFlow" in message
    assert "DF-Executor-SourceInvalidPayload" in message
    assert "Column 'amount' not found" in message
    assert raised.value.operation_id == operation.id
    assert raised.value.details["failed_activities"][0]["name"] == "TransformSales"
    run = client.get_run(operation.id)
    assert run.status is Status.FAILED
    assert run.failed_activity is not None
    assert run.failed_activity.error is not None
    assert run.failed_activity.error.failure_type == "UserError"


def test_rerun_from_failure_uses_recovery_mode(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    adf.plans["examplePipeline"] = failing_plan()
    failed = client.begin_refresh("examplePipeline", parameters={"region": "eu"})
    with pytest.raises(OperationFailedError):
        failed.result()
    adf.plans["examplePipeline"] = RunPlan()

    rerun = client.begin_rerun(failed.id, from_failure=True).result()

    create = _requests(adf, "POST", "/pipelines/examplePipeline/createRun")[-1]
    assert create.query == {
        "api-version": API_VERSION,
        "referencePipelineRunId": failed.id,
        "isRecovery": "true",
        "startFromFailure": "true",
    }
    assert not create.body
    assert rerun.status is Status.SUCCEEDED
    assert rerun.run_id != failed.id
    assert rerun.reference_run_id == failed.id  # same run group
    assert rerun.parameters["region"] == "eu"


def test_rerun_from_an_activity(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    first = client.begin_refresh("examplePipeline", parameters={"region": "eu"}).result()
    client.begin_rerun(first.run_id, start_activity="ExampleCopyActivity").result()
    create = _requests(adf, "POST", "/pipelines/examplePipeline/createRun")[-1]
    assert create.query["startActivityName"] == "ExampleCopyActivity"
    assert "startFromFailure" not in create.query


def test_bad_input_is_refused_before_anything_is_started(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    adf.add_pipeline("otherPipeline")
    with pytest.raises(ResourceNotFoundError) as missing:
        client.begin_refresh("salesPipeline")
    assert "'salesPipeline'" in str(missing.value)
    assert "examplePipeline, otherPipeline" in str(missing.value)

    with pytest.raises(ConfigurationError, match="parameter 'days' .* must be int, got str"):
        client.begin_refresh("examplePipeline", parameters={"region": "eu", "days": "seven"})
    with pytest.raises(ConfigurationError, match="no parameter 'regoin'"):
        client.begin_refresh("examplePipeline", parameters={"regoin": "eu"})
    with pytest.raises(ConfigurationError, match="needs parameter\\(s\\) 'region'"):
        client.begin_refresh("examplePipeline")
    assert not _requests(adf, "POST", "/pipelines/.*/createRun")


def test_outputs_come_from_the_pipeline_return_value(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    set_variable = {
        **copy.deepcopy(COPY_ACTIVITY),
        "activityName": "ReturnOutputs",
        "activityType": "SetVariable",
        "output": {
            "name": "pipelineReturnValue",
            "value": [
                {
                    "key": "sales",
                    "value": {
                        "type": "Object",
                        "content": {
                            "uri": "abfss://curated@lake.dfs.core.windows.net/sales/2026-01-01/",
                            "digest": "ab" * 32,
                            "rowCount": 1200,
                            "columns": [{"name": "amount", "type": "double"}],
                        },
                    },
                },
                {"key": "stores", "value": {"type": "String", "content": "azureml://datastores/lake/paths/stores/"}},
            ],
        },
    }
    adf.plans["examplePipeline"] = RunPlan(activities=[copy.deepcopy(COPY_ACTIVITY), set_variable])

    run = client.begin_refresh("examplePipeline", parameters={"region": "eu"}).result()

    sales = run.output("sales")
    assert sales.uri == "abfss://curated@lake.dfs.core.windows.net/sales/2026-01-01/"
    assert sales.digest == "sha256:" + "ab" * 32
    assert sales.version == "ab" * 6
    assert sales.row_count == 1200
    assert sales.columns[0].name == "amount"
    stores = run.output("stores")
    assert stores.uri == "azureml://datastores/lake/paths/stores/"
    assert stores.version == run.run_id
    assert run.lineage.data_versions == {"sales": "ab" * 6, "stores": run.run_id}


def test_wait_all_polls_with_one_query_per_cycle(
    client: DataFactoryClient, adf: FakeDataFactory, clock: FakeClock
) -> None:
    adf.add_pipeline("failingPipeline", plan=failing_plan())
    operations = [client.begin_refresh("examplePipeline", parameters={"region": f"r{i}"}) for i in range(12)]
    operations.append(client.begin_refresh("failingPipeline"))
    before, sleeps_before = len(adf.service.requests), len(clock.sleeps)

    runs = client.wait_all(operations)

    monitoring = adf.service.requests[before:]
    queries = [r for r in monitoring if r.path == f"{BASE}/queryPipelineRuns"]
    assert not [r for r in monitoring if r.method == "GET" and "/pipelineruns/" in r.path]
    cycles = len(clock.sleeps) - sleeps_before + 1
    assert cycles >= 3
    assert len(queries) == cycles
    assert queries[0].json["filters"] == [
        {"operand": "PipelineName", "operator": "In", "values": ["examplePipeline", "failingPipeline"]}
    ]
    # Once the failing pipeline's only run finished, it is no longer asked about.
    assert queries[-1].json["filters"][0]["values"] == ["examplePipeline"]
    windows = [query.json["lastUpdatedAfter"] for query in queries]
    assert windows == sorted(windows)  # the window moves forward: only changes come back
    assert [run.run_id for run in runs] == [operation.id for operation in operations]
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 12 + [Status.FAILED]
    assert runs[-1].failed_activity is not None
    assert runs[-1].failed_activity.name == "TransformSales"
    # Activities are read only for the run that did not succeed.
    activity_queries = [r for r in monitoring if r.path.endswith("/queryActivityruns")]
    assert [r.path for r in activity_queries] == [f"{BASE}/pipelineruns/{operations[-1].id}/queryActivityruns"]
    assert all(run.activities == () for run in runs[:-1])


def test_wait_all_with_outputs_reads_every_runs_activities(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    operations = [client.begin_refresh("examplePipeline", parameters={"region": f"r{i}"}) for i in range(3)]
    before = len(adf.service.requests)

    runs = client.wait_all(operations, with_outputs=True)

    activity_queries = [r for r in adf.service.requests[before:] if r.path.endswith("/queryActivityruns")]
    assert sorted(r.path for r in activity_queries) == sorted(
        f"{BASE}/pipelineruns/{operation.id}/queryActivityruns" for operation in operations
    )
    assert all([a.name for a in run.activities] == ["ExampleCopyActivity"] for run in runs)


def test_list_runs_filters_on_the_service(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    done = client.begin_refresh("examplePipeline", parameters={"region": "eu"}).result()
    runs = client.list_runs("examplePipeline", status="Succeeded")
    assert [run.run_id for run in runs] == [done.run_id]
    body = _requests(adf, "POST", "/queryPipelineRuns")[-1].json
    assert body["filters"] == [
        {"operand": "PipelineName", "operator": "Equals", "values": ["examplePipeline"]},
        {"operand": "Status", "operator": "In", "values": ["Succeeded"]},
    ]
    assert body["orderBy"] == [{"orderBy": "RunStart", "order": "DESC"}]


def test_schedule_trigger_is_created_and_started(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    from datetime import datetime, timezone

    start = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)
    trigger = client.create_trigger(
        "nightly",
        "examplePipeline",
        schedule=Schedule(frequency="day", interval=1, start_time=start, hours=(2,), minutes=(0,)),
        parameters={"region": "eu"},
    )

    assert trigger.runtime_state == "Started"
    assert trigger.type == "ScheduleTrigger"
    put = _requests(adf, "PUT", "/triggers/nightly")[0]
    assert put.json == {
        "properties": {
            "type": "ScheduleTrigger",
            "typeProperties": {
                "recurrence": {
                    "frequency": "Day",
                    "interval": 1,
                    "startTime": "2026-01-01T02:00:00Z",
                    "timeZone": "UTC",
                    "schedule": {"hours": [2], "minutes": [0]},
                }
            },
            "pipelines": [
                {
                    "pipelineReference": {"referenceName": "examplePipeline", "type": "PipelineReference"},
                    "parameters": {"region": "eu"},
                }
            ],
        }
    }
    assert len(_requests(adf, "POST", "/triggers/nightly/start")) == 1
    assert client.stop_trigger("nightly").runtime_state == "Stopped"

    # Updating a started trigger stops it first (the service refuses to update an enabled trigger).
    client.start_trigger("nightly")
    client.create_trigger(
        "nightly", "examplePipeline", schedule={"frequency": "Hour", "interval": 6}, parameters={"region": "us"}
    )
    assert len(_requests(adf, "POST", "/triggers/nightly/stop")) == 2
    assert [t.name for t in client.list_triggers()] == ["nightly"]
    client.delete_trigger("nightly")
    with pytest.raises(ResourceNotFoundError):
        client.get_trigger("nightly")


def test_storage_event_trigger_subscribes_then_starts(client: DataFactoryClient, adf: FakeDataFactory) -> None:
    scope = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/lake"
    trigger = client.create_trigger(
        "on-landing",
        "examplePipeline",
        storage_event=StorageEvent(
            scope=scope, blob_path_begins_with="/landing/blobs/sales/", blob_path_ends_with=".parquet"
        ),
        parameters={"region": "eu"},
    )
    assert trigger.type == "BlobEventsTrigger"
    assert trigger.runtime_state == "Started"
    body = _requests(adf, "PUT", "/triggers/on-landing")[0].json["properties"]
    assert body["typeProperties"] == {
        "scope": scope,
        "events": ["Microsoft.Storage.BlobCreated"],
        "ignoreEmptyBlobs": True,
        "blobPathBeginsWith": "/landing/blobs/sales/",
        "blobPathEndsWith": ".parquet",
    }
    order = [r.path.rsplit("/", 1)[-1] for r in adf.service.requests if r.method == "POST" and "/triggers/" in r.path]
    assert order == ["subscribeToEvents", "start"]


def test_missing_factory_setting_is_a_configuration_error(ca_bundle: Path, adf: FakeDataFactory) -> None:
    with (
        DataFactoryClient(
            TARGET,
            credential=StaticTokenCredential(),
            settings={"resource_manager_url": adf.service.url, "ca_bundle": str(ca_bundle)},
        ) as factory,
        pytest.raises(ConfigurationError, match="data_factory"),
    ):
        factory.list_runs()


@pytest.mark.parametrize("explicit", [True, False], ids=["step.key", "ambient-key"])
def test_flow_step_creates_at_once_and_its_rerun_reattaches(
    client: DataFactoryClient, adf: FakeDataFactory, tmp_path: Path, explicit: bool
) -> None:
    from mlops_sdk.flows import Flow

    adf.plans["examplePipeline"] = RunPlan(states=[("Queued", 1.0), ("InProgress", 3600.0), ("Succeeded", 0.0)])
    started: list[str] = []

    def crash_after_start(step: Any) -> None:
        key = step.key if explicit else None
        started.append(client.begin_refresh("examplePipeline", parameters={"region": "eu"}, idempotency_key=key).id)
        raise KeyboardInterrupt  # the script dies while the run goes on

    with pytest.raises(KeyboardInterrupt), Flow("nightly", run_id="r1", journal_dir=tmp_path) as flow:
        flow.step("refresh", crash_after_start)
    first_requests = [(r.method, r.path.removeprefix(BASE)) for r in adf.service.requests]
    # First attempt of the step: its key was never used, so createRun goes out with no lookup.
    assert ("POST", "/queryPipelineRuns") not in first_requests

    with pytest.raises(KeyboardInterrupt), Flow("nightly", run_id="r1", journal_dir=tmp_path) as again:
        again.step("refresh", crash_after_start)

    # The re-run of the step (same flow run id) looks its key up and re-attaches: still one run.
    assert started[1] == started[0]
    assert len(adf.runs_of("examplePipeline")) == 1
    assert len(_requests(adf, "POST", "/queryPipelineRuns")) == 1
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == 1


def test_lost_rerun_answer_with_visibility_delay_leaves_exactly_one_rerun(
    client: DataFactoryClient, adf: FakeDataFactory
) -> None:
    adf.plans["examplePipeline"] = failing_plan()
    failed = client.begin_refresh("examplePipeline", parameters={"region": "eu"})
    with pytest.raises(OperationFailedError):
        failed.result()
    adf.plans["examplePipeline"] = RunPlan()
    adf.visibility_delay = 5.0
    adf.service.inject(Fault("POST", "createRun$", drop=True, after_handler=True))

    rerun = client.begin_rerun(failed.id).result()

    runs = adf.runs_of("examplePipeline")
    assert len(runs) == 2  # the failed run and ONE rerun
    assert rerun.run_id in {run["runId"] for run in runs}
    assert rerun.reference_run_id == failed.id
    assert len(_requests(adf, "POST", "/pipelines/examplePipeline/createRun")) == 2  # refresh + rerun
