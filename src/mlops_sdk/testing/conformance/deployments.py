"""Conformance scenarios of deployments (``client.deployments``): roll out, score, move traffic, roll back.

Every scenario deploys real scikit-learn MLflow models (``y = 3a - 2b + intercept``) given as MLflow
model folders and checks the exact predictions the endpoint answers, so "the traffic moved" is
proven by who answers, not only by the traffic map.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, OperationFailedError, ResourceNotFoundError
from mlops_sdk.models.deployments import AllAtOnce, BlueGreen, Replace, Shadow, SmokeTest
from mlops_sdk.models.guardrails import Guardrails
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing.conformance._kit import ConformanceBackend, deployable_model, require
from mlops_sdk.testing.conformance.validation import COLUMNS, _exact_model, _frame

__all__ = [
    "TestDeploymentConformance",
    "TestDeploymentGuardrailsConformance",
    "TestDeploymentKeysConformance",
    "TestDeploymentTrafficConformance",
]

ROWS = {"input_data": {"columns": ["a", "b"], "data": [[1, 0], [0, 1]]}}
"""Two rows; the model with intercept ``c`` answers ``[3 + c, -2 + c]``."""


def _answers(intercept: float) -> list[float]:
    return [3.0 + intercept, -2.0 + intercept]


def _linear_model(folder: Path, intercept: float) -> Path:
    """An MLflow scikit-learn model predicting ``3a - 2b + intercept`` exactly, saved under ``folder``."""
    if intercept == 0.0:
        return _exact_model(folder)
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    frame = _frame()
    model = LinearRegression().fit(frame[COLUMNS], frame["y"])
    model.coef_, model.intercept_ = np.array([3.0, -2.0]), float(intercept)
    path = folder / f"model-plus-{intercept:g}"
    if (path / "MLmodel").is_file():
        return path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(frame[COLUMNS], model.predict(frame[COLUMNS]))
        mlflow.sklearn.save_model(model, str(path), signature=signature, pip_requirements=["scikit-learn"])
    return path


def _live(traffic: dict[str, int]) -> dict[str, int]:
    """The live shares of a traffic map (a 0 % entry is listed on local and memory, omitted by Azure ML)."""
    return {name: share for name, share in traffic.items() if share}


def _model(backend: ConformanceBackend, client: MLOpsClient, folder: Path, intercept: float) -> ModelVersion | Path:
    """What to deploy for the model with ``intercept`` on ``backend``."""
    return deployable_model(backend, client, _linear_model(folder, intercept))


def _smoke(intercept: float) -> SmokeTest:
    return SmokeTest(payload=ROWS, expected=_answers(intercept), samples=1, retry_interval=0.05, ready_deadline=30)


def _cleanup(client: MLOpsClient, endpoint: str) -> None:
    with contextlib.suppress(ResourceNotFoundError):
        client.deployments.delete_endpoint(endpoint)


class TestDeploymentConformance:
    """An MLflow model folder deployed with all traffic answers exact predictions; a re-run changes nothing."""

    capability = "deployments"

    def test_deploy_score_and_redeploy_unchanged(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout")
        deployments = conformance_client.deployments
        model = deployable_model(conformance_backend, conformance_client, _exact_model(tmp_path))
        try:
            result = deployments.begin_deploy(
                model, endpoint="conf-ep", deployment="blue", strategy=Replace(), show_progress=False
            ).result()
            assert (result.succeeded, result.rolled_back, result.changed) == (True, False, True)
            assert result.traffic == {"blue": 100}
            predictions = deployments.invoke("conf-ep", ROWS)
            assert predictions == pytest.approx(_answers(0.0))
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

    def test_a_model_that_cannot_load_fails_the_rollout_and_keeps_the_traffic(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.failure")
        deployments = conformance_client.deployments
        broken = tmp_path / "broken-model"
        broken.mkdir()
        (broken / "MLmodel").write_text(
            "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n"
            "  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n",
            encoding="utf-8",
        )
        try:
            deployments.begin_deploy(
                deployable_model(conformance_backend, conformance_client, _exact_model(tmp_path)),
                endpoint="conf-broken",
                deployment="blue",
                strategy=Replace(),
                show_progress=False,
            ).result()
            with pytest.raises(OperationFailedError, match="red") as caught:
                deployments.begin_deploy(
                    deployable_model(conformance_backend, conformance_client, broken),
                    endpoint="conf-broken",
                    deployment="red",
                    strategy=BlueGreen(),
                    show_progress=False,
                ).result()
            assert caught.value.details.get("reason")
            assert deployments.get_endpoint("conf-broken").traffic.get("blue") == 100
            assert deployments.invoke("conf-broken", ROWS) == pytest.approx(_answers(0.0))
            assert "failed" in [entry.action for entry in deployments.history("conf-broken")]
        finally:
            _cleanup(conformance_client, "conf-broken")


class TestDeploymentTrafficConformance:
    """Blue/green steps after smoke tests, automatic rollback, explicit rollback, shadow traffic."""

    capability = "deployments.traffic"

    def test_blue_green_moves_the_whole_map_step_by_step_after_smoke_tests(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.progressive")
        deployments = conformance_client.deployments
        try:
            deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 0.0),
                endpoint="conf-steps",
                deployment="blue",
                strategy=Replace(),
                show_progress=False,
            ).result()
            result = deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 10.0),
                endpoint="conf-steps",
                deployment="green",
                strategy=BlueGreen(steps=[10, 50, 100], smoke_test=_smoke(10.0)),
                show_progress=False,
            ).result()
            assert (result.succeeded, result.rolled_back) == (True, False), result.reason
            assert [step.percent for step in result.steps] == [10, 50, 100]
            assert [_live(step.traffic) for step in result.steps] == [
                {"blue": 90, "green": 10},
                {"blue": 50, "green": 50},
                {"green": 100},
            ]
            assert all(step.smoke is not None and step.smoke.passed for step in result.steps)
            assert result.previous_traffic == {"blue": 100}
            assert _live(deployments.get_endpoint("conf-steps").traffic) == {"green": 100}
            assert deployments.invoke("conf-steps", ROWS) == pytest.approx(_answers(10.0))
            assert deployments.invoke("conf-steps", ROWS, deployment="blue") == pytest.approx(_answers(0.0))
            moves = [_live(e.traffic) for e in deployments.history("conf-steps") if e.action == "traffic"]
            assert moves[-3:] == [_live(step.traffic) for step in result.steps]
        finally:
            _cleanup(conformance_client, "conf-steps")

    def test_a_failed_smoke_test_restores_the_map_and_an_explicit_rollback_goes_back(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.rollback")
        deployments = conformance_client.deployments
        try:
            deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 0.0),
                endpoint="conf-back",
                deployment="blue",
                strategy=Replace(),
                show_progress=False,
            ).result()
            bad = deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 5.0),
                endpoint="conf-back",
                deployment="red",
                strategy=BlueGreen(steps=[10, 100], smoke_test=_smoke(0.0)),  # expects blue's answers: fails
                show_progress=False,
            ).result()
            assert (bad.succeeded, bad.rolled_back) == (False, True)
            assert "smoke test" in (bad.reason or "")
            assert _live(bad.traffic) == {"blue": 100}
            assert _live(deployments.get_endpoint("conf-back").traffic) == {"blue": 100}
            with pytest.raises(OperationFailedError, match="rolled back"):
                bad.raise_for_rollback()
            assert [d.name for d in deployments.get_endpoint("conf-back").deployments] == ["blue"]
            actions = [entry.action for entry in deployments.history("conf-back")]
            assert "smoke_failed" in actions
            assert "rollback" in actions

            deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 5.0),
                endpoint="conf-back",
                deployment="green",
                strategy=Replace(),
                show_progress=False,
            ).result()
            assert deployments.invoke("conf-back", ROWS) == pytest.approx(_answers(5.0))
            back = deployments.begin_rollback("conf-back").result()
            assert (back.succeeded, back.deployment, _live(back.traffic)) == (True, "blue", {"blue": 100})
            assert deployments.invoke("conf-back", ROWS) == pytest.approx(_answers(0.0))
            assert deployments.history("conf-back")[-1].action == "rollback"
        finally:
            _cleanup(conformance_client, "conf-back")

    def test_shadow_mirrors_a_share_and_leaves_the_live_answers_alone(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.shadow")
        deployments = conformance_client.deployments
        try:
            deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 0.0),
                endpoint="conf-shadow",
                deployment="blue",
                strategy=Replace(),
                show_progress=False,
            ).result()
            result = deployments.begin_deploy(
                _model(conformance_backend, conformance_client, tmp_path, 7.0),
                endpoint="conf-shadow",
                deployment="green",
                strategy=Shadow(mirror_percent=20, smoke_test=_smoke(7.0)),
                show_progress=False,
            ).result()
            assert (result.succeeded, result.mirror, _live(result.traffic)) == (True, {"green": 20}, {"blue": 100})
            endpoint = deployments.get_endpoint("conf-shadow")
            assert (_live(endpoint.traffic), endpoint.mirror, endpoint.production) == (
                {"blue": 100},
                {"green": 20},
                "blue",
            )
            for _ in range(5):
                assert deployments.invoke("conf-shadow", ROWS) == pytest.approx(_answers(0.0))
            assert deployments.invoke("conf-shadow", ROWS, deployment="green") == pytest.approx(_answers(7.0))
        finally:
            _cleanup(conformance_client, "conf-shadow")


class TestDeploymentKeysConformance:
    """Scoring keys are secrets, and regenerating one replaces only that one."""

    capability = "deployments.keys"

    def test_keys_are_secret_values_and_regeneration_replaces_one(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.keys")
        deployments = conformance_client.deployments
        try:
            deployments.begin_create_endpoint("conf-keys", show_progress=False).result()
            keys = deployments.get_keys("conf-keys")
            primary = keys.primary_key.get_secret_value()
            assert primary
            assert keys.secondary_key is not None
            secondary = keys.secondary_key.get_secret_value()
            shown = f"{keys!r} {keys} {keys.model_dump_json()}"
            assert primary not in shown
            assert secondary not in shown
            renewed = deployments.regenerate_keys("conf-keys", key="primary")
            assert renewed.primary_key.get_secret_value() not in ("", primary)
            assert renewed.secondary_key is not None
            assert renewed.secondary_key.get_secret_value() == secondary
            assert deployments.get_keys("conf-keys").primary_key == renewed.primary_key
        finally:
            _cleanup(conformance_client, "conf-keys")


class TestDeploymentGuardrailsConformance:
    """A guarded bake with no traffic cannot give a verdict: extended, then failed closed to the previous map."""

    capability = "deployments.guardrails"

    def test_guarded_bake_without_traffic_fails_closed_to_the_previous_map(
        self, conformance_backend: ConformanceBackend, conformance_clocked_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "deployments.rollout", "deployments.guardrails")
        deployments = conformance_clocked_client.deployments
        guardrails = Guardrails(error_rate=0.5, min_requests=10_000, window=30, check_interval=10, max_extension=30)
        try:
            first = deployments.begin_deploy(
                _model(conformance_backend, conformance_clocked_client, tmp_path, 0.0),
                endpoint="conf-guard-ep",
                deployment="blue",
                strategy=Replace(),
                show_progress=False,
            ).result()
            assert _live(first.traffic) == {"blue": 100}
            candidate = _model(conformance_backend, conformance_clocked_client, tmp_path, 10.0)
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
            assert _live(endpoint.traffic) == {"blue": 100}
            assert [d.name for d in endpoint.deployments] == ["blue"]
            assert "guardrail_breached" in [entry.action for entry in deployments.history("conf-guard-ep")]
        finally:
            _cleanup(conformance_clocked_client, "conf-guard-ep")
