"""Conformance scenarios of deployments (``client.deployments``): roll out, score, re-run unchanged;
guarded bakes that fail closed without traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.models.deployments import AllAtOnce, Replace
from mlops_sdk.models.guardrails import Guardrails
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require
from mlops_sdk.testing.conformance.validation import _exact_model

__all__ = ["TestDeploymentConformance", "TestDeploymentGuardrailsConformance"]


class TestDeploymentConformance:
    """An MLflow model folder deployed with all traffic answers exact predictions; a re-run changes nothing."""

    capability = "deployments"

    def test_deploy_score_and_redeploy_unchanged(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout")
        deployments = conformance_client.deployments
        model = _exact_model(tmp_path)
        try:
            result = deployments.begin_deploy(
                model, endpoint="conf-ep", deployment="blue", strategy=Replace(), show_progress=False
            ).result()
            assert (result.succeeded, result.rolled_back, result.changed) == (True, False, True)
            assert result.traffic == {"blue": 100}
            predictions = deployments.invoke(
                "conf-ep", {"input_data": {"columns": ["a", "b"], "data": [[1, 0], [0, 1]]}}
            )
            assert predictions == pytest.approx([3.0, -2.0])
            again = deployments.begin_deploy(
                model, endpoint="conf-ep", deployment="blue", strategy=Replace(), show_progress=False
            ).result()
            assert (again.succeeded, again.changed, again.traffic) == (True, False, {"blue": 100})
            endpoint = deployments.get_endpoint("conf-ep")
            assert endpoint.traffic == {"blue": 100}
            assert [d.name for d in endpoint.deployments] == ["blue"]
            assert "deploy" in [entry.action for entry in deployments.history("conf-ep")]
        finally:
            deployments.delete_endpoint("conf-ep")
        with pytest.raises(ResourceNotFoundError):
            deployments.get_endpoint("conf-ep")

    def test_scoring_an_unknown_endpoint_is_not_found(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient
    ) -> None:
        require(conformance_backend, "deployments.rollout")
        with pytest.raises(ResourceNotFoundError):
            conformance_client.deployments.invoke("conf-missing-ep", {"input_data": [[1.0, 2.0]]})


class TestDeploymentGuardrailsConformance:
    """A guarded bake with no traffic cannot give a verdict: extended, then failed closed to the previous map."""

    capability = "deployments"

    def test_guarded_bake_without_traffic_fails_closed_to_the_previous_map(
        self, conformance_backend: ConformanceBackend, conformance_clocked_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.guardrails")
        deployments = conformance_clocked_client.deployments
        model = _exact_model(tmp_path)
        candidate = tmp_path / "candidate"
        candidate.mkdir()
        for item in model.iterdir():  # the same model under another digest: a new deployment
            (candidate / item.name).write_bytes(item.read_bytes())
        (candidate / "note.txt").write_text("candidate", encoding="utf-8")
        guardrails = Guardrails(error_rate=0.5, min_requests=10_000, window=30, check_interval=10, max_extension=30)
        try:
            first = deployments.begin_deploy(
                model, endpoint="conf-guard-ep", deployment="blue", strategy=Replace(), show_progress=False
            ).result()
            assert first.traffic == {"blue": 100}
            with pytest.raises(ConfigurationError) as refused:
                deployments.begin_deploy(
                    candidate, endpoint="conf-guard-ep", deployment="green", strategy=Replace(), guardrails=guardrails
                )
            assert refused.value.details["field"] == "strategy.bake"
            result = deployments.begin_deploy(
                candidate,
                endpoint="conf-guard-ep",
                deployment="green",
                strategy=AllAtOnce(bake=60),
                guardrails=guardrails,
                show_progress=False,
            ).result()
            assert (result.succeeded, result.rolled_back) == (False, True)
            assert result.breach is not None
            assert result.breach.guardrail == "insufficient_traffic"
            assert result.breach.threshold == 10_000
            assert result.breach.observed < 10_000
            assert result.finished_at is not None
            assert result.started_at is not None
            assert (result.finished_at - result.started_at).total_seconds() >= 60 + 30  # bake, then extension
            endpoint = deployments.get_endpoint("conf-guard-ep")
            assert {name: share for name, share in endpoint.traffic.items() if share} == {"blue": 100}
            assert [d.name for d in endpoint.deployments] == ["blue"]
            assert "guardrail_breached" in [entry.action for entry in deployments.history("conf-guard-ep")]
        finally:
            deployments.delete_endpoint("conf-guard-ep")
