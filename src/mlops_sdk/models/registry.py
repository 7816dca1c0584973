"""Value types of the model registry shared by validation, approvals and deployments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mlops_sdk.core.lineage import Lineage

__all__ = ["ModelVersion"]


class ModelVersion(BaseModel):
    """One registered version of a model (MLflow model format on both backends).

    Attributes:
        name: Registered model name.
        version: Version as a string ("1", "2", ...): Azure ML versions are strings.
        uri: Where the model can be loaded from (``models:/name/1`` locally, an ``azureml://`` URI on Azure).
        aliases: Aliases currently pointing at this version (``champion``, ...).
        tags: Free-form tags, lineage tags (``mlops.*``) included.
        description: Optional description.
        created_at: When it was registered.
        created_by: Identity that registered it (the "requester" for approval self-checks).
        run_id: Id of the training run that produced it.
        lineage: Where it came from.
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

    @property
    def ref(self) -> str:
        """``name@version``, the form the CLI accepts (``name:alias`` names an alias) and reports show."""
        return f"{self.name}@{self.version}"
