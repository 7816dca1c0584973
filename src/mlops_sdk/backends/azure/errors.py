"""Translate azure-core and msrest (azure-devops) exceptions into the SDK's error tree."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_sdk.core.errors import (
    AuthenticationError,
    MlopsError,
    ServiceRequestError,
    error_for_status,
)
from mlops_sdk.core.retry import parse_retry_after

__all__ = ["azure_errors", "is_ambiguous", "missing_target", "network_fix", "translate_error", "transport_cause"]

_REQUEST_ID_HEADERS = (
    "x-ms-request-id",
    "x-ms-client-request-id",
    "x-request-id",
    "x-ms-correlation-request-id",
    "activityid",
    "x-vss-e2eid",
)


def _headers(response: Any) -> Mapping[str, str]:
    headers = getattr(response, "headers", None)
    if headers is None:
        return {}
    try:
        return {str(key): str(value) for key, value in headers.items()}
    except AttributeError:
        return {}


def _request_id(headers: Mapping[str, str]) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in _REQUEST_ID_HEADERS:
        if lowered.get(name):
            return lowered[name]
    return None


def network_fix(error: BaseException) -> str:
    """What to change when a request never reached the service, naming the setting (TLS, proxy, timeout)."""
    text = f"{type(error).__name__}: {error}"
    cause: BaseException | None = error
    for _ in range(6):  # the transport error is usually a few causes down
        cause = cause.__cause__ or cause.__context__ if cause is not None else None
        if cause is None:
            break
        text += f" | {type(cause).__name__}: {cause}"
    lowered = text.lower()
    if "proxy" in lowered or "tunnel connection failed" in lowered:
        return (
            "the proxy refused the connection or is unreachable: check the 'proxy' setting "
            "(when it is unset, HTTPS_PROXY/NO_PROXY from the environment are used)"
        )
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return (
            "TLS verification failed: set 'ca_bundle' to a PEM file with the CA that signs the service's "
            "certificate (behind a TLS-inspecting proxy: your proxy's root CA)"
        )
    if "timed out" in lowered or "timeout" in lowered:
        return "the service did not answer in time: check network access, or raise connect_timeout/read_timeout"
    return "check network access to the service and the 'proxy' and 'ca_bundle' settings"


def _is_transport_error(error: BaseException) -> bool:
    """requests/urllib3/msrest connection-level failures (no HTTP answer)."""
    import requests

    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return True
    try:
        from msrest.exceptions import ClientRequestError
    except ImportError:  # azure-devops not installed
        return False
    return isinstance(error, ClientRequestError)


_LRO_CODE_STATUS = {
    "conflict": 409,
    "operationinprogress": 409,
    "anotheroperationinprogress": 409,
    "authorizationfailed": 403,
    "linkedauthorizationfailed": 403,
    "forbidden": 403,
}
"""ARM error codes of a failed long-running operation that mean "409 Conflict" or "403 Forbidden"."""


def _arm_code(error: BaseException) -> str | None:
    """The ARM error code (``error.code`` of the body) azure-core parsed, if any."""
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None)
    return str(code) if code else None


def transport_cause(error: BaseException) -> BaseException | None:
    """The connection-level failure a library wrapped in its own exception type, if any."""
    from azure.core import exceptions as core

    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        # ServiceResponseError: the connection dropped after sending (azure-core raises it without a cause).
        transport = (core.ServiceRequestError, core.ServiceResponseError, ConnectionError, TimeoutError)
        if isinstance(cause, transport) or _is_transport_error(cause):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


_ROLES = (
    ("Microsoft.DataFactory", "Data Factory Contributor", "factory"),
    ("Microsoft.MachineLearningServices", "AzureML Data Scientist", "workspace"),
    ("Microsoft.Storage", "Storage Blob Data Contributor", "storage account"),
)
"""Resource provider -> the least-privilege role docs/azure-setup.md names for it, and its scope."""

_NAMED_RESOURCE = re.compile(r"The Resource '(?P<type>Microsoft\.[\w.]+/\w+)/(?P<name>[^'/]+)' under resource group")
"""ARM's 404 text for a top-level resource; a nested one (``workspaces/ws/onlineEndpoints/e``) does not match."""


def _fix_for(status: int, code: str | None, reason: str, url: str) -> tuple[str, str | None] | None:
    """What to do about an Azure Resource Manager refusal, and the setting it concerns (``details["field"]``).

    403: the role to grant (by resource provider); 401: what decides the token; 404 about the target
    itself (subscription, resource group, workspace, factory): which setting names it wrongly.
    """
    text = f"{reason} {url}"
    if status == 403:
        for provider, role, scope in _ROLES:
            if provider in text:
                return f"grant the identity the '{role}' role on the {scope} (docs: azure-setup.md, roles)", None
        return "grant the identity a role that allows this action on the scope named", None
    if status == 401:
        return (
            "the service refused the token: check the 'credential' setting and the tenant it signs in to "
            "(AZURE_TENANT_ID, authority_url)",
            None,
        )
    lowered = (code or "").lower()
    if status != 404:
        return None
    if lowered in ("subscriptionnotfound", "invalidsubscriptionid"):
        return "the subscription does not exist or the identity cannot see it: check the subscription in the target", (
            "target"
        )
    if lowered == "resourcegroupnotfound":
        return (
            "check the resource group in the target (or data_factory_resource_group for a factory elsewhere)",
            "target",
        )
    named = _NAMED_RESOURCE.search(reason)
    if lowered == "resourcenotfound" and named is not None:
        kind = named["type"].lower()
        if kind == "microsoft.machinelearningservices/workspaces":
            return "the workspace does not exist: check the workspace in the target", "target"
        if kind == "microsoft.datafactory/factories":
            return (
                "the factory does not exist: check the 'data_factory' setting (and data_factory_resource_group)",
                "data_factory",
            )
    return None


