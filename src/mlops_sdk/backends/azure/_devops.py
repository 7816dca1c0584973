"""Talking to Azure DevOps: one authenticated ``azure.devops`` Connection plus raw REST calls.

Shared by every capability that uses Azure DevOps (approvals now, ``client.pipelines`` next):

- **Where**: the ``devops`` setting (``https://dev.azure.com/<org>/<project>``, or an Azure DevOps
  Server URL ``https://server/tfs/<collection>/<project>``), else, inside a running pipeline job,
  ``SYSTEM_COLLECTIONURI`` + ``SYSTEM_TEAMPROJECT``.
- **Who**: the ``devops_pat`` setting (basic auth), else inside a job ``SYSTEM_ACCESSTOKEN`` (the job's
  OAuth token, when the pipeline maps it into the step's environment), else a Microsoft Entra bearer
  token for Azure DevOps from the backend's credential, fetched on every request so long waits
  outlive one token.
- **TLS, proxy, timeouts**: the backend's HTTP configuration is applied to every msrest client the
  connection creates, including the location clients ``get_client`` builds internally for resource-area
  discovery, through the connection's per-client hook; the process environment is never changed.

The azure-devops package is imported lazily (it costs ~0.12 s and writes a cache under
``~/.azure-devops`` unless ``AZURE_DEVOPS_CACHE_DIR`` is set).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from mlops_sdk.backends.azure._http import HttpConfig
from mlops_sdk.backends.azure.errors import network_fix
from mlops_sdk.core.errors import (
    AuthenticationError,
    ConfigurationError,
    MlopsError,
    ServiceRequestError,
    ServiceResponseError,
    error_for_status,
)
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.core.retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

T = TypeVar("T")

__all__ = [
    "DEVOPS_SCOPE",
    "DevOps",
    "DevOpsProject",
    "current_run_id",
    "devops_call",
    "devops_errors",
    "resolve_project",
]

DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
"""Microsoft Entra scope of Azure DevOps (the same in every cloud)."""

_log = get_logger(__name__)
_STATUS_IN_MESSAGE = re.compile(r"returned an? (\d{3}) status code")


@dataclass(frozen=True)
class DevOpsProject:
    """An Azure DevOps project: organization (collection) URL and project name."""

    organization_url: str
    project: str

    @property
    def url(self) -> str:
        """``<organization_url>/<project>`` (project URL-quoted)."""
        return f"{self.organization_url}/{quote(self.project)}"


def resolve_project(devops: str | None, env: Mapping[str, str] | None = None) -> DevOpsProject:
    """The project from the ``devops`` setting, else from a running job's ``SYSTEM_*`` variables."""
    env = os.environ if env is None else env
    if devops:
        parts = urlsplit(devops.strip())
        segments = [segment for segment in parts.path.split("/") if segment]
        if parts.scheme not in ("https", "http") or not parts.netloc or len(segments) < 2:
            raise ConfigurationError(
                f"devops setting {devops!r} is not a project URL; write it as https://dev.azure.com/<org>/<project>",
                details={"field": "devops"},
            )
        organization = f"{parts.scheme}://{parts.netloc}/{'/'.join(segments[:-1])}"
        from urllib.parse import unquote

        return DevOpsProject(organization, unquote(segments[-1]))
    collection = env.get("SYSTEM_COLLECTIONURI") or env.get("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI")
    project = env.get("SYSTEM_TEAMPROJECT")
    if collection and project:
        return DevOpsProject(collection.rstrip("/"), project)
    raise ConfigurationError(
        "no Azure DevOps project configured: set devops = 'https://dev.azure.com/<org>/<project>' "
        "(mlops.toml, MLOPS_DEVOPS or MLOpsClient(devops=...)), or run inside an Azure DevOps job",
        details={"field": "devops"},
    )


def current_run_id(project: DevOpsProject, env: Mapping[str, str] | None = None) -> int | None:
    """The id of the pipeline run this process runs in, when it runs in a job of ``project``."""
    env = os.environ if env is None else env
    build_id = env.get("BUILD_BUILDID")
    if not build_id or not build_id.isdigit():
        return None
    if env.get("SYSTEM_TEAMPROJECT") and env["SYSTEM_TEAMPROJECT"].casefold() != project.project.casefold():
        return None
    return int(build_id)


