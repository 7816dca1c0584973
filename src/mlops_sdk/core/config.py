"""Configuration: one typed settings object, four layers, named profiles, and where each value came from.

Precedence, highest first: arguments > ``MLOPS_*`` environment variables > the config file
(``mlops.toml``, or ``[tool.mlops]`` in ``pyproject.toml``) with the selected profile's section laid
over its top level > defaults. The file is found in the working directory or the nearest parent that
has one (``MLOPS_CONFIG`` or ``config_file=`` name it explicitly). A profile is chosen by argument,
``MLOPS_PROFILE`` or the file's own ``profile`` key.

The whole file is checked when it is read, every profile included, whichever one is selected
(:mod:`mlops_sdk.core.config_problems`): unknown keys (with a did-you-mean), value types, tables where
values belong, a ``profile`` key naming an undefined profile. All problems are raised together in
one :class:`ConfigurationError` (``details["problems"]``: file, profile, key, problem, suggestion).
A wrong value from the environment or an argument is an error naming the field and where it came from.

.. code-block:: toml

    # mlops.toml
    target = "local://.mlops"

    [profiles.prod]
    target = "azureml://subscriptions/S/resourceGroups/RG/workspaces/WS"
    data_factory = "my-factory"
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from mlops_sdk.core.config_problems import (
    BACKENDS,
    PROFILES,
    ConfigProblem,
    check_file_table,
    check_keys,
    problems_error,
)
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import redact, register_secret
from mlops_sdk.core.secrets import secret_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["SWITCHES", "Config", "Settings", "find_config_file", "load_config", "misspelt_environment", "section_model"]

ENV_PREFIX = "MLOPS_"
CONFIG_ENV = "MLOPS_CONFIG"
PROFILE_ENV = "MLOPS_PROFILE"
SWITCHES = frozenset(
    {
        CONFIG_ENV,
        "MLOPS_PROGRESS",
        "MLOPS_ENDPOINT_PRELOAD",
        "MLOPS_ENDPOINT_METRICS",
        "MLOPS_ENDPOINT_KEY",
        "MLOPS_CAPTURE_WRITER",
        "MLOPS_CAPTURE_WRITER_TIMEOUT",
    }
)
"""``MLOPS_*`` variables read outside the settings (the config file's path, process switches)."""

_log = get_logger("mlops_sdk.config")
_warned: set[str] = set()

CredentialKind = Literal[
    "auto", "default", "azure_cli", "managed_identity", "workload_identity", "azure_pipelines", "client_secret"
]


def _proxy_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("write the proxy as a URL with scheme and host, e.g. http://proxy.example.com:8080")
    return value.strip()


def _blob_endpoint(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not value.startswith(("https://", "http://")) or "{account}" not in value:
        raise ValueError("write it as a URL containing {account}, e.g. https://{account}.blob.core.windows.net")
    return value.strip().rstrip("/")


def _https_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    # azure-core sends bearer tokens only over TLS and MSAL accepts only https authorities.
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("write it as an https:// URL with a host, e.g. https://management.usgovcloudapi.net/")
    return value.strip()


def _dns_suffix(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip().strip(".")
    if "://" in text or "/" in text or any(ch.isspace() for ch in text) or "." not in text:
        raise ValueError("write the blob suffix alone, without scheme or path, e.g. core.chinacloudapi.cn")
    return text


def _not_a_boolean(value: Any) -> Any:
    # pydantic reads true as 1 and false as 0: `retry_deadline = true` would silently be one second.
    if isinstance(value, bool):
        raise ValueError(f"Input should be a number, not {str(value).lower()}")
    return value


# The checks travel with the type, so a backend's own settings model (section_model) runs them too.
ProxyUrl = Annotated[str | None, AfterValidator(_proxy_url)]
BlobEndpoint = Annotated[str | None, AfterValidator(_blob_endpoint)]
HttpsUrl = Annotated[str | None, AfterValidator(_https_url)]
DnsSuffix = Annotated[str | None, AfterValidator(_dns_suffix)]
Seconds = Annotated[float, BeforeValidator(_not_a_boolean)]
"""A number of seconds (``true`` / ``false`` are refused, not read as 1 and 0)."""
Count = Annotated[int, BeforeValidator(_not_a_boolean)]
"""A whole number (``true`` / ``false`` are refused)."""


class Settings(BaseSettings):
    """Every setting the SDK reads. Each field can come from an argument, ``MLOPS_<NAME>`` or the file."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, case_sensitive=False)

    target: str = "local://.mlops"
    """Where everything runs: ``local://<folder>`` or ``azureml://subscriptions/.../workspaces/<ws>``."""

    profile: str | None = None
    """Name of the profile section applied from the config file (``dev``, ``prod``, ...)."""

    # --- Azure -----------------------------------------------------------------------------------
    cloud: str = "AzureCloud"
    """Azure cloud: ``AzureCloud``, ``AzureChinaCloud``, ``AzureUSGovernment`` or a custom name."""
    resource_manager_url: HttpsUrl = None
    """Override of the Azure Resource Manager endpoint (sovereign clouds, private links, test fakes): an https URL."""
    authority_url: HttpsUrl = None
    """Override of the Microsoft Entra authority host: an https URL."""
    storage_suffix: DnsSuffix = None
    """Override of the cloud's blob storage suffix (``core.windows.net``): ``https://<account>.blob.<suffix>``."""
    blob_endpoint: BlobEndpoint = None
    """Blob endpoint for datastore reads, with ``{account}`` standing for the storage account, e.g.
    ``https://{account}.privatelink.blob.core.windows.net`` or an emulator's ``https://127.0.0.1:10000/{account}``."""
    ca_bundle: Path | None = None
    """CA bundle (PEM) trusted for every Azure and Azure DevOps connection (``REQUESTS_CA_BUNDLE`` is not read)."""
    proxy: ProxyUrl = None
    """HTTP(S) proxy URL (``http://host:port``) for every Azure connection; unset: ``HTTPS_PROXY`` is honoured."""
    connect_timeout: Seconds = Field(default=20.0, gt=0, allow_inf_nan=False)
    """Seconds to wait for a TCP/TLS connection to any Azure service."""
    read_timeout: Seconds = Field(default=120.0, gt=0, allow_inf_nan=False)
    """Seconds to wait for data on an open connection to any Azure service."""
    credential: CredentialKind = "auto"
    """Which azure-identity credential to use; ``auto`` picks the right one for the CI runner or desktop."""
    data_factory: str | None = None
    """Azure Data Factory name used by ``client.data_factory``."""
    data_factory_resource_group: str | None = None
    """Resource group of the factory, when it differs from the workspace's."""
    data_factory_visibility_wait: Seconds = Field(default=30.0, ge=0.0, allow_inf_nan=False)
    """Seconds to keep looking for a run whose ``createRun`` answer was lost before creating it again
    (``queryPipelineRuns`` can lag behind ``createRun``)."""
    endpoint_busy_wait: Seconds = Field(default=1200.0, ge=0.0, allow_inf_nan=False)
    """Seconds an Azure ML endpoint/deployment PUT answered 409 (another operation in progress) is retried
    before the rollout fails with ``ConflictError``."""
    devops: str | None = None
    """Azure DevOps project URL, e.g. ``https://dev.azure.com/org/project``."""
    devops_pat: SecretStr | None = None
    """Azure DevOps personal access token (else a bearer token from the credential is used)."""
    approval_pipeline: Count | None = None
    """Azure DevOps pipeline id whose stage carries the environment approval check."""

    # --- approvals: where votes are cast, GitHub environments, notifications ---------------------
    approvals_provider: Literal["auto", "devops", "github"] = "auto"
    """Where approval votes are cast: ``auto`` (the target's own: the local store, Azure DevOps on Azure),
    ``devops`` (Azure DevOps environment approvals) or ``github`` (GitHub Actions environment reviews)."""
    github_repository: str | None = None
    """``owner/repo`` whose workflow runs carry GitHub approvals; unset: ``GITHUB_REPOSITORY``."""
    github_token: SecretStr | None = None
    """GitHub token (a reviewer's token to vote; read access to watch); unset: ``GITHUB_TOKEN``."""
    github_api_url: str | None = None
    """GitHub REST API root; unset: ``GITHUB_API_URL``, else ``https://api.github.com`` (GHES: ``https://host/api/v3``)."""
    github_environment: str | None = None
    """Environment whose required reviewers gate the deployment job; unset: any environment the run waits on."""
    github_run_id: Count | None = None
    """Workflow run a GitHub approval request attaches to; unset: ``GITHUB_RUN_ID`` (the run this job is in)."""
    approval_records: Path | None = None
    """Folder keeping GitHub approval requests (policy, requester, reason); unset: ``<store>/approvals-github``."""
    review_url: str | None = None
    """Base URL of the approvals review page; notifications link to ``<review_url>/requests/<request id>``."""
    notify_teams: SecretStr | None = None
    """Microsoft Teams incoming-webhook URL notified on request, vote and decision (a secret)."""
    notify_teams_card: Literal["adaptive", "messagecard"] = "adaptive"
    """Teams payload: an Adaptive Card (Workflows webhooks) or a legacy MessageCard (Office 365 connectors)."""
    notify_slack: SecretStr | None = None
    """Slack incoming-webhook URL notified on request, vote and decision (a secret)."""
    notify_webhook: SecretStr | None = None
    """Generic JSON webhook URL, each POST signed with ``notify_webhook_secret`` (a secret)."""
    notify_webhook_secret: SecretStr | None = None
    """HMAC-SHA256 key of the generic webhook's ``X-Mlops-Signature`` header."""
    ci_summary: bool = True
    """Append the approval summary to the CI run's summary (GitHub step summary / Azure DevOps upload)."""

    # --- behaviour -----------------------------------------------------------------------------
    retry_deadline: Seconds = Field(default=300.0, gt=0, allow_inf_nan=False)
    """Upper bound in seconds of one call including its retries."""
    retry_max_attempts: Count = Field(default=8, ge=1)
    """Attempts in total for one retried call."""
    poll_interval: Seconds | None = Field(default=None, gt=0, allow_inf_nan=False)
    """First polling interval of long-running operations (seconds); unset: the backend's (local 0.05, Azure 1)."""
    poll_max_interval: Seconds | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Largest polling interval of long-running operations (seconds); unset: the backend's (local 0.5, Azure 15)."""
    show_progress: bool | None = None
    """Progress bars for long waits: unset decides by terminal/notebook, true/false force."""

    # --- per backend -----------------------------------------------------------------------------
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Each backend's own keys, one table per backend (``[backends.azure]``, ``[profiles.prod.backends.azure]``).
    The backend validates its table when it is created (see ``Backend.settings_model``). Values of secret
    keys (``devops_pat``, ``*_token``, ``*_key``, ...) are held as ``SecretStr``: never shown, logged or stored."""

    @field_validator("notify_teams", "notify_slack", "notify_webhook")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value().strip())
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        # The message never quotes the URL: its path is the webhook's credential.
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("write the webhook as an https:// URL (http:// only to 127.0.0.1 / localhost)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("review_url", "github_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("write it as a URL with scheme and host, e.g. https://approvals.example.com")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _register_secrets(self) -> Settings:
        # A secret setting is masked wherever it could be quoted (an error naming a URL, a log line);
        # a webhook URL's token-like path segments and query values (where Slack and Teams put the token)
        # are registered on their own too, so a URL printed in pieces is masked as well.
        for name in type(self).model_fields:  # a URL setting with a password (proxy = "http://u:pw@host")
            value = getattr(self, name)
            if isinstance(value, str) and "://" in value:
                register_secret(urlsplit(value).password)
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = value.get_secret_value()
                register_secret(text)
                if "://" in text:
                    parts = urlsplit(text)
                    pieces = parts.path.split("/") + [pair.partition("=")[2] for pair in parts.query.split("&")]
                    for piece in pieces:
                        if len(piece) >= 16 and any(ch.isdigit() for ch in piece):
                            register_secret(piece)
        return self

    @field_validator("backends")
    @classmethod
    def _hide_backend_secrets(cls, sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            backend: {
                key: SecretStr(value)
                if isinstance(value, str) and (key in SECRET_FIELDS or secret_name(key))
                else value
                for key, value in values.items()
            }
            for backend, values in sections.items()
        }

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``MLOPS_*`` variables, then the config file layer (no dotenv, no secrets dir)."""
        return init_settings, env_settings, _FileLayerSource(settings_cls, _FILE_LAYER.get() or {})


SECRET_FIELDS = frozenset(
    {"devops_pat", "github_token", "notify_teams", "notify_slack", "notify_webhook", "notify_webhook_secret"}
)

_FILE_LAYER: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mlops_file_layer", default=None)


class _FileLayerSource(PydanticBaseSettingsSource):
    """The already-merged values from the config file (top level + profile section)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass(frozen=True)
class Config:
    """Effective settings plus where each value came from.

    Attributes:
        settings: The validated settings.
        sources: For every field, ``"argument"``, ``"env MLOPS_X"``, ``"<file>"``,
            ``"<file> [profiles.<name>]"`` or ``"default"``.
        file: The config file that was read, if any.
        base_dir: Folder relative ``local://`` targets resolve against (the config file's folder,
            else the working directory).
        misspelt: ``MLOPS_*`` variables that are no setting but a near-miss of one (``MLOPS_TARGT``).
    """

    settings: Settings
    sources: Mapping[str, str] = field(default_factory=dict)
    file: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    misspelt: tuple[tuple[str, str], ...] = ()
    """``(variable, the setting it probably meant)`` for each ``MLOPS_*`` variable that is read by nothing."""

    def describe(self) -> list[tuple[str, str, str]]:
        """Return ``(name, value, source)`` rows for display; secrets are masked."""
        rows = []
        for name in Settings.model_fields:
            value = getattr(self.settings, name)
            secret = name in SECRET_FIELDS and value is not None
            shown = "***" if secret else redact(str(_masked_sections(value) if name == BACKENDS else value))
            rows.append((name, shown, self.sources.get(name, "default")))
        return rows


def _secret_key(key: str) -> bool:
    return key in SECRET_FIELDS or secret_name(key)


def _masked_sections(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        backend: {key: "***" if _secret_key(key) else value for key, value in values.items()}
        for backend, values in sections.items()
    }


def section_model(name: str, keys: tuple[str, ...]) -> type[BaseModel]:
    """A model of a backend's own keys built from the :class:`Settings` fields of the same names (same types,
    defaults and checks), so ``[backends.<name>]`` and the older flat keys accept exactly the same values."""
    fields: dict[str, Any] = {key: (Settings.model_fields[key].annotation, Settings.model_fields[key]) for key in keys}
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), **fields)
    return model


def find_config_file(start: Path | None = None) -> Path | None:
    """Return ``MLOPS_CONFIG``, else the nearest ``mlops.toml`` or ``pyproject.toml`` with ``[tool.mlops]``."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        mlops_toml = candidate / "mlops.toml"
        if mlops_toml.is_file():
            return mlops_toml
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "mlops" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        raise ConfigurationError(
            f"config file {path} does not exist; fix {CONFIG_ENV} or config_file=",
            details={"file": str(path), "fix": f"point {CONFIG_ENV} / --config at an existing file, or unset it"},
        ) from None
    except OSError as error:  # a folder, no permission
        raise ConfigurationError(
            f"config file {path} cannot be read ({error.strerror}); fix {CONFIG_ENV} or config_file=",
            details={"file": str(path), "fix": f"point {CONFIG_ENV} / --config at a readable TOML file"},
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"config file {path} is not UTF-8 text; save it as UTF-8 TOML",
            details={"file": str(path), "fix": f"save {path} as UTF-8"},
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(
            f"config file {path} is not valid TOML: {error}",
            details={"file": str(path), "fix": f"correct the TOML syntax of {path} at the line and column named"},
        ) from error
    except RecursionError:  # [[[[...]]]] deeper than the parser follows
        raise ConfigurationError(
            f"config file {path} is not valid TOML: nested too deeply",
            details={"file": str(path), "fix": f"correct the TOML syntax of {path}"},
        ) from None
    except ValueError as error:  # a path holding a NUL byte
        raise ConfigurationError(
            f"config file {path!r} cannot be read: {error}; fix {CONFIG_ENV} or config_file=",
            details={"file": str(path), "fix": f"point {CONFIG_ENV} / --config at a readable TOML file"},
        ) from None


def _file_table(path: Path) -> tuple[dict[str, Any], str]:
    """The file's mlops table and how to name it in messages."""
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        where = f"{path} [tool.mlops]"
        table = data.get("tool", {}).get("mlops", {})
        if not isinstance(table, dict):
            raise problems_error([ConfigProblem(str(path), None, "tool.mlops", "must be a table: [tool.mlops]")])
        return dict(table), where
    return data, str(path)


def _file_layers(
    path: Path | None, profile: str | None, profile_source: str
) -> tuple[dict[str, Any], dict[str, Any], str | None, str]:
    """Return (top-level values, profile values, chosen profile, display name of the file).

    The whole file is checked first, every profile included: all its problems, and a requested
    profile it does not define, are raised together.
    """
    if path is None:
        if profile:
            raise ConfigurationError(
                f"profile {profile!r} was requested but no mlops.toml or [tool.mlops] was found; "
                f"create one or set {CONFIG_ENV}"
            )
        return {}, {}, None, ""
    table, where = _file_table(path)
    problems = check_file_table(table, Settings.model_fields, SECRET_FIELDS, where, Settings)
    profiles = table.get(PROFILES, {})
    profiles = profiles if isinstance(profiles, dict) else {}
    top = {key: value for key, value in table.items() if key != PROFILES}
    chosen = profile or (top.get("profile") if isinstance(top.get("profile"), str) else None)
    if profile and profile not in profiles:
        defined = ", ".join(sorted(profiles)) or "none"
        sentence = f"profile {profile!r} ({profile_source}) is not defined in {where}; defined profiles: {defined}"
        problems.append(ConfigProblem(where, None, "profile", "not defined", sentence=sentence))
    if problems:
        raise problems_error(problems)
    section: dict[str, Any] = dict(profiles[chosen]) if chosen else {}
    return top, section, chosen, where


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    profile: str | None = None,
    config_file: str | Path | None = None,
) -> Config:
    """Resolve the effective configuration.

    Args:
        overrides: Values given as arguments (highest precedence); ``None`` values are ignored.
        profile: Profile to apply (else ``MLOPS_PROFILE``, else the file's ``profile`` key).
        config_file: Config file to read instead of searching for one.

    Raises:
        ConfigurationError: unreadable file; any problem anywhere in the file (all of them at once);
            unknown argument key; unknown profile; invalid value from the environment or arguments.
    """
    arguments = {key: value for key, value in (overrides or {}).items() if value is not None}
    unknown = check_keys(arguments, Settings.model_fields, "the arguments")
    if unknown:
        raise problems_error(unknown)
    path = Path(config_file) if config_file is not None else find_config_file()
    requested = profile or arguments.get("profile")
    if requested:
        arguments["profile"] = requested
    from_env = os.environ.get(PROFILE_ENV) or None
    source = "requested" if requested else f"from {PROFILE_ENV}"
    top, section, chosen, where = _file_layers(path, requested or from_env, source)
    file_values = {**top, **section}
    if isinstance(top.get(BACKENDS), dict) and isinstance(section.get(BACKENDS), dict):
        # a profile's backend table adds to (and overrides keys of) the top-level one, key by key
        merged = {name: dict(values) for name, values in top[BACKENDS].items()}
        for name, values in section[BACKENDS].items():
            merged[name] = {**merged.get(name, {}), **values}
        file_values[BACKENDS] = merged
    if chosen:
        file_values["profile"] = chosen

    try:
        env_values = EnvSettingsSource(Settings)()
    except (SettingsError, RecursionError) as error:  # MLOPS_BACKENDS that is not (readable) JSON
        raise _unparsable_env(error) from None
    sources: dict[str, str] = {}
    for name in Settings.model_fields:
        if name in arguments:
            sources[name] = "argument"
        elif name in env_values:
            sources[name] = f"env {ENV_PREFIX}{name.upper()}"
        elif name in section:
            sources[name] = f"{where} [profiles.{chosen}]"
        elif name in top or (name == "profile" and chosen):
            sources[name] = where
        else:
            sources[name] = "default"

    reset = _FILE_LAYER.set(file_values)
    try:
        settings = Settings(**arguments)
    except ValidationError as error:
        raise _invalid_value(error, sources) from error
    finally:
        _FILE_LAYER.reset(reset)
    base_dir = path.resolve().parent if path is not None and sources["target"] != "argument" else Path.cwd()
    misspelt = tuple(misspelt_environment())
    for variable, meant in misspelt:
        if variable not in _warned:  # once per process: every client loads the configuration
            _warned.add(variable)
            _log.warning("%s is not a setting and is ignored; did you mean %s?", variable, meant)
    return Config(settings=settings, sources=sources, file=path, base_dir=base_dir, misspelt=misspelt)


def misspelt_environment(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(variable, meant)`` for every ``MLOPS_*`` variable that nothing reads but is a near-miss of one that
    is read: a typo would otherwise be silently ignored (``MLOPS_TARGT`` leaves the default target).

    Other ``MLOPS_*`` variables (an application's own) are left alone.
    """
    variables = os.environ if environ is None else environ
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | SWITCHES
    names = {variable.removeprefix(ENV_PREFIX): variable for variable in known}
    found = []
    for variable in sorted(variables):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        # compared without the prefix, which every name shares: MLOPS_TARGET_ENV is not MLOPS_TARGET
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), sorted(names), n=1, cutoff=0.85)
        if close:
            found.append((variable, names[close[0]]))
    return found


def _unparsable_env(error: Exception) -> ConfigurationError:
    """A ``MLOPS_*`` variable of a structured setting (``MLOPS_BACKENDS``) whose value is not JSON."""
    found = re.search(r'field "(\w+)"', str(error))
    name = found[1] if found else BACKENDS
    source = f"env {ENV_PREFIX}{name.upper()}"
    problem = "not valid JSON (nested too deeply)" if isinstance(error, RecursionError) else "not valid JSON"
    sentence = f"{name} (from {source}): {problem}; give a JSON object, e.g. " + '{"azure": {"proxy": "http://h:3128"}}'
    return problems_error([ConfigProblem(source, None, name, problem, sentence=sentence)])


def _invalid_value(error: ValidationError, sources: Mapping[str, str]) -> ConfigurationError:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        source = sources.get(name, "default")
        if item["type"] == "extra_forbidden":
            problems.append(ConfigProblem(source, None, name, "unknown key"))
        else:
            sentence = f"{name} (from {source}): {item['msg']}"
            problems.append(ConfigProblem(source, None, name, item["msg"], sentence=sentence))
    return problems_error(problems)
