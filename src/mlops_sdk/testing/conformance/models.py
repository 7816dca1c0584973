"""Conformance scenarios of the model registry (``client.models``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.clients.hub import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.testing.conformance._kit import ConformanceBackend, registrable_run, require

__all__ = ["TestModelAliasesConformance", "TestModelOutputCheckConformance", "TestModelRegistryConformance"]


class TestModelRegistryConformance:
    """Registering, reading, listing, tagging and resolving ``name@version``."""

    capability = "models.registry"

    def test_register_numbers_versions_and_lists_newest_first(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry")
        models = conformance_client.models
        first = models.register(
            registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-reg", tags={"team": "risk"}
        )
        second = models.register(
            registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-reg", description="retrained"
        )
        assert (first.name, first.version, second.version) == ("conf-reg", "1", "2")
        assert first.tags["team"] == "risk"
        assert second.description == "retrained"
        assert first.output == "model"
        assert [v.version for v in models.list_versions("conf-reg")] == ["2", "1"]
        assert ("conf-reg", "2") in [(v.name, v.version) for v in models.list_models()]
        assert models.get("conf-reg", 1).tags["team"] == "risk"
        assert models.resolve("conf-reg@2").description == "retrained"

    def test_registering_the_same_run_output_again_returns_the_same_version(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry")
        run = registrable_run(conformance_backend, conformance_client, tmp_path)
        first = conformance_client.models.register(run, name="conf-idem")
        again = conformance_client.models.register(run.id, name="conf-idem")
        assert (first.version, again.version) == ("1", "1")
        assert first.run_id == run.id
        assert [v.version for v in conformance_client.models.list_versions("conf-idem")] == ["1"]

    def test_tags_are_added_and_overwritten(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry")
        models = conformance_client.models
        models.register(
            registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-tags", tags={"team": "risk"}
        )
        tagged = models.set_tags("conf-tags", 1, {"team": "growth", "mlops.validation_digest": "sha256:abc"})
        assert (tagged.tags["team"], tagged.tags["mlops.validation_digest"]) == ("growth", "sha256:abc")
        assert models.get("conf-tags", "1").tags["team"] == "growth"

    def test_missing_models_and_versions_are_not_found_errors(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry")
        models = conformance_client.models
        with pytest.raises(ResourceNotFoundError, match="no registered model 'conf-ghost'"):
            models.get("conf-ghost", 1)
        models.register(registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-missing")
        with pytest.raises(ResourceNotFoundError, match="has no version 7"):
            models.resolve("conf-missing@7")

    def test_bad_input_is_a_configuration_error_naming_the_field(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry")
        models = conformance_client.models
        with pytest.raises(ConfigurationError, match="model name 'bad name' is invalid") as caught:
            models.get("bad name", 1)
        assert caught.value.details["field"] == "name"
        with pytest.raises(ConfigurationError, match="NAME@VERSION"):
            models.resolve("conf-model")
        run = registrable_run(conformance_backend, conformance_client, tmp_path)
        with pytest.raises(ConfigurationError, match="has no output 'weights'; its outputs: model"):
            models.register(run, name="conf-bad", output="weights")


class TestModelOutputCheckConformance:
    """Only an output holding an MLflow model becomes a version."""

    capability = "models.output_check"

    def test_an_output_without_an_mlflow_model_is_refused(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry", "models.output_check")
        run = registrable_run(conformance_backend, conformance_client, tmp_path, with_model=False)
        with pytest.raises(ConfigurationError, match="holds no MLflow model"):
            conformance_client.models.register(run, name="conf-empty")
        with pytest.raises(ResourceNotFoundError):
            conformance_client.models.get("conf-empty", 1)


class TestModelAliasesConformance:
    """Aliases (``champion``): moves, removal, ``name:alias`` and the recorded history."""

    capability = "models.aliases"

    def test_alias_moves_removal_and_history(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry", "models.aliases")
        models = conformance_client.models
        models.register(registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-alias")
        models.register(registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-alias")

        models.set_alias("conf-alias", "champion", 1)
        models.set_alias("conf-alias", "champion", 1)  # no move: not recorded twice
        moved = models.set_alias("conf-alias", "champion", 2)
        models.set_alias("conf-alias", "challenger", 1)
        assert moved.aliases == ("champion",)
        assert models.get_by_alias("conf-alias", "champion").version == "2"
        assert models.resolve("conf-alias:champion").version == "2"
        assert models.get("conf-alias", 1).aliases == ("challenger",)

        models.remove_alias("conf-alias", "challenger")
        models.remove_alias("conf-alias", "challenger")  # not set: a no-op, not recorded
        assert models.get("conf-alias", 1).aliases == ()
        history = [(e.alias, e.action, e.previous_version, e.version) for e in models.alias_history("conf-alias")]
        assert history == [
            ("champion", "set", None, "1"),
            ("champion", "set", "1", "2"),
            ("challenger", "set", None, "1"),
            ("challenger", "removed", "1", None),
        ]
        with pytest.raises(ResourceNotFoundError, match="has no alias 'challenger'; versions: 1, 2; aliases: champion"):
            models.get_by_alias("conf-alias", "challenger")

    def test_alias_on_a_missing_version_is_not_found_and_reserved_names_are_refused(
        self, conformance_backend: ConformanceBackend, conformance_client: MLOpsClient, tmp_path: Path
    ) -> None:
        require(conformance_backend, "models.registry", "models.aliases")
        models = conformance_client.models
        models.register(registrable_run(conformance_backend, conformance_client, tmp_path), name="conf-alias2")
        with pytest.raises(ResourceNotFoundError, match="has no version 9"):
            models.set_alias("conf-alias2", "champion", 9)
        with pytest.raises(ConfigurationError, match="alias 'latest' is invalid"):
            models.set_alias("conf-alias2", "latest", 1)
        assert models.alias_history("conf-alias2") == []
