"""Creating an online endpoint ahead of its first deployment: one driver for both backends.

An endpoint takes minutes to create on Azure ML and a few hundred milliseconds locally, where its
server then imports the model-loading libraries in the background. Starting it early (while data
refreshes and the model trains) takes that time off the deployment. The driver only waits: the
backend's :meth:`EndpointPlatform.begin_endpoint` has already started the work when the driver is
built, as ``begin_*`` methods do in the Azure SDKs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_sdk.backends.spi.deployments import EndpointPlatform
from mlops_sdk.core.errors import OperationFailedError
from mlops_sdk.core.operation import PollResult
from mlops_sdk.core.status import Status
from mlops_sdk.models.deployments import Endpoint

__all__ = ["ENDPOINT_KIND", "EndpointDriver"]

ENDPOINT_KIND = "deployments.endpoint"


class EndpointDriver:
    """Waits until an endpoint exists and is ready; the result is the :class:`Endpoint`.

    Args:
        platform: The backend's endpoint primitives.
        describe: Reads the endpoint back (``DeploymentService.get_endpoint``).
        op_id: Operation id.
        endpoint: Endpoint name.
    """

    def __init__(
        self, platform: EndpointPlatform, describe: Callable[[str], Endpoint], op_id: str, endpoint: str
    ) -> None:
        self._platform = platform
        self._describe = describe
        self._id = op_id
        self._endpoint = endpoint
        self._cancelled = False

    @property
    def kind(self) -> str:
        """``deployments.endpoint``."""
        return ENDPOINT_KIND

    @property
    def id(self) -> str:
        """The operation id."""
        return self._id

    def state(self) -> dict[str, Any]:
        """The endpoint name (all a resumed driver needs)."""
        return {"endpoint": self._endpoint}

    def poll(self) -> PollResult:
        """The endpoint's provisioning state (CANCELED once :meth:`cancel` was called)."""
        if self._cancelled:
            return PollResult(Status.CANCELED, message=f"stopped waiting for endpoint {self._endpoint}")
        status, message = self._platform.endpoint_status(self._endpoint)
        if status is Status.FAILED:
            return PollResult(
                Status.FAILED,
                native_status=message,
                error=OperationFailedError(
                    f"creating endpoint {self._endpoint!r} failed: {message}",
                    backend=self._platform.backend,
                    operation_id=self._id,
                ),
            )
        if status is Status.SUCCEEDED:
            return PollResult(Status.SUCCEEDED, native_status=message)
        return PollResult(Status.RUNNING, native_status=message, message=f"creating endpoint {self._endpoint}")

    def result(self) -> Endpoint:
        """The endpoint as the backend describes it now."""
        return self._describe(self._endpoint)

    def cancel(self) -> None:
        """Stop waiting. The services cannot cancel an endpoint's creation: it finishes on its own
        (``delete_endpoint`` removes the endpoint afterwards)."""
        self._cancelled = True