def _status_from(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return status
    match = _STATUS_IN_MESSAGE.search(str(error))
    if match:
        return int(match.group(1))
    type_key = str(getattr(error, "type_key", "") or "")
    if type_key:
        if "NotFound" in type_key or "DoesNotExist" in type_key:
            return 404
        if "Unauthorized" in type_key or "Authentication" in type_key:
            return 401
        if "AccessDenied" in type_key or "Permission" in type_key or "Forbidden" in type_key:
            return 403
        if "AlreadyExists" in type_key or "Conflict" in type_key:
            return 409
        return 400
    return None


_answers = threading.local()
"""The last error answer msrest received on this thread (azure-devops' exceptions drop status and headers)."""


def _remember_answer(response: Any, *args: Any, **kwargs: Any) -> None:
    """msrest response hook: keep this thread's last answer when it is an error (status >= 400)."""
    _answers.last = response if getattr(response, "status_code", 0) >= 400 else None


def _last_error_answer() -> Any:
    return getattr(_answers, "last", None)


def translate_devops_error(error: BaseException, *, what: str, operation_id: str | None = None) -> MlopsError:
    """The :class:`MlopsError` for an exception raised by azure-devops / msrest / requests.

    The status, ``Retry-After`` and request id come from the error answer itself when msrest's response
    hook saw it (azure-devops raises ``AzureDevOpsServiceError`` without the status for answers that carry
    a wrapped exception, and never keeps the headers).
    """
    if isinstance(error, MlopsError):
        return error
    answer = _last_error_answer()
    _answers.last = None
    if answer is not None and not isinstance(error, OSError):  # requests' connection errors are OSErrors
        headers = {str(key).lower(): str(value) for key, value in answer.headers.items()}
        reason = getattr(error, "message", None) or str(error)
        request_id = headers.get("x-vss-e2eid") or headers.get("activityid")
        if answer.status_code == 401:
            return AuthenticationError(
                f"{what}: Azure DevOps refused the credentials ({reason}); check devops_pat or the identity's access",
                backend="azure",
                status_code=401,
                operation_id=operation_id,
                request_id=request_id,
            )
        return error_for_status(
            answer.status_code,
            f"{what}: {reason}",
            retry_after=parse_retry_after(headers),
            backend="azure",
            operation_id=operation_id,
            request_id=request_id,
        )
    from azure.devops.exceptions import AzureDevOpsAuthenticationError, AzureDevOpsServiceError
    from msrest.exceptions import AuthenticationError as MsrestAuthenticationError

    if isinstance(error, (AzureDevOpsAuthenticationError, MsrestAuthenticationError)):
        return AuthenticationError(
            f"{what}: Azure DevOps refused the credentials ({error}); check devops_pat or the identity's access",
            backend="azure",
            status_code=401,
            operation_id=operation_id,
        )
    status = _status_from(error)
    reason = getattr(error, "message", None) or str(error)
    if status == 401:
        return AuthenticationError(
            f"{what}: Azure DevOps refused the credentials ({reason}); check devops_pat or the identity's access",
            backend="azure",
            status_code=401,
            operation_id=operation_id,
        )
    if status is not None:
        return error_for_status(status, f"{what}: {reason}", backend="azure", operation_id=operation_id)
    if isinstance(error, AzureDevOpsServiceError):  # the service answered, but the library dropped the status
        return ServiceResponseError(f"{what}: {reason}", backend="azure", operation_id=operation_id)
    return ServiceRequestError(
        f"{what}: the request did not reach Azure DevOps; {network_fix(error)} ({type(error).__name__}: {error})",
        backend="azure",
        operation_id=operation_id,
    )


@contextlib.contextmanager
def devops_errors(what: str, *, operation_id: str | None = None) -> Iterator[None]:
    """Translate any azure-devops/msrest/requests exception raised in the block (chaining the original)."""
    _answers.last = None
    try:
        yield
    except MlopsError:
        raise
    except Exception as error:
        raise translate_devops_error(error, what=what, operation_id=operation_id) from error


def devops_call(
    policy: RetryPolicy, what: str, fn: Callable[..., T], *args: Any, operation_id: str | None = None, **kwargs: Any
) -> T:
    """``fn(*args, **kwargs)`` through the SDK's retry policy, each attempt's error translated first.

    The policy retries only the SDK's own errors (429 with its ``Retry-After``, 5xx, dropped connections),
    so the translation must happen inside each attempt, not around the whole retried call.
    """

    def attempt() -> T:
        with devops_errors(what, operation_id=operation_id):
            return fn(*args, **kwargs)

    return policy.call(attempt)


def _credential_authentication(credential: Any) -> Any:
    """An msrest Authentication that puts a fresh Entra token for Azure DevOps on every request."""
    from msrest.authentication import Authentication

    class _CredentialAuthentication(Authentication):
        def signed_session(self, session: Any = None) -> Any:
            session = super().signed_session(session)
            token = credential.get_token(DEVOPS_SCOPE).token
            register_secret(token)
            session.headers["Authorization"] = f"Bearer {token}"
            return session

    return _CredentialAuthentication()


class DevOps:
    """An authenticated handle on one Azure DevOps project.

    Args:
        project: Organization URL and project.
        authentication: An msrest ``Authentication`` (``BasicAuthentication``, a token authentication, ...).
        http: CA bundle, proxy and timeouts for every request (default: REQUESTS_CA_BUNDLE or certifi's CAs,
            environment proxy).
    """

    def __init__(self, project: DevOpsProject, authentication: Any, *, http: HttpConfig | None = None) -> None:
        self.project = project
        self._auth = authentication
        self._http = http or HttpConfig()
        self._connection: Any = None
        self._clients: dict[str, Any] = {}
        self._session: Any = None

    @classmethod
    def from_backend(cls, backend: AzureBackend, env: Mapping[str, str] | None = None) -> DevOps:
        """Build from the backend's settings and credential (see the module docstring for the order)."""
        env = os.environ if env is None else env
        backend.require("azure.devops", "msrest", purpose="Azure DevOps (approvals, pipelines)")
        settings = backend.config.settings
        project = resolve_project(settings.devops, env)
        from msrest.authentication import BasicAuthentication, BasicTokenAuthentication

        authentication: Any
        if settings.devops_pat is not None:
            pat = settings.devops_pat.get_secret_value()
            register_secret(pat)
            authentication = BasicAuthentication("", pat)
        elif env.get("SYSTEM_ACCESSTOKEN") and current_run_id(project, env) is not None:
            register_secret(env["SYSTEM_ACCESSTOKEN"])
            authentication = BasicTokenAuthentication({"access_token": env["SYSTEM_ACCESSTOKEN"]})
        else:
            authentication = _credential_authentication(backend.get_credential())
        return cls(project, authentication, http=backend.http)

    # -- the azure-devops package ---------------------------------------------------------------

    @property
    def connection(self) -> Any:
        """The ``azure.devops.connection.Connection`` to the organization (created on first use)."""
        if self._connection is None:
            from azure.devops.connection import Connection

            connection = Connection(
                base_url=self.project.organization_url, creds=self._auth, user_agent=self._http.user_agent
            )
            # Connection takes no TLS/proxy settings and builds private LocationClients inside get_client
            # (resource-area discovery). Every client it creates passes through this per-instance hook
            # when use_fiddler is set, so it is where the configuration reaches all of them.
            connection.use_fiddler = True
            connection._configure_client_for_fiddler = self._configure
            self._configure(connection._client)  # the connection's own client (authenticate())
            self._connection = connection
        return self._connection

    def _configure(self, client: Any) -> None:
        """The HTTP configuration, and the hook that keeps error answers for the error translation."""
        self._http.configure_msrest(client)
        if _remember_answer not in client.config.hooks:
            client.config.hooks.append(_remember_answer)

    def _client(self, name: str) -> Any:
        if name not in self._clients:
            with devops_errors(f"connecting to Azure DevOps at {self.project.organization_url}"):
                client = getattr(self.connection.clients_v7_1, f"get_{name}_client")()
            self._clients[name] = client
        return self._clients[name]

    def pipelines(self) -> Any:
        """``azure.devops.v7_1.pipelines.PipelinesClient``."""
        return self._client("pipelines")

    def build(self) -> Any:
        """``azure.devops.v7_1.build.BuildClient``."""
        return self._client("build")

    def location(self) -> Any:
        """``azure.devops.v7_1.location.LocationClient``."""
        return self._client("location")

    def authenticated_user(self) -> dict[str, Any]:
        """``{"id", "name", "email", "display_name"}`` of the identity these credentials act as."""
        with devops_errors("asking Azure DevOps who the credentials belong to"):
            data = self.location().get_connection_data()
        user = getattr(data, "authenticated_user", None)
        if user is None:
            raise AuthenticationError("Azure DevOps did not say who the credentials belong to", backend="azure")
        properties = getattr(user, "properties", None) or {}
        account = properties.get("Account", {}) if isinstance(properties, dict) else {}
        email = account.get("$value") if isinstance(account, dict) else None
        display = getattr(user, "provider_display_name", None) or getattr(user, "custom_display_name", None)
        return {
            "id": getattr(user, "id", None),
            "name": email or display or str(getattr(user, "id", "unknown")),
            "email": email if email and "@" in email else None,
            "display_name": display,
        }

    # -- raw REST (APIs the package does not wrap) -----------------------------------------------

    def rest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        api_version: str = "7.1",
        what: str,
        operation_id: str | None = None,
    ) -> Any:
        """Call ``<project url>/_apis/<path>`` with the same authentication; return the parsed JSON.

        Raises:
            ServiceResponseError subclasses for error statuses; ServiceRequestError when unreachable.
        """
        import requests

        if self._session is None:
            self._session = self._auth.signed_session(requests.Session())
        else:
            self._auth.signed_session(self._session)  # refresh a bearer token
        url = f"{self.project.url}/_apis/{path.lstrip('/')}"
        query = {**(params or {}), "api-version": api_version}
        try:
            response = self._session.request(
                method,
                url,
                params=query,
                json=body,
                **self._http.requests_kwargs(),
                headers={"Accept": "application/json", "X-TFS-FedAuthRedirect": "Suppress"},
            )
        except requests.RequestException as error:
            raise ServiceRequestError(
                f"{what}: the request did not reach Azure DevOps; {network_fix(error)} ({error})",
                backend="azure",
                operation_id=operation_id,
            ) from error
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or response.text
            except ValueError:
                detail = response.text
            raise error_for_status(
                response.status_code,
                f"{what}: {detail}".strip(),
                retry_after=parse_retry_after(dict(response.headers)),
                backend="azure",
                operation_id=operation_id,
                request_id=response.headers.get("x-vss-e2eid") or response.headers.get("activityid"),
            )
        if not response.content:
            return None
        return response.json()

    def close(self) -> None:
        """Close the raw REST session."""
        if self._session is not None:
            self._session.close()
            self._session = None
