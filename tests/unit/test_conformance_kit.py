"""The conformance kit's declarations: unknown or contradictory capabilities are refused, skips carry reasons."""

from __future__ import annotations

from pathlib import Path

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


def test_without_hooks_pipelines_are_defined_and_folders_deployed_as_they_are(tmp_path: Path) -> None:
    from mlops_sdk.models.data_factory import Copy, RefreshPipeline
    from mlops_sdk.testing.conformance import deployable_model, publish_pipeline

    (tmp_path / "a.csv").write_text("x\n1\n", encoding="utf-8")
    pipeline = RefreshPipeline(name="kit_pipe", activities=(Copy(name="raw", source=str(tmp_path / "*.csv")),))
    defining = ConformanceBackend(name="x", make_client=_client, supports=frozenset({"data_factory.define"}))
    with MLOpsClient("memory://") as client:
        publish_pipeline(defining, client, pipeline, "succeeds")
        assert [p.name for p in client.data_factory.list_pipelines()] == ["kit_pipe"]
        assert deployable_model(defining, client, tmp_path) == tmp_path
        no_define = ConformanceBackend(name="y", make_client=_client, supports=frozenset())
        with pytest.raises(pytest.skip.Exception, match="y does not support data_factory.define"):
            publish_pipeline(no_define, client, pipeline, "succeeds")


def test_hooks_replace_the_defaults(tmp_path: Path) -> None:
    from mlops_sdk.models.data_factory import Copy, RefreshPipeline
    from mlops_sdk.testing.conformance import deployable_model, publish_pipeline

    published: list[tuple[str, str]] = []
    backend = ConformanceBackend(
        name="x",
        make_client=_client,
        supports=frozenset(),
        deployable=lambda client, folder: folder / "registered",
        publish_pipeline=lambda client, pipeline, behaviour: published.append((pipeline.name, behaviour)),
    )
    pipeline = RefreshPipeline(name="kit_hook", activities=(Copy(name="raw", source=str(tmp_path / "*.csv")),))
    with MLOpsClient("memory://") as client:
        publish_pipeline(backend, client, pipeline, "holds")
        assert published == [("kit_hook", "holds")]
        assert client.data_factory.list_pipelines() == []
        assert deployable_model(backend, client, tmp_path) == tmp_path / "registered"
