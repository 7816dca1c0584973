"""The memory:// backend's own promises: in-process runs, shared stores, identities and fault injection."""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.memory import reset_memory_stores
from mlops_sdk.core.errors import (
    ConfigurationError,
    OperationTimeoutError,
    PermissionDeniedError,
    ServerError,
    ServiceRequestError,
    ServiceResponseError,
)
from mlops_sdk.core.status import Status
from mlops_sdk.models.approvals import ApprovalPolicy, ApprovalStatus, ReportFacts
from mlops_sdk.testing import FakeClock, act_as, faults

SCRIPT = """
import pathlib, sys
import mlflow
out = pathlib.Path(sys.argv[1])
(out / "MLmodel").write_text("flavors: {}\\n")
mlflow.log_metrics({"auc": 0.91, "loss": 0.3})
mlflow.set_tag("stage", "unit")
print("epoch 1")
print("done", file=sys.stderr)
"""


@pytest.fixture
def client(clock: FakeClock) -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", clock=clock, show_progress=False) as hub:
        yield hub


def _job(tmp_path: Path, script: str = SCRIPT, command: str = "python job.py ${{outputs.model}}") -> dict[str, object]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "job.py").write_text(textwrap.dedent(script))
    return {"code": code, "command": command, "outputs": {"model": "mlflow_model"}, "experiment": "unit"}


def test_scripts_run_in_process_with_logs_metrics_and_real_output_folders(client: MLOpsClient, tmp_path: Path) -> None:
    lines: list[str] = []
    run = client.training.begin_train(_job(tmp_path), on_log=lines.append).result()
    assert (run.backend, run.status, run.id) == ("memory", Status.SUCCEEDED, "memory-run-1")
    assert run.metrics == {"auc": 0.91, "loss": 0.3}
    assert run.tags["stage"] == "unit"
    assert lines == ["epoch 1", "done"]
    assert (Path(run.outputs["model"]) / "MLmodel").is_file()
    import mlflow  # the real package is back once the script ended

    assert hasattr(mlflow, "pyfunc")


def test_only_python_script_commands_run_in_process(client: MLOpsClient, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'python SCRIPT.py ARGS' in-process") as caught:
        client.training.begin_train(_job(tmp_path, command="bash train.sh ${{outputs.model}}"))
    assert caught.value.details["field"] == "command"
    assert client.training.list_runs() == []


def test_named_stores_are_shared_and_private_ones_are_not(tmp_path: Path) -> None:
    try:
        with MLOpsClient("memory://team-a") as first, MLOpsClient("memory://team-a") as second:
            run = first.training.begin_train(_job(tmp_path)).result()
            assert second.training.get_run(run.id).status is Status.SUCCEEDED
        with MLOpsClient("memory://") as private:
            assert private.training.list_runs() == []
        with pytest.raises(ConfigurationError, match="memory://NAME"):
            MLOpsClient("memory://bad name").training.list_runs()
    finally:
        reset_memory_stores()


def test_fail_next_fails_before_any_side_effect_then_recovers(client: MLOpsClient, tmp_path: Path) -> None:
    run = client.training.begin_train(_job(tmp_path)).result()
    faults(client).fail_next("models.register", times=2)
    for _ in range(2):
        with pytest.raises(ServerError, match=r"injected fault: models.register failed \(503\)"):
            client.models.register(run, name="churn")
    assert client.models.list_models() == []
    assert client.models.register(run, name="churn").version == "1"
    assert faults(client).calls["models.register"] == 3


def test_a_dropped_answer_still_took_effect_and_the_key_attaches_to_it(client: MLOpsClient, tmp_path: Path) -> None:
    faults(client).drop_answer("training.submit")
    with pytest.raises(ServiceResponseError, match="lost after it took effect"):
        client.training.begin_train(_job(tmp_path), idempotency_key="flow-1:train")
    retried = client.training.begin_train(_job(tmp_path), idempotency_key="flow-1:train").result()
    assert [r.id for r in client.training.list_runs()] == [retried.id]
    assert retried.idempotency_key == "flow-1:train"


def test_a_hung_run_times_out_on_the_fake_clock_then_finishes_once_released(
    client: MLOpsClient, clock: FakeClock, tmp_path: Path
) -> None:
    faults(client).hang("training.run")
    operation = client.training.begin_train(_job(tmp_path))
    with pytest.raises(OperationTimeoutError):
        operation.result(timeout=600)
    assert clock.monotonic() >= 600
    assert client.training.get_run(operation.id).status is Status.RUNNING
    faults(client).release("training.run")
    assert operation.result().metrics["auc"] == 0.91


def test_canceling_a_hung_run_cancels_it(client: MLOpsClient, tmp_path: Path) -> None:
    faults(client).hang("training.run")
    operation = client.training.begin_train(_job(tmp_path))
    operation.cancel()
    faults(client).release("training.run")
    assert client.training.get_run(operation.id).status is Status.CANCELED


def test_a_hung_call_blocks_until_released(client: MLOpsClient) -> None:
    injector = faults(client)
    injector.hang_limit = 0.05
    injector.hang("models.list")
    with pytest.raises(ServiceRequestError, match="hung for 0.05s"):
        client.models.list_models()
    injector.hang_limit = 30
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(client.models.list_models()))
    worker.start()
    injector.release("models.list")
    worker.join(timeout=30)
    assert results == [[]]


def test_act_as_votes_as_other_people(client: MLOpsClient) -> None:
    policy = ApprovalPolicy(approvers=("alice", "bob"), min_approvals=2)
    report = ReportFacts(passed=True, outcome="passed", digest="sha256:r")
    with act_as(client, "carol"):
        request = client.approvals.request("churn@1", policy=policy, report=report)
        with pytest.raises(PermissionDeniedError, match="carol is not an allowed approver"):
            client.approvals.approve(request.id, comment="not mine to approve")
    with act_as(client, "alice"):
        client.approvals.approve(request.id, comment="ok")
    with act_as(client, "bob", email="bob@example.com"):
        decided = client.approvals.approve(request.id, comment="ok too")
    assert decided.status is ApprovalStatus.APPROVED
    assert decided.decision is not None
    assert decided.decision.approvers == ("alice", "bob <bob@example.com>")
    assert client.approvals.verify_audit().ok


def test_fault_helpers_refuse_other_backends(tmp_path: Path) -> None:
    with MLOpsClient(f"local://{tmp_path / 'store'}") as local, pytest.raises(ConfigurationError, match="memory://"):
        faults(local)


def test_environment_variables_reach_the_script_and_registered_secrets_never_reach_the_logs(
    client: MLOpsClient, tmp_path: Path
) -> None:
    from mlops_sdk.core.redaction import register_secret

    secret = "s3cr3t-value-for-the-memory-test"
    register_secret(secret)
    script = "import os\nprint('region', os.environ['REGION'])\nprint('token', os.environ['API_TOKEN'])\n"
    lines: list[str] = []
    job = {**_job(tmp_path, script=script), "environment_variables": {"REGION": "eu", "API_TOKEN": secret}}
    run = client.training.begin_train(job, on_log=lines.append).result()
    assert run.status is Status.SUCCEEDED
    assert lines[0] == "region eu"
    assert lines[1].startswith("token ")
    assert secret not in lines[1]
    assert "API_TOKEN" not in os.environ
