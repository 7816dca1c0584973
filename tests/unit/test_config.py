"""Configuration: precedence, profiles, provenance and errors that name the key and the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_sdk.core import config as config_module
from mlops_sdk.core.config import SWITCHES, Settings, load_config
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
    expected = r"profile 'staging' \(requested\) is not defined.*defined profiles: dev, prod"
    with pytest.raises(ConfigurationError, match=expected):
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


def _problems(error: ConfigurationError) -> set[tuple[str | None, str]]:
    return {(problem["profile"], problem["key"]) for problem in error.details["problems"]}


def test_typo_in_a_profile_that_is_not_selected_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text('target = "local://x"\n[profiles.dev]\n[profiles.prod]\ntargt = "x"\n')
    for selected in (None, "dev"):
        with pytest.raises(ConfigurationError) as caught:
            load_config(profile=selected)
        assert "unknown configuration key 'targt' in" in str(caught.value)
        assert "[profiles.prod]; did you mean 'target'?" in str(caught.value)
        (problem,) = caught.value.details["problems"]
        assert problem["file"] == str(tmp_path / "mlops.toml")
        assert problem == {**problem, "profile": "prod", "key": "targt", "suggestion": "target"}


def test_every_problem_of_the_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text(
        'target = "local://x"\ndata_factori = "f"\nprofile = "dve"\n'
        '[profiles.dev]\ncredential = "azcli"\n'
        '[profiles.prod]\ntargt = "x"\nretry_deadline = "soon"\nretry_max_attemps = 3\n'
        "[profiles.prod.azure]\nx = 1\n"
    )
    with pytest.raises(ConfigurationError) as caught:
        load_config(profile="dev")
    assert _problems(caught.value) == {
        (None, "data_factori"),
        (None, "profile"),
        ("dev", "credential"),
        ("prod", "targt"),
        ("prod", "retry_deadline"),
        ("prod", "retry_max_attemps"),
        ("prod", "azure"),
    }
    message = str(caught.value)
    assert message.startswith("7 configuration problems:")
    assert "did you mean 'data_factory'?" in message
    assert "did you mean 'retry_max_attempts'?" in message
    assert "'retry_deadline' in" in message
    assert "as a number (got 'soon')" in message
    assert "'credential' in" in message
    assert "'azure_cli'" in message
    assert "names profile 'dve', which the file does not define" in message
    assert "did you mean 'dev'?" in message
    assert "not nested tables" in message


def test_bad_types_in_an_unselected_profile(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text(
        '[profiles.prod]\nretry_max_attempts = "eight"\nshow_progress = [1]\ndevops_pat = 12345678\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    expected = {("prod", "retry_max_attempts"), ("prod", "show_progress"), ("prod", "devops_pat")}
    assert _problems(caught.value) == expected
    assert "12345678" not in str(caught.value)  # the value of a secret setting is never echoed
    assert "12345678" not in repr(caught.value.to_dict())


def test_values_an_unselected_profile_holds_get_the_same_checks_as_the_selected_one(tmp_path: Path) -> None:
    """Before, only the selected profile's values went through the settings' own checks: a webhook
    written as ftp:// in the prod profile passed every dev run and broke the first prod one."""
    token = "XXXXsecretXXXX1234567890"
    (tmp_path / "mlops.toml").write_text(
        'target = "local://.mlops"\n\n[profiles.prod]\n'
        f'notify_webhook = "ftp://hooks.example.com/T000/B000/{token}"\nreview_url = "not a url"\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert _problems(caught.value) == {("prod", "notify_webhook"), ("prod", "review_url")}
    assert "https:// URL" in caught.value.message
    assert "scheme and host" in caught.value.message
    assert token not in str(caught.value)  # a webhook URL's path is its credential: never echoed
    assert token not in repr(caught.value.to_dict())


def test_pyproject_profiles_are_checked_whole(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.mlops]\ntarget = "local://x"\n[tool.mlops.profiles.ci]\ndata_factroy = "f"\n'
    )
    with pytest.raises(ConfigurationError, match=r"'data_factroy' in .*pyproject.toml \[tool.mlops\] \[profiles.ci\]"):
        load_config()


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("profiles = 3\n", "profiles", "must be a table of tables"),
        ("[profiles]\nprod = 3\n", "profiles.prod", "must be a table like [profiles.prod]"),
        ('[profile.prod]\ntarget = "x"\n', "profile", "profiles are written [profiles.<name>]"),
        ("[profiles.prod]\nprofile = 'dev'\n", "profile", "has no effect inside a profile"),
    ],
)
def test_misplaced_tables_are_named(tmp_path: Path, text: str, key: str, expected: str) -> None:
    (tmp_path / "mlops.toml").write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert expected in str(caught.value)
    assert [problem["key"] for problem in caught.value.details["problems"]] == [key]


