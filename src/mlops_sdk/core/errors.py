"""The one error tree every backend raises (documented in docs/errors.md).

Every error carries the same context fields (``backend``, ``operation_id``, ``status_code``,
``request_id``, ``details``) and chains the original exception as ``__cause__``. Redaction happens
once, here, at construction: the message, the ids and every string inside ``details`` go through
:func:`~mlops_sdk.core.secrets.masked`, so ``str``, ``repr``, ``to_dict()`` (what ``--output json``
prints), pickles and logs of an error all show ``***`` where a key, token, SAS or declared secret was,
whichever call site raised it. Errors survive ``pickle`` (worker processes) and ``to_dict``/``error_from_dict`` (JSON
output of the CLI, operation tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import masked

__all__ = [
    "ApprovalRejectedError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GateError",
    "MlopsError",
    "OperationCanceledError",
    "OperationError",
    "OperationFailedError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "PipelineCycleError",
    "PipelineReferenceError",
    "PipelineSpecError",
    "PipelineTypeError",
    "ResourceExistsError",
    "ResourceNotFoundError",
    "ServerError",
    "ServiceRequestError",
    "ServiceResponseError",
    "ThrottledError",
    "ValidationFailedError",
    "error_for_status",
    "error_from_dict",
]


class MlopsError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        message: What went wrong and what to do next (secrets redacted).
        backend: Name of the backend that raised it (``"local"``, ``"azure"``), if any.
        operation_id: Id of the run, job or request the error is about, if any.
        status_code: HTTP status the service answered with, if any.
        request_id: The service's request id (for support tickets), if any.
        details: Extra structured context (JSON-serialisable values).
    """

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        operation_id: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = redact(str(message))
        self.backend = backend
        self.operation_id = redact(operation_id) if operation_id else operation_id
        self.status_code = status_code
        self.request_id = redact(request_id) if request_id else request_id
        self.details: dict[str, Any] = masked(dict(details or {}))
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("backend", self.backend),
                ("operation_id", self.operation_id),
                ("status", self.status_code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} [{', '.join(context)}]" if context else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling; rebuild from our fields.
        return (_rebuild_error, (type(self), self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "backend": self.backend,
            "operation_id": self.operation_id,
            "status_code": self.status_code,
            "request_id": self.request_id,
            "details": self.details,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form, readable back with :func:`error_from_dict`."""
        return {"type": type(self).__name__, **self._fields()}


def _rebuild_error(cls: type[MlopsError], fields: dict[str, Any]) -> MlopsError:
    message = fields.pop("message")
    return cls(message, **fields)


class ConfigurationError(MlopsError):
    """The configuration, an argument or the installed extras cannot work; the message says how to fix it."""


class PipelineSpecError(ConfigurationError):
    """A training pipeline's spec cannot run; ``details`` names the ``step`` and ``field`` at fault."""


class PipelineCycleError(PipelineSpecError):
    """The steps' bindings form a cycle; ``details["cycle"]`` lists the steps around it."""


class PipelineReferenceError(PipelineSpecError):
    """A binding names a step, output or pipeline input that does not exist."""


class PipelineTypeError(PipelineSpecError):
    """A binding connects an output to an input of an incompatible type (a file into a folder, data into a literal)."""


class ServiceRequestError(MlopsError):
    """The request never reached the service (DNS, connection refused or reset, TLS)."""


class ServiceResponseError(MlopsError):
    """The service answered with an error status.

    Attributes:
        retry_after: Seconds the service asked us to wait before retrying, if it said so.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}


class AuthenticationError(ServiceResponseError):
    """The credential was missing, expired or rejected (401)."""


class PermissionDeniedError(ServiceResponseError):
    """The identity is known but not allowed to do this (403)."""


class ResourceNotFoundError(ServiceResponseError):
    """The named resource does not exist (404); the message lists what does where that is cheap."""


class ResourceExistsError(ServiceResponseError):
    """A create found the resource already there with different content."""


class ConflictError(ServiceResponseError):
    """The resource is in a state that does not allow this now (409). Never retried automatically."""


class ThrottledError(ServiceResponseError):
    """The service is throttling (429); retried automatically within the deadline."""


class ServerError(ServiceResponseError):
    """The service failed (5xx); retried automatically within the deadline where it is safe."""


class OperationError(MlopsError):
    """A long-running operation did not produce its result."""


class OperationFailedError(OperationError):
    """The operation ran and failed; the message names what failed and why (activity, log tail, ...)."""


class OperationCanceledError(OperationError):
    """The operation was canceled before it finished."""


class OperationTimeoutError(OperationError):
    """Waiting timed out. The work itself keeps running: resume it with the token in ``details``."""


class GateError(MlopsError):
    """A gate (validation or approval) did not let the model through; raised by ``raise_for_gate()``."""


class ValidationFailedError(GateError):
    """Validation did not pass (``outcome`` is ``not_promoted`` or ``failed``)."""


class ApprovalRejectedError(GateError):
    """The approval gate ended without approval (rejected or timed out)."""


_ERROR_TYPES: dict[str, type[MlopsError]] = {
    cls.__name__: cls
    for cls in (
        MlopsError,
        ConfigurationError,
        PipelineSpecError,
        PipelineCycleError,
        PipelineReferenceError,
        PipelineTypeError,
        ServiceRequestError,
        ServiceResponseError,
        AuthenticationError,
        PermissionDeniedError,
        ResourceNotFoundError,
        ResourceExistsError,
        ConflictError,
        ThrottledError,
        ServerError,
        OperationError,
        OperationFailedError,
        OperationCanceledError,
        OperationTimeoutError,
        GateError,
        ValidationFailedError,
        ApprovalRejectedError,
    )
}


def error_from_dict(data: Mapping[str, Any]) -> MlopsError:
    """Rebuild an error written by :meth:`MlopsError.to_dict`; unknown types come back as ``MlopsError``."""
    fields = dict(data)
    cls = _ERROR_TYPES.get(str(fields.pop("type", "MlopsError")), MlopsError)
    if not issubclass(cls, ServiceResponseError):
        fields.pop("retry_after", None)
    return _rebuild_error(cls, fields)


_STATUS_ERRORS: dict[int, type[ServiceResponseError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: ResourceNotFoundError,
    409: ConflictError,
    412: ConflictError,
    429: ThrottledError,
}


def error_for_status(
    status_code: int,
    message: str,
    *,
    retry_after: float | None = None,
    **kwargs: Any,
) -> ServiceResponseError:
    """Return the error class instance that matches an HTTP status code."""
    cls = _STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else ServiceResponseError
    return cls(message, status_code=status_code, retry_after=retry_after, **kwargs)
