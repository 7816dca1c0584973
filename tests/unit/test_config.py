"""Configuration: precedence, profiles, provenance and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.core.config import load_config
from mlops_sdk.core.errors import ConfigurationError

MLOPS_TOML = """
target = "local://from-file"
retry_deadline = 50
profile = "dev"

[profiles.dev]
data_factory = "dev-factory"

[profiles.prod]
target = "azureml://subscriptions/s/resourceGroups/rg/workspaces/prod"
data_factory = "prod-factory"
devops_pat = "super-secret-pat-value"
"""


@pytest.fixture
def mlops_toml(tmp_path: Path) -> Path:
    path = tmp_path / "mlops.toml"
    path.write_text(MLOPS_TOML)
    return path


def test_defaults_without_any_file() -> None:
    config = load_config()
    assert config.settings.target == "local://.mlops"
    assert config.file is None
    assert set(config.sources.values()) == {"default"}


def test_file_then_profile_then_env_then_argument(mlops_toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config()
    assert config.file == mlops_toml.resolve() or config.file.resolve() == mlops_toml.resolve()
    assert config.settings.target == "local://from-file"
    assert config.settings.data_factory == "dev-factory"  # the file's own default profile
    assert config.settings.retry_deadline == 50
    assert config.sources["target"] == str(config.file)
    assert config.sources["data_factory"].endswith("[profiles.dev]")

    monkeypatch.setenv("MLOPS_DATA_FACTORY", "env-factory")
    monkeypatch.setenv("MLOPS_RETRY_DEADLINE", "70")
    config = load_config()
    assert config.settings.data_factory == "env-factory"
    assert config.settings.retry_deadline == 70
    assert config.sources["data_factory"] == "env MLOPS_DATA_FACTORY"

    config = load_config({"data_factory": "arg-factory", "retry_deadline": None})
    assert config.settings.data_factory == "arg-factory"
    assert config.sources["data_factory"] == "argument"
    assert config.settings.retry_deadline == 70  # None arguments do not override


def test_profile_selected_by_argument_and_by_env(mlops_toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prod = load_config(profile="prod")
    assert prod.settings.profile == "prod"
    assert prod.settings.target.startswith("azureml://")
    assert prod.settings.data_factory == "prod-factory"
    monkeypatch.setenv("MLOPS_PROFILE", "prod")
    assert load_config().settings.data_factory == "prod-factory"
    assert load_config(profile="dev").settings.data_factory == "dev-factory"  # argument beats env


def test_pyproject_tool_mlops_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.mlops]\ntarget = "local://py"\n')
    config = load_config()
    assert config.settings.target == "local://py"
    assert "[tool.mlops]" in config.sources["target"]


def test_config_found_in_parent_and_local_target_resolves_there(
    mlops_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = mlops_toml.parent / "notebooks" / "deep"
    child.mkdir(parents=True)
    monkeypatch.chdir(child)
    config = load_config()
    assert config.settings.target == "local://from-file"
    assert config.base_dir == mlops_toml.parent.resolve()


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text('target = "local://x"\ndata_factori = "oops"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    message = str(caught.value)
    assert "'data_factori'" in message
    assert str(tmp_path / "mlops.toml") in message
    assert "did you mean 'data_factory'" in message


def test_unknown_key_inside_a_profile_names_the_profile(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text('[profiles.prod]\ntargett = "x"\n')
    with pytest.raises(ConfigurationError, match=r"'targett' in .*mlops.toml \[profiles.prod\]"):
        load_config(profile="prod")


def test_unknown_profile_lists_defined_ones(mlops_toml: Path) -> None:
    with pytest.raises(ConfigurationError, match="profile 'staging' is not defined.*defined profiles: dev, prod"):
        load_config(profile="staging")


def test_invalid_value_names_field_and_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_RETRY_MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigurationError, match=r"retry_max_attempts \(from env MLOPS_RETRY_MAX_ATTEMPTS\)"):
        load_config()


def test_invalid_toml_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text("target = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config()


def test_explicit_config_file_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('target = "local://elsewhere"\n')
    monkeypatch.setenv("MLOPS_CONFIG", str(other))
    assert load_config().settings.target == "local://elsewhere"
    monkeypatch.setenv("MLOPS_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config()


def test_secrets_are_masked_in_describe(mlops_toml: Path) -> None:
    rows = {name: (value, source) for name, value, source in load_config(profile="prod").describe()}
    assert rows["devops_pat"][0] == "***"
    assert "super-secret-pat-value" not in repr(load_config(profile="prod").describe())


def test_unknown_argument_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown configuration key 'targte'"):
        load_config({"targte": "local://x"})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"proxy": "proxy.example.com:8080"}, "proxy"),
        ({"proxy": "socks5://proxy.example.com:1080"}, "proxy"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"blob_endpoint": "https://127.0.0.1:10000/devstoreaccount1"}, "blob_endpoint"),
    ],
)
def test_http_settings_are_validated_naming_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        load_config(overrides)


def test_http_settings_defaults_and_values() -> None:
    settings = load_config(
        {"proxy": " http://proxy.example.com:3128 ", "blob_endpoint": "https://{account}.x/"}
    ).settings
    assert settings.proxy == "http://proxy.example.com:3128"
    assert settings.blob_endpoint == "https://{account}.x"
    assert (settings.connect_timeout, settings.read_timeout) == (20.0, 120.0)
