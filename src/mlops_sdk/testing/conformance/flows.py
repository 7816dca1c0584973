"""Conformance scenarios of flows (``mlops_sdk.flows.Flow``) composing the public clients.

The same ``Flow`` runs the whole loop (refresh -> train -> register -> validate -> approve -> deploy) on
every backend; a run that crashed half-way resumes by its run id (finished steps are not run again),
and a gate that does not pass stops the flow before anything after it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.flows import Flow
from mlops_sdk.models.approvals import ApprovalPolicy
from mlops_sdk.models.deployments import Replace
from mlops_sdk.testing.conformance._kit import ConformanceBackend, publish_pipeline, require, train_model
from mlops_sdk.testing.conformance.approvals import FAILED, _model
from mlops_sdk.testing.conformance.data_factory import _sales
from mlops_sdk.testing.conformance.deployments import ROWS, _answers
from mlops_sdk.testing.conformance.validation import COPY_MODEL, _exact_model, _frame

__all__ = ["TestFlowConformance"]


class _CrashError(Exception):
    """The process "dies" in the middle of a step."""


class TestFlowConformance:
    """One Flow, the whole loop, on every backend; resumed after a crash; stopped by a gate."""

    capability = "flows"

    def test_the_loop_crashes_at_deploy_and_resumes_by_run_id_without_redoing_finished_steps(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(
            conformance_backend,
            "flows.loop",
            "data_factory.refresh",
            "training.script",
            "models.registry",
            "validation.checks",
            "approvals.policy",
            "deployments.rollout",
        )
        from mlops_sdk.checks import MetricThreshold

        client = conformance_client
        publish_pipeline(conformance_backend, client, _sales(tmp_path, "conf_flow_data"), "succeeds")
        script = COPY_MODEL.format(source=str(_exact_model(tmp_path)))
        calls: dict[str, int] = {}
        crash = {"deploy": True}

        def counted(name: str) -> None:
            calls[name] = calls.get(name, 0) + 1

        def loop(flow: Flow) -> Any:
            def refresh(step: Any) -> Any:
                counted("refresh")
                return client.data_factory.begin_refresh(
                    "conf_flow_data", idempotency_key=step.key, show_progress=False
                )

            def train(step: Any) -> Any:
                counted("train")
                return train_model(
                    client, tmp_path / "flow", experiment="conf-flow", script=script, idempotency_key=step.key
                )

            def register(step: Any) -> Any:
                counted("register")
                return client.models.register(run, name="conf-flow-model")

            def approve(step: Any) -> Any:
                counted("approve")
                me = client.approvals.whoami().name
                policy = ApprovalPolicy(approvers=(me,), forbid_self_approval=False)
                request = client.approvals.request(model, report=report, policy=policy, idempotency_key=step.key)
                client.approvals.approve(request.id, comment="conformance flow")
                return client.approvals.begin_wait(request.id, show_progress=False).result()

            def deploy(step: Any) -> Any:
                counted("deploy")
                if crash.pop("deploy", False):
                    raise _CrashError("killed while deploying")
                return client.deployments.begin_deploy(
                    model, endpoint="conf-flow-ep", deployment="blue", strategy=Replace(), show_progress=False
                )

            flow.step("refresh", refresh)
            run = flow.step("train", train)
            model = flow.step("register", register)
            checks = [MetricThreshold("rmse", max=1e-9), MetricThreshold("train_rmse", max=0.5)]
            report = flow.gate(
                "validate", lambda step: client.validation.validate(model, data=_frame(), target="y", checks=checks)
            )
            flow.gate("approve", approve)
            return flow.step("deploy", deploy)

        journal = tmp_path / "journal"
        try:
            with pytest.raises(_CrashError), Flow("conf-flow", run_id="run-1", journal_dir=journal) as first:
                loop(first)
            assert first.outcome == "failed"
            assert [s.status for s in first.steps] == ["succeeded"] * 5 + ["failed"]

            with Flow("conf-flow", run_id="run-1", journal_dir=journal) as again:
                result = loop(again)
            assert again.outcome == "completed"
            assert [s.status for s in again.steps] == ["skipped"] * 5 + ["succeeded"]
            assert calls == {"refresh": 1, "train": 1, "register": 1, "approve": 1, "deploy": 2}
            assert (result.succeeded, result.model) == (True, "conf-flow-model@1")
            assert client.deployments.invoke("conf-flow-ep", ROWS) == pytest.approx(_answers(0.0))
            assert [v.version for v in client.models.list("conf-flow-model")] == ["1"]
        finally:
            import contextlib

            from mlops_sdk.core.errors import ResourceNotFoundError

            with contextlib.suppress(ResourceNotFoundError):
                client.deployments.delete_endpoint("conf-flow-ep")

    def test_a_gate_that_does_not_pass_stops_the_flow_before_the_next_step(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "flows.gates", "approvals.policy")
        client = conformance_client
        deployed: list[str] = []
        with Flow("conf-gate", run_id="run-1", journal_dir=tmp_path / "journal") as flow:
            flow.gate(
                "approve",
                lambda step: (
                    client.approvals.request(
                        _model("conf-flow-gate"), report=FAILED, policy=ApprovalPolicy(approvers=("alice",))
                    ).decision
                ),
            )
            flow.step("deploy", lambda step: deployed.append(step.key))
        assert (flow.outcome, flow.stopped_at) == ("rejected", "approve")
        assert [s.status for s in flow.steps] == ["stopped"]
        assert deployed == []  # the with block ended at the gate: nothing after it ran
