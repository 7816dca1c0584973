"""Conformance scenarios of deployments (``client.deployments``): roll out, score, re-run unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ResourceNotFoundError
from mlops_sdk.models.deployments import Replace
from mlops_sdk.testing.conformance._kit import ConformanceBackend, require
from mlops_sdk.testing.conformance.validation import _exact_model

__all__ = ["TestDeploymentConformance"]


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
