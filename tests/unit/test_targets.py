"""Target URIs and the backend registry (built-in schemes and entry-point plugins)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mlops_sdk.backends import registry
from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.core.config import load_config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.targets import AzureMLTarget, LocalTarget


def test_local_targets(tmp_path: Path) -> None:
    assert LocalTarget.parse("local://.mlops").folder == Path(".mlops")
    assert LocalTarget.parse("local://").folder == Path(".mlops")
    assert LocalTarget.parse("local:///abs/store").folder == Path("/abs/store")
    resolved = registry.parse_target("local://data/.mlops", base_dir=tmp_path)
    assert isinstance(resolved, LocalTarget)
    assert resolved.folder == (tmp_path / "data/.mlops").resolve()


@pytest.mark.parametrize(
    "uri",
    [
        "azureml://subscriptions/0000-1111/resourceGroups/rg-ml/workspaces/ws1",
        "azureml://subscriptions/0000-1111/resourcegroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1/",
    ],
)
def test_azureml_targets(uri: str) -> None:
    target = AzureMLTarget.parse(uri)
    assert (target.subscription_id, target.resource_group, target.workspace) == ("0000-1111", "rg-ml", "ws1")
    assert target.resource_id.endswith("/providers/Microsoft.MachineLearningServices/workspaces/ws1")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://bucket", "no backend for scheme 's3'; supported schemes: azureml, local"),
        ("just-a-folder", "has no scheme"),
        ("azureml://subscriptions/x/workspaces/y", "expected azureml://subscriptions/<subscription-id>"),
    ],
)
def test_bad_targets_say_what_is_supported(uri: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        registry.parse_target(uri)


@pytest.mark.parametrize(
    ("uri", "suggestion"),
    [
        ("local:/x", "local:///x"),
        ("local:x", "local://x"),
        (
            "azureml:subscriptions/s/resourceGroups/r/workspaces/w",
            "azureml://subscriptions/s/resourceGroups/r/workspaces/w",
        ),
    ],
)
def test_a_scheme_without_slashes_is_malformed_not_schemeless(uri: str, suggestion: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        registry.parse_target(uri)
    assert "is malformed" in caught.value.message
    assert "no scheme" not in caught.value.message
    assert f"did you mean {suggestion!r}?" in caught.value.message
    assert caught.value.details["suggestion"] == suggestion


def test_a_windows_drive_is_not_taken_for_a_scheme() -> None:
    with pytest.raises(ConfigurationError, match="has no scheme"):
        registry.parse_target("C:/data/store")


def test_a_scheme_typo_proposes_the_closest_scheme() -> None:
    with pytest.raises(ConfigurationError, match=r"no backend for scheme 'locl'; did you mean 'local'\?") as caught:
        registry.parse_target("locl://x")
    assert caught.value.details["suggested_scheme"] == "local"
    assert caught.value.details["field"] == "target"  # like every other bad-argument error


def test_create_backend_for_local_config(tmp_path: Path) -> None:
    backend = registry.create_backend(load_config({"target": "local://store"}))
    assert isinstance(backend, LocalBackend)
    assert backend.folder == (tmp_path / "store").resolve()
    backend.close()


def test_third_party_backend_registers_through_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "mycloud_backend"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from mlops_sdk.backends.base import Backend
            from mlops_sdk.core.targets import Target

            class MyTarget(Target):
                scheme = "mycloud"

                @classmethod
                def parse(cls, uri):
                    return cls(uri=uri)

            class MyBackend(Backend):
                name = "mycloud"
                target_type = MyTarget
            """
        )
    )
    dist = tmp_path / "site" / "mycloud_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mycloud-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mlops_sdk.backends]\nmycloud = mycloud_backend:MyBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    registry._plugins.cache_clear()
    try:
        assert "mycloud" in registry.supported_schemes()
        backend = registry.create_backend(load_config({"target": "mycloud://anything"}))
        assert backend.name == "mycloud"
        with pytest.raises(ConfigurationError, match="training is not implemented on the mycloud backend"):
            backend.service("training", object)
    finally:
        registry._plugins.cache_clear()
        sys.modules.pop("mycloud_backend", None)
