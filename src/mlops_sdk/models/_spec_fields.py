"""Field rules a training job and a training pipeline share, written once (the pipeline's steps are jobs).

Used through the ``Annotated`` field types of :mod:`mlops_sdk.models.training`, so a rule changed
here changes for both specs and their run results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.names import MODEL_NAME
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import protect
from mlops_sdk.core.user_files import read_text_file

__all__ = ["coerce_values", "load_yaml_mapping", "protect_environment", "redacted", "resource_name"]


def protect_environment(value: Any) -> Any:
    """Environment variables with every plain or pydantic secret string wrapped as a :class:`Secret`."""
    if isinstance(value, Mapping):
        return {
            str(key): protect(item, name=str(key)) if isinstance(item, str | SecretStr) else item
            for key, item in value.items()
        }
    return value


def coerce_values(coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A before-validator converting each value of a mapping with ``coerce`` (keys become strings)."""

    def convert(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        converted = {}
        for key, item in value.items():
            try:
                converted[str(key)] = coerce(item)
            except TypeError as error:  # pydantic passes a TypeError through; a ValueError names the field
                raise ValueError(f"{key!s}: {error}") from None
        return converted

    return convert


def resource_name(value: str) -> str:
    """An experiment or pipeline name: the registry's naming rule (letters, digits, ``-``, ``_``, ``.``)."""
    if not MODEL_NAME.fullmatch(value):
        raise ValueError("use letters, digits, '-', '_' and '.', starting with a letter or digit")
    return value


def redacted(value: str | None) -> str | None:
    """An error text with secrets masked."""
    return redact(value) if value else value


def load_yaml_mapping(source: Path, *, what: str, needs: str, field: str = "path") -> dict[str, Any]:
    """The mapping a YAML spec file holds.

    Args:
        source: The file.
        what: What the file is, for messages (``"training spec"``).
        needs: What the mapping must have, for messages (``"at least 'code' and 'command'"``).
        field: The parameter that named the file, for messages and ``details["field"]``.

    Raises:
        ConfigurationError: the file is missing, a folder, unreadable, not UTF-8, not YAML, or not a mapping.
    """
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError as error:  # pragma: no cover - pyyaml is a base dependency
        raise ConfigurationError("reading a YAML spec needs PyYAML: pip install pyyaml") from error
    text = read_text_file(source, what=what, field=field)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{what} {source} is not valid YAML: {error}", details={"field": field}) from error
    except RecursionError:  # [[[[...]]]] deeper than the parser follows
        raise ConfigurationError(
            f"{what} {source} is not valid YAML: nested too deeply", details={"field": field}
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{what} {source} must be a mapping with {needs}", details={"field": field})
    return data
