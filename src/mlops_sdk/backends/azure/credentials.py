"""Choosing the azure-identity credential for where the code runs.

``credential = "auto"`` (the default) picks, in order: Azure Pipelines federated identity (a service
connection's OIDC token, refreshed on every request, so long jobs outlive the 10-minute token),
workload identity (``AZURE_FEDERATED_TOKEN_FILE``: GitHub Actions via azure/login, AKS), a service
principal secret (``AZURE_CLIENT_SECRET``), managed identity (``IDENTITY_ENDPOINT``), and finally
``DefaultAzureCredential`` (Azure CLI, VS Code, ...) on a workstation.

Every credential that talks HTTP gets the backend's HTTP configuration (CA bundle, proxy, timeouts).
When ``authority_url`` names a host that is not one of Microsoft's public sign-in hosts, instance
discovery is switched off (``disable_instance_discovery=True``): otherwise MSAL first asks
``login.microsoftonline.com`` about the authority, which fails in private or air-gapped clouds and
sends sign-in traffic somewhere the configuration did not name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlops_sdk.backends.azure._http import HttpConfig
from mlops_sdk.backends.azure.cloud import CloudEndpoints
from mlops_sdk.core.config import Settings
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.redaction import register_secret

__all__ = [
    "PUBLIC_AUTHORITY_HOSTS",
    "choose_credential_kind",
    "create_credential",
    "is_custom_authority",
    "summarize_credential_error",
]

PUBLIC_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.us",
    }
)
"""Sign-in hosts MSAL's instance discovery knows; any other authority host is custom."""

_SIGN_IN_FIX = "sign in with `az login`, or set the 'credential' setting to the identity your CI runner provides"
_ATTEMPT = re.compile(r"^\t(\w+): (.*)$")


def is_custom_authority(authority: str) -> bool:
    """Whether ``authority`` is a host other than Microsoft's public sign-in hosts."""
    host = (urlsplit(authority if "://" in authority else f"https://{authority}").hostname or "").lower()
    return host not in PUBLIC_AUTHORITY_HOSTS


def summarize_credential_error(error: BaseException, *, with_fix: bool = True) -> str:
    """One line for a credential failure, the fix first.

    ``DefaultAzureCredential`` reports every credential of its chain (13-26 lines); this keeps the
    fix and the names of the credentials it tried, each with the first sentence of its reason.
    """
    text = str(error)
    if "DefaultAzureCredential failed to retrieve a token" not in text:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        fix = "sign in (az login) or fix the credential settings (credential, authority_url, AZURE_CLIENT_ID)"
        return f"{fix}: {first}" if with_fix else first
    tried = []
    for line in text.splitlines():
        match = _ATTEMPT.match(line)
        if match:
            reason = match.group(2).split(". ")[0].rstrip(".")
            tried.append(f"{match.group(1)} ({reason})")
    summary = "DefaultAzureCredential found no usable credential; tried: " + "; ".join(tried)
    return f"{_SIGN_IN_FIX}; {summary}" if with_fix else summary


def choose_credential_kind(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Return the concrete credential kind ``auto`` resolves to in this environment."""
    if settings.credential != "auto":
        return settings.credential
    env = os.environ if env is None else env
    if env.get("SYSTEM_OIDCREQUESTURI") and env.get("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"):
        return "azure_pipelines"
    if env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload_identity"
    if env.get("AZURE_CLIENT_SECRET") and env.get("AZURE_CLIENT_ID") and env.get("AZURE_TENANT_ID"):
        return "client_secret"
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        return "managed_identity"
    return "default"


def _need(env: Mapping[str, str], names: tuple[str, ...], kind: str) -> dict[str, str]:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise ConfigurationError(
            f"credential {kind!r} needs the environment variables {', '.join(missing)}; set them "
            "(in Azure Pipelines: map the service connection's variables into the step) or choose another "
            "credential in the 'credential' setting",
            details={"missing": missing},
        )
    return {name: env[name] for name in names}


def create_credential(
    settings: Settings, cloud: CloudEndpoints, env: Mapping[str, str] | None = None, *, http: HttpConfig | None = None
) -> Any:
    """Create the azure-identity credential the settings ask for (lazy import of azure.identity)."""
    import azure.identity as identity

    env = os.environ if env is None else env
    http = http or HttpConfig.from_settings(settings)
    kind = choose_credential_kind(settings, env)
    # A token request that got no answer (timeout, reset) is retried by the SDK's policy with the call that
    # needed the token, on the client's clock. Throttled and failing answers (429, 5xx) stay with
    # azure-identity's own retry underneath MSAL: MSAL caches such an answer for its Retry-After (60 s
    # without one) and replays it to any retry from above, so only a retry below it can succeed.
    common: dict[str, Any] = {
        "authority": cloud.authority,
        "retry_connect": 0,
        "retry_read": 0,
        **http.identity_kwargs(),
    }
    if is_custom_authority(cloud.authority):
        common["disable_instance_discovery"] = True
    if kind == "azure_pipelines":
        values = _need(
            env,
            (
                "AZURESUBSCRIPTION_TENANT_ID",
                "AZURESUBSCRIPTION_CLIENT_ID",
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                "SYSTEM_ACCESSTOKEN",
            ),
            kind,
        )
        return identity.AzurePipelinesCredential(
            tenant_id=values["AZURESUBSCRIPTION_TENANT_ID"],
            client_id=values["AZURESUBSCRIPTION_CLIENT_ID"],
            service_connection_id=values["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
            system_access_token=values["SYSTEM_ACCESSTOKEN"],
            **common,
        )
    if kind == "workload_identity":
        values = _need(env, ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"), kind)
        return identity.WorkloadIdentityCredential(
            tenant_id=values["AZURE_TENANT_ID"],
            client_id=values["AZURE_CLIENT_ID"],
            token_file_path=values["AZURE_FEDERATED_TOKEN_FILE"],
            **common,
        )
    if kind == "client_secret":
        values = _need(env, ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"), kind)
        register_secret(values["AZURE_CLIENT_SECRET"])
        return identity.ClientSecretCredential(
            values["AZURE_TENANT_ID"], values["AZURE_CLIENT_ID"], values["AZURE_CLIENT_SECRET"], **common
        )
    if kind == "managed_identity":
        client_id = env.get("AZURE_CLIENT_ID")
        managed = http.identity_kwargs(proxy=False)
        return (
            identity.ManagedIdentityCredential(client_id=client_id, **managed)
            if client_id
            else identity.ManagedIdentityCredential(**managed)
        )
    if kind == "azure_cli":
        return identity.AzureCliCredential()  # a subprocess: the az CLI reads its own proxy/CA settings
    # The chain includes managed identity, whose local endpoint must not go through the proxy: no proxy here.
    chain = {**common, **http.identity_kwargs(proxy=False)}
    chain.pop("proxies", None)
    for name in ("retry_connect", "retry_read"):  # managed identity (IMDS) keeps azure-identity's own retries
        chain.pop(name)
    return identity.DefaultAzureCredential(exclude_interactive_browser_credential=True, **chain)
