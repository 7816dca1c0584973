"""One HTTP configuration for every client the Azure backend creates.

CA bundle, proxy, timeouts and user agent come from the settings (``ca_bundle``, ``proxy``,
``connect_timeout``, ``read_timeout``) and are handed to each client explicitly: azure-core clients
(Resource Manager, Data Factory, Azure ML REST, blob storage, azure-identity, scoring) get constructor
keyword arguments, msrest clients (Azure DevOps) get their per-client configuration. The process
environment is never changed. Because ``requests`` uses ``REQUESTS_CA_BUNDLE`` only when ``verify`` is
``True`` and prefers explicit ``proxies`` over ``HTTPS_PROXY``, a configured bundle or proxy always
wins over whatever the machine presets; with neither configured the usual environment applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlops_sdk._version import __version__
from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["USER_AGENT", "HttpConfig"]

USER_AGENT = f"mlops-sdk/{__version__}"


def _check_ca_bundle(path: Path) -> None:
    """Refuse a ``ca_bundle`` that requests would reject later as a network failure (or read as a folder)."""
    fix = "set 'ca_bundle' to a PEM file holding the CA certificate(s) to trust (-----BEGIN CERTIFICATE-----)"
    problem = None
    try:
        if not path.exists():
            problem = "does not exist"
        elif not path.is_file():
            problem = "is not a file"
        elif b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
            problem = "holds no PEM certificate"
    except OSError as error:
        problem = f"cannot be read ({error.strerror})"
    if problem is not None:
        raise ConfigurationError(
            f"ca_bundle {path} {problem}; {fix}", backend="azure", details={"field": "ca_bundle", "fix": fix}
        )


@dataclass(frozen=True)
class HttpConfig:
    """CA bundle, proxy, timeouts and user agent shared by every Azure connection."""

    ca_bundle: str | None = None
    proxy: str | None = None
    connect_timeout: float = 20.0
    read_timeout: float = 120.0
    user_agent: str = USER_AGENT

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpConfig:
        """The configuration the settings describe.

        Raises:
            ConfigurationError: ``ca_bundle`` is not a readable PEM file with a certificate (``details["field"]``
                is ``"ca_bundle"``). It is checked here, when a client is about to use it, not when the
                config file is read: a profile's bundle may exist only on the machine that selects it.
        """
        if settings.ca_bundle is not None:
            _check_ca_bundle(Path(settings.ca_bundle))
        return cls(
            ca_bundle=str(settings.ca_bundle) if settings.ca_bundle is not None else None,
            proxy=settings.proxy,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )

    @property
    def verify(self) -> str | bool:
        """``verify`` / ``connection_verify``: the bundle path, or True (``REQUESTS_CA_BUNDLE``, else certifi's CAs)."""
        return self.ca_bundle if self.ca_bundle is not None else True

    @property
    def proxies(self) -> dict[str, str] | None:
        """``proxies`` for requests and azure-core (both schemes through the configured proxy), or None."""
        return {"http": self.proxy, "https": self.proxy} if self.proxy else None

    @property
    def proxy_password(self) -> str | None:
        """The password embedded in the proxy URL, if any (registered as a secret by the backend)."""
        return urlsplit(self.proxy).password if self.proxy else None

    def core_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any azure-core based client (ARM, Azure ML, storage, identity)."""
        kwargs: dict[str, Any] = {
            "connection_verify": self.verify,
            "connection_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "user_agent": self.user_agent,
        }
        if self.proxies:
            kwargs["proxies"] = self.proxies
        return kwargs

    def identity_kwargs(self, *, proxy: bool = True) -> dict[str, Any]:
        """Keyword arguments for azure-identity credentials (token requests).

        ``proxy=False`` for credentials that may call a managed-identity endpoint (IMDS on the link-local
        169.254.169.254, App Service's local endpoint): those must never go through a corporate proxy.
        """
        kwargs: dict[str, Any] = {
            "connection_verify": self.verify,
            "connection_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }
        if proxy and self.proxies:
            kwargs["proxies"] = self.proxies
        return kwargs

    def pipeline_client(self, base_url: str, *, policies: list[Any], retry_total: int = 0) -> Any:
        """An azure-core ``PipelineClient`` with this configuration, ``policies`` first, then proxy and retry.

        ``PipelineClient`` without a ``Configuration`` has no proxy policy and ignores ``proxies=`` given at
        construction, so the proxy policy is added here explicitly.
        """
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, ProxyPolicy, RetryPolicy

        return PipelineClient(
            base_url,
            policies=[
                HeadersPolicy({"User-Agent": self.user_agent}),
                *policies,
                ProxyPolicy(proxies=self.proxies),
                RetryPolicy(retry_total=retry_total),
            ],
            connection_verify=self.verify,
            connection_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )

    def configure_msrest(self, client: Any) -> None:
        """Apply the configuration to one msrest ``ServiceClient`` (every azure-devops client is one).

        Its transport retries are switched off, as for every other client the backend creates: msrest's
        default urllib3 policy retries GETs on 408/5xx and on 429/503 with ``Retry-After``, sleeping for
        real under the SDK's own retry policy (which already honours the hint, on the client's clock, within
        ``retry_deadline``).
        """
        client.config.connection.verify = self.verify
        client.config.connection.timeout = (self.connect_timeout, self.read_timeout)
        retry = client.config.retry_policy  # msrest's wrapper around a urllib3 Retry
        retry.retries = 0  # total, connect and read
        retry.policy.status_forcelist = frozenset()
        retry.policy.respect_retry_after_header = False
        retry.policy.raise_on_status = False  # an error status is the answer, translated by the SDK
        if self.proxy:
            client.config.proxies.add("http", self.proxy)
            client.config.proxies.add("https", self.proxy)

    def requests_kwargs(self) -> dict[str, Any]:
        """``verify``, ``proxies`` and ``timeout`` for a plain ``requests`` call."""
        kwargs: dict[str, Any] = {"verify": self.verify, "timeout": (self.connect_timeout, self.read_timeout)}
        if self.proxies:
            kwargs["proxies"] = self.proxies
        return kwargs
