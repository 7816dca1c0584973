"""PlannedRollout: what approvers are told about the rollout, built from the strategy itself."""

from __future__ import annotations

import pytest

from mlops_sdk import BlueGreen, PlannedRollout, Shadow, SmokeTest
from mlops_sdk.core.errors import ConfigurationError


def test_from_a_blue_green_strategy_with_a_smoke_test() -> None:
    smoke = SmokeTest(payload={"input_data": [[1.0, 2.0]]}, expected=[151.0], latency_budget=0.25, samples=5)
    plan = PlannedRollout.of("churn", BlueGreen(steps=[5, 25, 100], bake_time=60, smoke_test=smoke), rollback_to="c@1")
    assert (plan.endpoint, plan.strategy, plan.steps, plan.bake_time) == ("churn", "blue_green", (5, 25, 100), 60.0)
    assert plan.smoke_test == (
        "5 request(s) with input_data to the new deployment, expecting an exact output, latency under 0.25 s"
    )
    assert "151" not in plan.smoke_test  # what it expects is named, the values are not shown
    assert (plan.rollback_on_failure, plan.rollback_to) == (True, "c@1")


def test_from_a_shadow_strategy_and_from_a_dict() -> None:
    shadow = PlannedRollout.of("churn", Shadow(mirror_percent=20))
    assert (shadow.strategy, shadow.mirror_percent, shadow.steps, shadow.smoke_test) == ("shadow", 20, (), None)
    smoke = {"payload": {"inputs": [1]}, "dtype": "number"}
    plain = PlannedRollout.of("churn", {"kind": "replace", "smoke_test": smoke})
    assert plain.smoke_test == "3 request(s) with inputs to the new deployment, expecting number values"


def test_a_strategy_without_a_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="has no kind") as caught:
        PlannedRollout.of("churn", {"steps": [10, 100]})
    assert caught.value.details["field"] == "strategy"
