"""Per-backend settings: ``[backends.<name>]`` tables validated by the backend; old flat keys keep working."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_sdk.backends.base import Backend, backend_section
from mlops_sdk.backends.registry import create_backend
from mlops_sdk.core.config import load_config
from mlops_sdk.core.errors import ConfigurationError

azure_backend = pytest.importorskip("mlops_sdk.backends.azure")
WORKSPACE = "azureml://subscriptions/s/resourceGroups/rg/workspaces/ws"


def _config(tmp_path: Path, text: str, **overrides: Any) -> Any:
    path = tmp_path / "mlops.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(overrides, config_file=path)


def test_the_azure_table_sets_the_azure_keys(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        f'target = "{WORKSPACE}"\ndata_factory = "flat-factory"\n\n'
        '[backends.azure]\ndata_factory = "nested-factory"\nconnect_timeout = 5\n',
    )
    applied, settings = backend_section(config, "azure", azure_backend.AzureBackend.settings_model)
    assert applied.settings.data_factory == "nested-factory"  # the namespaced spelling wins over the flat one
    assert applied.settings.connect_timeout == 5
    assert applied.sources["data_factory"].startswith("[backends.azure]")
    assert settings is not None
    assert settings.model_dump(exclude_unset=True) == {"data_factory": "nested-factory", "connect_timeout": 5.0}
    assert config.settings.data_factory == "flat-factory"  # the shared config is left as it was


def test_old_flat_keys_keep_working_and_arguments_and_env_still_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flat = _config(tmp_path, f'target = "{WORKSPACE}"\ndevops = "https://dev.azure.com/o/p"\n')
    applied, _ = backend_section(flat, "azure", azure_backend.AzureBackend.settings_model)
    assert applied.settings.devops == "https://dev.azure.com/o/p"
    monkeypatch.setenv("MLOPS_DATA_FACTORY", "from-env")
    text = f'target = "{WORKSPACE}"\n[backends.azure]\ndata_factory = "file"\nread_timeout = 9\n'
    config = _config(tmp_path, text, read_timeout=3)
    applied, _ = backend_section(config, "azure", azure_backend.AzureBackend.settings_model)
    assert (applied.settings.data_factory, applied.settings.read_timeout) == ("from-env", 3)


def test_a_profile_adds_to_the_top_level_table(tmp_path: Path) -> None:
    text = (
        f'target = "{WORKSPACE}"\n[backends.azure]\ndata_factory = "dev-factory"\ncloud = "AzureChinaCloud"\n'
        '[profiles.prod.backends.azure]\ndata_factory = "prod-factory"\n'
    )
    path = tmp_path / "mlops.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config({}, profile="prod", config_file=path)
    applied, _ = backend_section(config, "azure", azure_backend.AzureBackend.settings_model)
    assert (applied.settings.data_factory, applied.settings.cloud) == ("prod-factory", "AzureChinaCloud")


def test_a_wrong_key_or_value_in_a_backend_table_names_it(tmp_path: Path) -> None:
    config = _config(tmp_path, f'target = "{WORKSPACE}"\n[backends.azure]\ndata_factroy = "x"\nproxy = "nope"\n')
    with pytest.raises(ConfigurationError) as caught:
        backend_section(config, "azure", azure_backend.AzureBackend.settings_model)
    message = str(caught.value)
    assert "[backends.azure]" in message
    assert "data_factroy: Extra inputs are not permitted" in message
    assert "proxy: write the proxy as a URL" in message  # the flat key's own check runs here too
    assert caught.value.details["field"] == "backends.azure"


def test_a_backend_without_settings_refuses_a_table(tmp_path: Path) -> None:
    config = _config(tmp_path, f'target = "local://{tmp_path / "s"}"\n[backends.local]\nfolder = "x"\n')
    with pytest.raises(ConfigurationError, match=r"the local backend takes no settings; remove \[backends.local\]"):
        create_backend(config)


def test_a_backend_table_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _config(tmp_path, 'backends = "azure"\n')
    assert "must be a table of tables" in str(caught.value)


def test_a_plugin_declares_its_own_keys_without_touching_core_config(tmp_path: Path) -> None:
    class PluginSettings(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        region: str
        shards: int = 1

    class PluginBackend(Backend):
        name: ClassVar[str] = "mycloud"
        settings_model: ClassVar[type[BaseModel] | None] = PluginSettings

    config = _config(tmp_path, '[backends.mycloud]\nregion = "north"\nshards = 4\n')
    backend = PluginBackend(_PluginTarget(), config)  # type: ignore[arg-type]  # the base class reads .scheme only
    assert backend.settings == PluginSettings(region="north", shards=4)
    with pytest.raises(ConfigurationError, match="region: Field required"):
        PluginBackend(_PluginTarget(), _config(tmp_path, "[backends.mycloud]\nshards = 2\n"))  # type: ignore[arg-type]


def test_backend_secrets_are_masked_when_the_config_is_shown(tmp_path: Path) -> None:
    config = _config(tmp_path, '[backends.azure]\ndevops_pat = "s3cr3t-pat-value"\n')
    shown = {name: value for name, value, _ in config.describe()}
    assert "s3cr3t" not in shown["backends"]
    assert "'devops_pat': '***'" in shown["backends"]
    assert "s3cr3t" not in repr(config.settings)
    applied, _ = backend_section(config, "azure", azure_backend.AzureBackend.settings_model)
    assert applied.settings.devops_pat is not None
    assert applied.settings.devops_pat.get_secret_value() == "s3cr3t-pat-value"


class _PluginTarget:
    scheme = "mycloud"
