"""GitHub's REST API for deployment reviews, over httpx with the SDK's retry policy and HTTP settings.

The four operations the approvals service needs (``actions/get-pending-deployments-for-run``,
``actions/review-pending-deployments-for-run``, ``actions/get-reviews-for-run``,
``repos/get-environment``) plus ``GET /user`` (who the token acts as). CA bundle, proxy and timeouts
come from the same settings as every Azure connection; the process environment is never changed.
The token is sent as ``Authorization: Bearer``, registered for redaction, and never logged.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from mlops_sdk.backends.azure._http import HttpConfig
from mlops_sdk.backends.base import require_modules
from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import AuthenticationError, ConfigurationError, ServiceRequestError, error_for_status
from mlops_sdk.core.logging import redact_library_logger
from mlops_sdk.core.redaction import redact, register_secret
from mlops_sdk.core.retry import RetryPolicy, parse_retry_after
from mlops_sdk.core.secrets import Secret

__all__ = ["API_VERSION", "DEFAULT_API_URL", "GitHubApi"]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
"""``X-GitHub-Api-Version`` sent with every request."""


def _repository(settings: Settings, env: Mapping[str, str]) -> str:
    value = settings.github_repository or env.get("GITHUB_REPOSITORY")
    owner, _, name = (value or "").strip().partition("/")
    if not owner or not name or "/" in name:
        raise ConfigurationError(
            "GitHub approvals need the repository as 'owner/repo': set github_repository (mlops.toml, "
            f"MLOPS_GITHUB_REPOSITORY) or run inside GitHub Actions (GITHUB_REPOSITORY); got {value!r}",
            backend="github",
            details={"field": "github_repository"},
        )
    return f"{owner}/{name}"


class GitHubApi:
    """An authenticated handle on one repository's deployment reviews.

    Args:
        api_url: REST API root (``https://api.github.com``, or ``https://<host>/api/v3`` for GitHub Enterprise Server).
        repository: ``owner/repo``.
        token: Token sent as a bearer token.
        http: CA bundle, proxy and timeouts.
        retry: Retry policy for reads (reviews are never repeated).
    """

    def __init__(
        self, *, api_url: str, repository: str, token: SecretStr, http: HttpConfig, retry: RetryPolicy
    ) -> None:
        require_modules(("httpx",), extra="github", purpose="GitHub approvals")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        register_secret(token.get_secret_value())
        self._http = http
        self._retry = retry
        self._client: Any = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http: HttpConfig, retry: RetryPolicy, env: Mapping[str, str] | None = None
    ) -> GitHubApi:
        """Build from ``github_*`` settings, falling back to the GitHub Actions variables."""
        env = os.environ if env is None else env
        token = settings.github_token or (Secret(env["GITHUB_TOKEN"]) if env.get("GITHUB_TOKEN") else None)
        if token is None or not token.get_secret_value().strip():
            raise ConfigurationError(
                "GitHub approvals need a token: set github_token (MLOPS_GITHUB_TOKEN, never in a committed file) "
                "or GITHUB_TOKEN; to vote it must belong to a required reviewer of the environment",
                backend="github",
                details={"field": "github_token"},
            )
        api_url = settings.github_api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL
        if not api_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"github_api_url {api_url!r} is not a URL; write it as https://api.github.com or https://<host>/api/v3",
                backend="github",
                details={"field": "github_api_url"},
            )
        return cls(api_url=api_url, repository=_repository(settings, env), token=token, http=http, retry=retry)

    @property
    def client(self) -> Any:
        """The ``httpx.Client`` (created on first use)."""
        if self._client is None:
            import httpx

            redact_library_logger("httpx")
            verify: ssl.SSLContext | bool = True
            if self._http.ca_bundle is not None:
                verify = ssl.create_default_context(cafile=self._http.ca_bundle)
            self._client = httpx.Client(
                base_url=self.api_url,
                verify=verify,
                proxy=self._http.proxy,
                trust_env=self._http.proxy is None,
                timeout=httpx.Timeout(self._http.read_timeout, connect=self._http.connect_timeout),
                headers={
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": self._http.user_agent,
                },
            )
        return self._client

    def _repo_path(self, suffix: str) -> str:
        owner, name = self.repository.split("/", 1)
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/{suffix.lstrip('/')}"

    def request(self, method: str, path: str, *, body: Any = None, what: str, operation_id: str | None = None) -> Any:
        """One call; the parsed JSON answer. Errors become the SDK's typed errors (token never quoted)."""
        import httpx

        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            response = self.client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise ServiceRequestError(
                f"{what}: the request did not reach GitHub at {self.api_url} ({type(error).__name__}: "
                f"{redact(str(error))}); check network access, proxy and ca_bundle",
                backend="github",
                operation_id=operation_id,
            ) from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("message") or response.text)
            except ValueError:
                detail = response.text
            status = response.status_code
            retry_after = parse_retry_after(dict(response.headers))
            if status == 403 and (retry_after is not None or response.headers.get("x-ratelimit-remaining") == "0"):
                status = 429  # GitHub's rate limits answer 403: retry them like a throttle
            request_id = response.headers.get("x-github-request-id")
            if status == 401:
                raise AuthenticationError(
                    f"{what}: GitHub refused the token ({detail}); check github_token / GITHUB_TOKEN",
                    backend="github",
                    status_code=401,
                    operation_id=operation_id,
                    request_id=request_id,
                )
            raise error_for_status(
                status,
                redact(f"{what}: GitHub answered {response.status_code}: {detail}"),
                retry_after=retry_after,
                backend="github",
                operation_id=operation_id,
                request_id=request_id,
            )
        return response.json() if response.content else None

    def _read(self, path: str, *, what: str, operation_id: str | None = None) -> Any:
        return self._retry.call(self.request, "GET", path, what=what, operation_id=operation_id)

    def pending_deployments(self, run_id: int, *, operation_id: str | None = None) -> list[dict[str, Any]]:
        """``GET .../actions/runs/{run_id}/pending_deployments``: environments the run waits on."""
        path = self._repo_path(f"actions/runs/{run_id}/pending_deployments")
        return list(
            self._read(path, what=f"reading the pending deployments of run {run_id}", operation_id=operation_id) or []
        )

    def reviews(self, run_id: int, *, operation_id: str | None = None) -> list[dict[str, Any]]:
        """``GET .../actions/runs/{run_id}/approvals``: the run's review history."""
        path = self._repo_path(f"actions/runs/{run_id}/approvals")
        return list(self._read(path, what=f"reading the reviews of run {run_id}", operation_id=operation_id) or [])

    def review(
        self,
        run_id: int,
        *,
        environment_ids: list[int],
        state: str,
        comment: str,
        operation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """``POST .../actions/runs/{run_id}/pending_deployments``: approve or reject. Never repeated."""
        path = self._repo_path(f"actions/runs/{run_id}/pending_deployments")
        body = {"environment_ids": environment_ids, "state": state, "comment": comment}
        answer = self.request(
            "POST", path, body=body, what=f"{state} review of run {run_id}", operation_id=operation_id
        )
        return list(answer or [])

    def environment(self, name: str) -> dict[str, Any]:
        """``GET .../environments/{name}``: the environment and its protection rules."""
        path = self._repo_path(f"environments/{quote(name, safe='')}")
        answer: dict[str, Any] = self._read(path, what=f"reading environment {name!r}")
        return answer

    def user(self) -> dict[str, Any]:
        """``GET /user``: who the token acts as."""
        answer: dict[str, Any] = self._read("/user", what="asking GitHub who the token belongs to")
        return answer

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
