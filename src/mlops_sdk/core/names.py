"""The naming rules of user-supplied names and keys, each written once.

Every client checks its inputs with these functions, so a name is accepted or refused the same way
on every backend and by every client, and the error always names the field and the rule.
Rules follow the strictest platform (Azure ML), so a name that works locally also works on Azure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.redaction import redact

__all__ = [
    "ALIAS",
    "DEPLOYMENT_NAME",
    "ENDPOINT_NAME",
    "IDEMPOTENCY_KEY",
    "MODEL_NAME",
    "MODEL_VERSION",
    "check_alias",
    "check_deployment_name",
    "check_endpoint_name",
    "check_idempotency_key",
    "check_model_name",
    "check_model_version",
    "check_positive_id",
    "check_tags",
    "require_text",
]

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
"""A registered model's name (MLflow and Azure ML both accept it)."""
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$")
"""A model alias such as ``champion``."""
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
MODEL_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
"""A model version (a number on both registries; Azure ML keeps it as a string)."""
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,199}$")
"""A key that makes a side effect safe to repeat (flow keys look like ``<run id>:<step>``)."""
ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
"""An online endpoint's name (Azure ML's rule: 3-32 characters, not ending with '-')."""
DEPLOYMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
"""A deployment's name under an endpoint (Azure ML's rule: 2-32 characters)."""


def require_text(value: Any, field: str) -> str:
    """``value`` when it is a non-empty string; otherwise a :class:`ConfigurationError` naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{field} must be a non-empty string, got {value!r}", details={"field": field})
    return value


def check_model_name(name: Any, field: str = "name") -> str:
    """A registered model's name, or a :class:`ConfigurationError` saying what names look like."""
    if not isinstance(name, str) or not MODEL_NAME.match(name):
        raise ConfigurationError(
            f"model name {name!r} is invalid; use 1-255 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit",
            details={"field": field, "value": str(name)},
        )
    return name


def check_alias(alias: Any, field: str = "alias") -> str:
    """A settable alias name (``latest`` and ``v<number>`` are reserved by the registries)."""
    if not isinstance(alias, str) or not ALIAS.match(alias) or _RESERVED_ALIAS.match(alias):
        raise ConfigurationError(
            f"alias {alias!r} is invalid; use letters, digits, '-' and '_' starting with a letter or '_' "
            "('latest' and v<number> are reserved)",
            details={"field": field, "value": str(alias)},
        )
    return alias


_LARGEST_VERSION = 2**63 - 1


def check_model_version(version: Any, field: str = "version") -> str:
    """A model version as the registries keep it (a string); ``3`` and ``"3"`` are the same version."""
    text = str(version).strip()
    if isinstance(version, bool) or not MODEL_VERSION.match(text):
        raise ConfigurationError(
            f"model version {version!r} is invalid; pass the version number, e.g. 3 or '3'",
            details={"field": field, "value": str(version)},
        )
    if text.isdigit() and int(text) > _LARGEST_VERSION:  # a store or service holds versions as 64-bit numbers
        what = "model version" if field == "version" else f"{field}: version"
        raise ConfigurationError(
            f"{what} {text} is invalid: a version is at most {_LARGEST_VERSION}",
            details={"field": field, "value": text},
        )
    return text


def check_idempotency_key(key: Any, field: str = "idempotency_key") -> str:
    """An idempotency key: the same rule for training runs, refreshes, approvals and pipeline runs."""
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key):
        raise ConfigurationError(
            f"{field} {key!r} must be 1-200 characters of letters, digits, '-', '_', '.', ':' or '/', "
            "starting with a letter or digit",
            details={"field": field},
        )
    return key


def check_endpoint_name(name: Any, field: str = "endpoint") -> str:
    """An online endpoint's name, checked on every backend with Azure ML's rule."""
    if not isinstance(name, str) or not ENDPOINT_NAME.match(name):
        raise ConfigurationError(
            f"endpoint name {name!r} is invalid: use 3-32 letters, digits or '-', starting with a letter "
            "and not ending with '-' (Azure ML's rule, applied locally so names work on both backends)",
            details={"field": field},
        )
    return name


def check_deployment_name(name: Any, field: str = "deployment") -> str:
    """A deployment's name under an endpoint, checked with Azure ML's rule."""
    if not isinstance(name, str) or not DEPLOYMENT_NAME.match(name):
        raise ConfigurationError(
            f"deployment name {name!r} is invalid: 2-32 letters, digits or '-', starting with a letter",
            details={"field": field},
        )
    return name


def check_positive_id(value: Any, field: str) -> int:
    """A numeric id such as an Azure DevOps pipeline id (the number in the pipeline's URL)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"{field} must be a positive integer (the id in the pipeline's URL), got {value!r}",
            details={"field": field},
        )
    return value


def check_tags(tags: Mapping[Any, Any], field: str = "tags") -> dict[str, str]:
    """Tags as strings, secrets masked (tags are stored and shown); a tag name must be a non-empty string."""
    clean = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError("tag names must be non-empty strings", details={"field": field})
        clean[key] = redact(str(value))
    return clean
