"""What is secret, decided in one place, and the :class:`Secret` type that carries such a value.

A value is secret when

* it is declared so: a ``securestring`` / ``secureString`` pipeline parameter, a
  ``PipelineParameter(secret=True)``, or a value the user wrapped in :class:`Secret`;
* it has the shape of a secret: a connection string with ``AccountKey`` / ``SharedAccessKey`` /
  ``Password``, a SAS URL (``sig=``), a bearer token or JWT, ``key=...``-style pairs (the patterns
  of :mod:`mlops_sdk.core.redaction`);
* it was registered at run time (:func:`~mlops_sdk.core.redaction.register_secret`: an endpoint key
  we fetched, the Azure DevOps PAT of the configuration, any :class:`Secret` ever built);
* for environment variables only, its *name* says so (``*_KEY``, ``*_TOKEN``, ``*_SECRET``,
  ``*PASSWORD*``, ``*_PAT``, ``*_SAS``, ``*CONNECTION_STRING*``, ...).

Such a value becomes a :class:`Secret` as soon as the SDK accepts it (:func:`protect`). A
``Secret`` shows ``***`` in ``repr``, ``str``, ``model_dump(mode="json")`` and JSON dumps, and its
value is registered for redaction, so an error or log line that quotes it shows ``***`` too. The
real value is read only where it is handed on (:func:`reveal`): to a refresh worker's or training
job's process (through a channel that is not persisted), or to the Azure service that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import GetCoreSchemaHandler, SecretStr
from pydantic_core import CoreSchema, core_schema

from mlops_sdk.core.redaction import MASK, redact, register_secret

__all__ = [
    "MASK",
    "Secret",
    "is_masked",
    "is_secret",
    "looks_secret",
    "masked",
    "protect",
    "reveal",
    "secret_name",
    "split_secrets",
]

_SECRET_WORDS = frozenset(
    {"key", "keys", "token", "secret", "secrets", "password", "passwd", "pwd", "pat", "sas", "credential",
     "credentials", "apikey", "accesskey", "accountkey", "signature"}
)  # fmt: skip
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_MASKS = frozenset({MASK, "**********"})  # ours, and pydantic's own SecretStr rendering


class Secret(SecretStr):
    """A string that must never be shown or stored: ``***`` everywhere, the value via ``get_secret_value()``.

    Building one registers its value for redaction in this process, so any message that quotes it
    (an error naming a path that contains it, a log line) shows ``***`` as well. Pass one anywhere
    the SDK takes a parameter or environment value to mark it secret explicitly::

        TrainingJob(..., environment_variables={"DB_URL": Secret(os.environ["DB_URL"])})
    """

    def __init__(self, secret_value: str) -> None:
        super().__init__(secret_value)
        register_secret(secret_value)

    def _display(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        """Validate from a string or a secret; serialise as ``***`` in JSON mode."""
        return core_schema.no_info_plain_validator_function(
            _to_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda value: MASK, when_used="json"),
        )


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, SecretStr):
        return Secret(value.get_secret_value())
    if isinstance(value, str):
        return Secret(value)
    raise ValueError(f"a secret must be a string, got {type(value).__name__}")


def secret_name(name: str) -> bool:
    """True when an environment variable's name says it holds a secret (``STORAGE_KEY``, ``apiToken``...)."""
    parts = {part.lower() for part in _NAME_PARTS.findall(name)}
    if parts & _SECRET_WORDS:
        return True
    flat = re.sub(r"[^a-z]", "", name.lower())
    return "connectionstring" in flat or "connstr" in flat


def looks_secret(value: str) -> bool:
    """True when ``value`` has a secret's shape or is (or contains) a registered secret."""
    return bool(value) and not is_masked(value) and redact(value) != value


def is_masked(value: Any) -> bool:
    """True for the marker stored and shown in place of a secret."""
    return isinstance(value, str) and value in _MASKS


def is_secret(value: Any, *, name: str | None = None, declared: bool = False) -> bool:
    """The one decision: is this value (of this environment variable ``name``, if given) secret?"""
    if isinstance(value, SecretStr):
        return True
    if not isinstance(value, str):
        return False
    return declared or looks_secret(value) or (name is not None and secret_name(name))


def protect(value: Any, *, name: str | None = None, declared: bool = False) -> Any:
    """Return ``value`` as a :class:`Secret` when :func:`is_secret` says so, else unchanged."""
    if isinstance(value, Secret):
        return value
    if is_secret(value, name=name, declared=declared):
        return _to_secret(value)
    return value


def reveal(value: Any) -> Any:
    """The real value of a secret (other values unchanged): only for handing it to where it is used."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def masked(value: Any) -> Any:
    """``value`` with every secret in it replaced by ``***`` and every string redacted (recursively).

    What an error's ``details`` or a printed document goes through: safe to show and to store.
    """
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked(item) for item in value]
    return value


def split_secrets(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``values`` into what may be stored (secrets replaced by ``***``) and the secrets' real values."""
    stored: dict[str, Any] = {}
    hidden: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, SecretStr):
            stored[key] = MASK
            hidden[key] = value.get_secret_value()
        else:
            stored[key] = value
    return stored, hidden