def test_a_clean_file_with_several_profiles_loads(mlops_toml: Path) -> None:
    assert load_config(profile="prod").settings.data_factory == "prod-factory"


# --- property: whatever mix of good and bad entries, exactly the bad ones are reported ---------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_GOOD = {
    "data_factory": ['"factory"'],
    "retry_deadline": ["12", "1.5"],
    "retry_max_attempts": ["3"],
    "credential": ['"azure_cli"', '"auto"'],
    "show_progress": ["true"],
    "cloud": ['"AzureChinaCloud"'],
}
_BAD_VALUE = {
    "retry_deadline": ['"soon"', "[1]"],
    "retry_max_attempts": ['"many"', "1.5"],
    "credential": ['"azcli"'],
    "show_progress": ['"sometimes"'],
    "approval_pipeline": ['"seven"'],
}
_TYPOS = ["targt", "data_factroy", "retry_dedline", "credentail", "totally_unknown"]

_ENTRY = st.one_of(
    st.sampled_from(sorted(_GOOD)).flatmap(lambda k: st.sampled_from(_GOOD[k]).map(lambda v: (k, v, False))),
    st.sampled_from(sorted(_BAD_VALUE)).flatmap(lambda k: st.sampled_from(_BAD_VALUE[k]).map(lambda v: (k, v, True))),
    st.sampled_from(_TYPOS).map(lambda k: (k, '"x"', True)),
)
_SECTION = st.lists(_ENTRY, max_size=4, unique_by=lambda entry: entry[0])
_FILE = st.tuples(_SECTION, st.dictionaries(st.sampled_from(["dev", "prod", "ci"]), _SECTION, max_size=3))


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=_FILE)
def test_exactly_the_bad_entries_are_reported(tmp_path: Path, content: tuple[list, dict]) -> None:
    top, profiles = content
    lines = [f"{key} = {value}" for key, value, _ in top]
    for name, section in profiles.items():
        lines += [f"[profiles.{name}]", *(f"{key} = {value}" for key, value, _ in section)]
    (tmp_path / "mlops.toml").write_text("\n".join(lines) + "\n")
    expected = {(None, key) for key, _, bad in top if bad}
    expected |= {(name, key) for name, section in profiles.items() for key, _, bad in section if bad}
    if not expected:
        load_config()
        for name in profiles:
            load_config(profile=name)
        return
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert _problems(caught.value) == expected
    assert len(caught.value.details["problems"]) == len(expected)


def test_a_secret_shaped_value_in_a_wrong_place_is_not_echoed(tmp_path: Path) -> None:
    secret = "AccountKey=c2VjcmV0LWtleS12YWx1ZQ==;AccountName=acct;DefaultEndpointsProtocol=https;more-text"
    (tmp_path / "mlops.toml").write_text(f'[profiles.prod]\nretry_deadline = "{secret}"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert "retry_deadline" in str(caught.value)
    assert "c2VjcmV0LWtleS12YWx1ZQ==" not in str(caught.value)
    assert "c2VjcmV0LWtleS12YWx1ZQ==" not in repr(caught.value.to_dict())


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


def test_a_misspelt_mlops_variable_is_reported_not_silently_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_module, "_warned", set())  # warned once per process: this test's process
    monkeypatch.setenv("MLOPS_TARGT", "azureml://subscriptions/s/resourceGroups/rg/workspaces/w")
    monkeypatch.setenv("MLOPS_Retry_Deadlne", "5")  # the settings read MLOPS_* case-insensitively
    monkeypatch.setenv("MLOPS_TARGET_ENVIRONMENT", "blue")  # an application's own variable: left alone
    monkeypatch.setenv("MLOPS_CAPTURE_WRITER", "thread")  # a switch of the endpoint server: known
    with caplog.at_level("WARNING", logger="mlops_sdk.config"):
        config = load_config()
    assert config.settings.target == "local://.mlops"  # the typo does not take effect...
    assert config.misspelt == (("MLOPS_Retry_Deadlne", "MLOPS_RETRY_DEADLINE"), ("MLOPS_TARGT", "MLOPS_TARGET"))
    assert "MLOPS_TARGT is not a setting and is ignored; did you mean MLOPS_TARGET?" in caplog.text  # ...but is said


def test_every_mlops_variable_the_code_reads_is_known() -> None:
    # a variable read somewhere but missing from SWITCHES would be reported as a typo of a setting
    source = Path(__file__).resolve().parents[2] / "src" / "mlops_sdk"
    read = {
        name
        for path in source.rglob("*.py")
        for name in re.findall(r"[\"']\b(MLOPS_[A-Z][A-Z_]*[A-Z])[\"']", path.read_text())
    }
    settings = {f"MLOPS_{name.upper()}" for name in Settings.model_fields}
    assert read - settings - SWITCHES == set()
    assert "MLOPS_CAPTURE_WRITER" in read  # the search finds the names as the code writes them
