"""Value types of the model registry shared by validation, approvals and deployments."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.lineage import Lineage

__all__ = ["AliasEvent", "ModelVersion", "parse_model_ref"]


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


_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:(?P<sep>[@:])(?P<what>[A-Za-z0-9_.\-]+))?$")


def parse_model_ref(ref: str) -> tuple[str, str | None, str | None]:
    """Split ``name@version`` / ``name:alias`` into ``(name, version, alias)`` (one of the last two set).

    Raises:
        ConfigurationError: the string is neither form; the message shows both.
    """
    match = _REF.match(ref.strip()) if isinstance(ref, str) else None
    if match is None or match["sep"] is None:
        raise ConfigurationError(
            f"model reference {ref!r} is not NAME@VERSION (e.g. diabetes@3) or NAME:ALIAS (e.g. diabetes:champion)",
            details={"field": "model", "value": ref},
        )
    if match["sep"] == "@":
        return match["name"], match["what"], None
    return match["name"], None, match["what"]
