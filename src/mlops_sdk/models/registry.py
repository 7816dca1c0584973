"""Value types of the model registry shared by validation, approvals and deployments."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.names import check_model_version

__all__ = ["AliasEvent", "ModelRef", "ModelVersion", "parse_model_ref"]


class ModelVersion(BaseModel):
    """One registered version of a model (MLflow model format on both backends).

    Attributes:
        name: Registered model name.
        version: Version as a string ("1", "2", ...): Azure ML versions are strings.
        uri: Where the model can be loaded from (``models:/name/1`` locally, ``azureml:name:1`` on Azure).
        aliases: Aliases currently pointing at this version (``champion``, ...).
        tags: Free-form tags, lineage tags (``mlops.*``) included.
        description: Optional description.
        created_at: When it was registered.
        created_by: Identity that registered it (the "requester" for approval self-checks).
        run_id: Id of the training run that produced it.
        lineage: Where it came from.
        source: Where the version's files live: a ``file://`` URI of the MLflow model folder locally
            (loadable with ``mlflow.pyfunc.load_model``), the job output ``azureml://`` URI on Azure.
        output: Name of the training job output it was registered from.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    uri: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    run_id: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    source: str | None = None
    output: str | None = None

    @property
    def ref(self) -> str:
        """``name@version``, the form the CLI accepts (``name:alias`` names an alias) and reports show."""
        return f"{self.name}@{self.version}"


class AliasEvent(BaseModel):
    """One move of an alias: who pointed ``alias`` of model ``name`` at which version, and when.

    Attributes:
        name: Registered model name.
        alias: The alias (``champion``, ...).
        version: Version the alias points at after the event (``None`` when it was removed).
        previous_version: Version it pointed at before (``None`` when it was new).
        action: ``set`` or ``removed``.
        actor: Identity that moved it (the CI requester when known, else the OS user).
        at: When.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    alias: str
    version: str | None
    previous_version: str | None = None
    action: Literal["set", "removed"] = "set"
    actor: str | None = None
    at: datetime


_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_WHAT = r"[A-Za-z0-9_.\-]+"
# Each accepted spelling once, with what it names. Short forms are the CLI's; the URI forms are the
# registries' own (MLflow ``models:/``, Azure ML ``azureml:``), whose names may use more characters.
_SPELLINGS: tuple[tuple[re.Pattern[str], Literal["version", "alias"]], ...] = (
    (re.compile(rf"^(?P<name>{_NAME})@(?P<what>{_WHAT})$"), "version"),
    (re.compile(rf"^(?P<name>{_NAME}):(?P<what>{_WHAT})$"), "alias"),
    (re.compile(r"^models:/(?P<name>[^/@]+)/(?P<what>\d+)$"), "version"),
    (re.compile(r"^models:/(?P<name>[^/@]+)@(?P<what>[^/@]+)$"), "alias"),
    (re.compile(r"^azureml:(?P<name>[^:/]+):(?P<what>\d+)$"), "version"),
)
_URI_PREFIXES = ("models:/", "azureml:")
_FORMS = "NAME@VERSION (diabetes@3), NAME:ALIAS (diabetes:champion), models:/NAME/VERSION or azureml:NAME:VERSION"


class ModelRef(BaseModel):
    """A reference to one registered model version: by number (``name@3``) or by alias (``name:champion``).

    Parse any accepted spelling with :meth:`parse`; ``str(ref)`` is the short form the CLI takes and
    reports show. Pydantic fields typed ``ModelRef`` accept the same strings.

    Attributes:
        name: Registered model name.
        version: The version number (``None`` when the reference names an alias).
        alias: The alias (``None`` when the reference names a version).
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    version: str | None = None
    alias: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            found = _match(data.strip())
            if found is None:  # a ValueError, so pydantic reports it at the field's location
                raise ValueError(f"model reference {data!r} is not one of {_FORMS}")
            return found.model_dump()
        if isinstance(data, ModelVersion):
            return {"name": data.name, "version": data.version}
        return data

    @model_validator(mode="after")
    def _one_target(self) -> ModelRef:
        if (self.version is None) == (self.alias is None):
            raise ValueError("a model reference names exactly one of version or alias")
        return self

    @classmethod
    def parse(cls, value: str | ModelRef | ModelVersion, *, field: str = "model") -> ModelRef:
        """The reference ``value`` spells: ``name@3``, ``name:alias``, ``models:/name/3``,
        ``models:/name@alias``, ``azureml:name:3``, a :class:`ModelVersion` or a :class:`ModelRef`.

        Raises:
            ConfigurationError: ``value`` is none of those; the message names ``field`` and the forms.
        """
        if isinstance(value, ModelRef):
            return value
        if isinstance(value, ModelVersion):
            return cls(name=value.name, version=value.version)
        return _split(value, field=field)

    @classmethod
    def try_parse(cls, text: str) -> ModelRef | None:
        """Like :meth:`parse`, but ``None`` instead of an error when ``text`` is no model reference.

        Raises:
            ConfigurationError: ``text`` names a version number beyond 2**63 - 1 (no registry holds it).
        """
        return _match(text.strip()) if isinstance(text, str) else None

    @classmethod
    def from_uri(cls, uri: str) -> ModelRef | None:
        """The reference a registry URI (``models:/name/3``, ``models:/name@alias``, ``azureml:name:3``)
        names, or ``None`` for any other URI or path (``runs:/``, ``azureml://...``, a folder)."""
        text = uri.strip() if isinstance(uri, str) else ""
        if not text.startswith(_URI_PREFIXES):
            return None
        return _match(text)

    @property
    def mlflow_uri(self) -> str:
        """The MLflow registry URI: ``models:/name/3`` or ``models:/name@alias``."""
        return (
            f"models:/{self.name}/{self.version}" if self.version is not None else f"models:/{self.name}@{self.alias}"
        )

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else f"{self.name}:{self.alias}"


def _match(text: str, field: str = "model") -> ModelRef | None:
    """The reference ``text`` spells, or ``None``.

    Raises:
        ConfigurationError: it spells a version number beyond what a registry holds (2**63 - 1).
    """
    for pattern, names in _SPELLINGS:
        found = pattern.match(text)
        if found is not None:
            if names == "version":
                if found["what"].isdigit():
                    check_model_version(found["what"], field=field)  # a number no store can hold
                return ModelRef.model_construct(name=found["name"], version=found["what"], alias=None)
            return ModelRef.model_construct(name=found["name"], version=None, alias=found["what"])
    return None


def _split(value: Any, *, field: str) -> ModelRef:
    found = _match(value.strip(), field) if isinstance(value, str) else None
    if found is None:
        raise ConfigurationError(
            f"{field}: model reference {value!r} is not one of {_FORMS}",
            details={"field": field, "value": str(value)},
        )
    return found


def parse_model_ref(ref: str) -> tuple[str, str | None, str | None]:
    """Split a model reference into ``(name, version, alias)`` (one of the last two set).

    Kept for existing callers; :meth:`ModelRef.parse` is the typed form.

    Raises:
        ConfigurationError: the string is no accepted spelling; the message lists them.
    """
    parsed = ModelRef.parse(ref)
    return parsed.name, parsed.version, parsed.alias