def missing_target(error: BaseException) -> bool:
    """True for a 404 about what the settings name (subscription, resource group, workspace, factory).

    Code that reads "not found" as "this item does not exist yet" must re-raise these: the item's
    container is missing, which no create will fix.
    """
    from mlops_sdk.core.errors import ResourceNotFoundError

    return isinstance(error, ResourceNotFoundError) and error.details.get("field") in ("target", "data_factory")


def translate_error(error: BaseException, *, what: str, operation_id: str | None = None) -> MlopsError:
    """Return the :class:`MlopsError` for an exception raised by an Azure client library.

    Args:
        error: The exception from azure-core, msrest/azure-devops or requests.
        what: What we were doing, for the message (``"starting pipeline run of 'refresh'"``).
        operation_id: The run/job the call was about, if any.
    """
    if isinstance(error, MlopsError):
        return error
    from azure.core import exceptions as core

    from mlops_sdk.backends.azure.credentials import summarize_credential_error

    if isinstance(error, core.ClientAuthenticationError) and getattr(error, "status_code", None) is None:
        inner = transport_cause(error)
        if inner is not None:  # the token request itself never got an answer: a network problem, not a sign-in one
            return ServiceRequestError(
                f"{what}: the token request did not reach the sign-in service; {network_fix(inner)} ({error})",
                backend="azure",
                operation_id=operation_id,
            )
        return AuthenticationError(
            f"{what}: could not get an access token; {summarize_credential_error(error)}",
            backend="azure",
            operation_id=operation_id,
        )
    if isinstance(error, (core.ServiceRequestError, ConnectionError, TimeoutError)) or _is_transport_error(error):
        return ServiceRequestError(
            f"{what}: the request did not reach the service; {network_fix(error)} ({error})",
            backend="azure",
            operation_id=operation_id,
        )
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(status, int):
        headers = _headers(response)
        reason = getattr(error, "message", None) or str(error)
        code = _arm_code(error)
        if status < 400 and code is not None:
            # A long-running operation that failed: the poll answered 200 with the failure inside;
            # its ARM error code says what kind of failure it was.
            status = _LRO_CODE_STATUS.get(code.lower(), status)
        details: dict[str, Any] = {"error_code": code} if code else {}
        request = getattr(response, "request", None)
        fix = _fix_for(status, code, str(reason), str(getattr(request, "url", "") or ""))
        if fix is not None:
            reason = f"{reason}; {fix[0]}"
            if fix[1] is not None:
                details["field"] = fix[1]
        return error_for_status(
            status,
            f"{what}: {reason}",
            retry_after=parse_retry_after(headers),
            backend="azure",
            operation_id=operation_id,
            request_id=_request_id(headers),
            details=details or None,
        )
    if isinstance(error, core.ServiceResponseError):
        return ServiceRequestError(
            f"{what}: the connection failed; {network_fix(error)} ({error})", backend="azure", operation_id=operation_id
        )
    inner = transport_cause(error)
    if inner is not None:  # e.g. azure-ai-ml's AssetException around a failed blob upload
        failed = (
            "the connection failed"
            if isinstance(inner, core.ServiceResponseError)
            else "the request did not reach the service"
        )
        return ServiceRequestError(
            f"{what}: {failed}; {network_fix(inner)} ({type(error).__name__}: {error})",
            backend="azure",
            operation_id=operation_id,
        )
    return MlopsError(f"{what}: {type(error).__name__}: {error}", backend="azure", operation_id=operation_id)


_AMBIGUOUS_STATUS = frozenset({408, 500, 502, 503, 504})


def is_ambiguous(error: MlopsError) -> bool:
    """True when a failed request may have had its effect: it was sent and no clear refusal came back.

    A dropped or reset connection after sending, a read timeout and 408/5xx answers are ambiguous
    (the service may have acted before the answer was lost); a connection that never opened
    (refused, DNS, TLS: azure-core's ``ServiceRequestError``), 429 and other 4xx answers are not.
    """
    if error.status_code is not None:
        return error.status_code in _AMBIGUOUS_STATUS
    from azure.core import exceptions as core

    cause = error.__cause__
    if isinstance(cause, core.ServiceRequestError) and not isinstance(cause, core.ServiceResponseError):
        return False
    return isinstance(error, ServiceRequestError) or isinstance(cause, (core.ServiceResponseError, TimeoutError))


@contextlib.contextmanager
def azure_errors(what: str, *, operation_id: str | None = None) -> Iterator[None]:
    """Translate any Azure client exception raised in the block (chaining the original)."""
    try:
        yield
    except MlopsError:
        raise
    except Exception as error:
        raise translate_error(error, what=what, operation_id=operation_id) from error
