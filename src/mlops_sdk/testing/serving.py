"""``serve_model``: a model version running on a real local endpoint, for an app team's integration tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mlops_sdk.clients.hub import MLOpsClient
    from mlops_sdk.models.registry import ModelVersion

__all__ = ["ServedModel", "serve_model"]


@dataclass(frozen=True)
class ServedModel:
    """A running local endpoint serving one model.

    Attributes:
        url: The scoring URL (Azure ML protocol: ``POST`` ``{"input_data": ...}``; the server also
            answers MLflow's ``/invocations``).
        key: The endpoint's primary key (send it as ``Authorization: Bearer <key>``). Never shown by ``repr``.
        endpoint: Endpoint name.
        model: The version served (``None`` when a model folder was served).
    """

    url: str
    key: str = field(repr=False)
    endpoint: str
    model: ModelVersion | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header to send."""
        return {"Authorization": f"Bearer {self.key}"}


def serve_model(client: MLOpsClient, model: str | ModelVersion | Path, *, endpoint: str | None = None) -> ServedModel:
    """Deploy ``model`` (``"name@3"``, ``"name:champion"``, a version or an MLflow model folder) with all
    traffic on a local endpoint of ``client``'s ``local://`` store and return its URL and key.

    Delete it with ``client.deployments.delete_endpoint(served.endpoint)`` (the ``served_model``
    fixture does that for you).

    Raises:
        ConfigurationError: ``client`` is not on a ``local://`` target.
    """
    from mlops_sdk.backends.local import LocalBackend
    from mlops_sdk.backends.local.deployments import LocalPlatform
    from mlops_sdk.models.deployments import Replace

    backend: Any = client._context.backend
    if not isinstance(backend, LocalBackend):
        raise ConfigurationError(
            f"serving a model needs a local:// client (endpoint servers run on this machine); this one is on "
            f"{client.target}. In pytest mark the test @pytest.mark.mlops_backend('local')",
            details={"field": "client", "value": client.target},
        )
    version: ModelVersion | None = None
    target: ModelVersion | Path
    if isinstance(model, Path):
        target = model
    else:
        version = client.models.resolve(model)
        target = version
    name = endpoint or _endpoint_name(version.name if version else model.name if isinstance(model, Path) else "model")
    client.deployments.begin_deploy(target, endpoint=name, strategy=Replace(), show_progress=False).result()
    info = client.deployments.get_endpoint(name)
    if not info.scoring_uri:
        raise ConfigurationError(f"endpoint {name} reports no scoring URL", details={"endpoint": name})
    key = LocalPlatform(backend).server(name).keys()["primary_key"]
    return ServedModel(url=info.scoring_uri, key=key, endpoint=name, model=version)


def _endpoint_name(model: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", model).strip("-") or "model"
    if not cleaned[0].isalpha():
        cleaned = f"m-{cleaned}"
    return f"{cleaned[:24]}-test"
