"""The conformance kit's declarations: unknown or contradictory capabilities are refused, skips carry reasons."""

from __future__ import annotations

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.testing.conformance import CAPABILITIES, ConformanceBackend


def _client(clock: object) -> MLOpsClient:
    return MLOpsClient("memory://")


def test_unknown_capabilities_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown capabilities \['models.registri'\]; known: .*models.registry"):
        ConformanceBackend(name="x", make_client=_client, supports=frozenset({"models.registri"}))


def test_a_capability_cannot_be_both_supported_and_unsupported() -> None:
    with pytest.raises(ValueError, match=r"\['approvals.audit'\] are declared both supported and unsupported"):
        ConformanceBackend(
            name="x",
            make_client=_client,
            supports=frozenset({"approvals.audit"}),
            unsupported={"approvals.audit": "no trail"},
        )


def test_skip_reasons_name_the_backend_the_capability_and_why() -> None:
    backend = ConformanceBackend(
        name="x",
        make_client=_client,
        supports=frozenset({"models.registry"}),
        unsupported={"approvals.timeout": "decided by the service clock"},
    )
    assert backend.skip_reason("models.registry") is None
    assert (
        backend.skip_reason("approvals.timeout") == "x does not support approvals.timeout: decided by the service clock"
    )
    assert backend.skip_reason("training.script") == (
        "x does not support training.script: not declared in ConformanceBackend.supports"
    )
    with pytest.raises(ValueError, match="unknown capability 'nope'"):
        backend.skip_reason("nope")
    assert "deployments.rollout" in CAPABILITIES
