"""What the docs promise a corporate user of the ``azure`` backend on day one, checked black-box.

Pages: azure-setup.md (credentials, clouds, proxies, "One HTTP configuration for every client", sign-in),
configuration.md (azure settings), errors.md (retry policy, error classes, the command line),
secrets.md, and the Azure parts of data-factory.md, pipelines.md, models.md and deployments.md.

The REAL client libraries (azure-mgmt-datafactory, azure-ai-ml, azure-devops, azure-identity) talk over
loopback TLS to the fakes in ``tests/fakes``; faults are injected on the requests each flow sends and
every test asserts on the requests the services received as well as on what the SDK returned.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

pytest.importorskip("azure.identity")
pytest.importorskip("azure.devops")

from mlops_sdk import MLOpsClient
from mlops_sdk.cli.main import run as mlops
from mlops_sdk.clients.data_factory import DataFactoryClient
from mlops_sdk.core.errors import (
    AuthenticationError,
    ConfigurationError,
    MlopsError,
    PermissionDeniedError,
    ResourceNotFoundError,
    ServerError,
    ServiceRequestError,
    ThrottledError,
)
from mlops_sdk.core.status import Status
from mlops_sdk.testing import FakeClock
from tests.fakes.azureml import FakeAzureML
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.data_factory import FakeDataFactory
from tests.fakes.devops import FakeDevOps
from tests.fakes.proxy import connect_proxy
from tests.fakes.server import FakeService, Fault, Response
from tests.fakes.token import ISSUED_TOKEN, FakeTokenEndpoint

pytestmark = pytest.mark.azure

SUB, RG, WS = "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "rg-corp", "ws-corp"
TARGET = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/{WS}"
FACTORY = "adf-corp"
PAT = "corp-devops-pat-canary-0123456789"
CLIENT_SECRET = "corp-client-secret-canary-0123456789"
PROXY_USER, PROXY_PASSWORD = "corp-user", "Pr0xy-passw0rd-canary-0123456789"


# -- shared set-up --------------------------------------------------------------------------------------


@pytest.fixture
def service(tls_ca: Any) -> Iterator[FakeService]:
    running = FakeService(tls_ca).start()
    yield running
    running.stop()


@pytest.fixture
def world(service: FakeService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Data Factory, Azure ML, Azure DevOps and a Microsoft Entra token endpoint on one loopback service."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    adf = FakeDataFactory(service, clock)
    adf.add_pipeline("refresh", parameters={})
    aml = FakeAzureML(service, SUB, RG, WS)
    aml.add_model_version("diabetes", "1")
    devops = FakeDevOps(service)
    devops.add_user(PAT, "builder@contoso.com")
    devops.add_pipeline(42, "app-integration-tests")
    tokens = FakeTokenEndpoint(service)
    return {"adf": adf, "aml": aml, "devops": devops, "tokens": tokens}


def _settings(service: FakeService, ca_bundle: Path | None, **more: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "cloud": "CorpCloud",
        "resource_manager_url": service.url,
        "authority_url": service.url,
        "data_factory": FACTORY,
        "devops": f"{service.url}/fabrikam/RM",
        "devops_pat": PAT,
        "show_progress": False,
    }
    if ca_bundle is not None:
        settings["ca_bundle"] = str(ca_bundle)
    settings.update(more)
    return settings


def _client_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", "corp-tenant")
    monkeypatch.setenv("AZURE_CLIENT_ID", "corp-client")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)


def _error_texts(error: BaseException) -> list[str]:
    texts = [str(error), repr(error)]
    if isinstance(error, MlopsError):
        texts.append(json.dumps(error.to_dict(), default=str))
    return texts


def _record_texts(records: list[logging.LogRecord]) -> list[str]:
    texts = []
    for record in records:
        texts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            texts.extend(_error_texts(record.exc_info[1]))
    return texts


def _leaks(texts: list[str], *needles: str) -> list[str]:
    return [text[:300] for text in texts for needle in needles if needle in text]


def _every_client_once(hub: MLOpsClient, devops_pipeline: int = 42) -> None:
    """One call through each client family: ARM (Data Factory), Azure ML REST, Azure DevOps (msrest)."""
    run = hub.data_factory.begin_refresh("refresh").result()
    assert run.status is Status.SUCCEEDED
    assert hub.models.get("diabetes", "1").version == "1"
    assert hub.pipelines.begin_run(devops_pipeline).id == "101"


# -- a proxy that needs credentials -------------------------------------------------------------------


def test_an_authenticating_proxy_gets_its_credentials_on_every_tunnel_and_the_password_never_shows(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """azure-setup.md "One HTTP configuration for every client": `proxy` is used "for every Azure connection",
    and "A password in the proxy URL is treated as a secret (masked in logs and errors)".

    A corporate proxy that answers 407 without the right ``Proxy-Authorization`` is given
    ``http://user:password@host:port``: token requests, ARM, Azure ML, Azure DevOps and the scoring POST all
    authenticate at the proxy, and the password appears in no log record (DEBUG, every logger)."""
    _client_secret_env(monkeypatch)
    caplog.set_level(logging.DEBUG)
    with connect_proxy(credentials=(PROXY_USER, PROXY_PASSWORD)) as proxy:
        url = proxy.url.replace("http://", f"http://{PROXY_USER}:{PROXY_PASSWORD}@")
        settings = _settings(service, ca_bundle, proxy=url, credential="client_secret")
        with MLOpsClient(TARGET, clock=clock, **settings) as hub:
            _every_client_once(hub)
            _deployed(hub, service)
            assert hub.deployments.invoke("churn", PAYLOAD) == [1.0, 1.0]  # the scoring POST
    expected = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert proxy.unauthenticated == []
    assert proxy.authorizations
    assert set(proxy.authorizations) == {expected}
    assert proxy.tunnels_to(service.url) >= 3
    assert [grant["client_id"] for grant in world["tokens"].grants] == ["corp-client"]
    assert service.requests_to("POST", r"/pipelines/refresh/createRun$")
    assert service.requests_to("GET", r"/models/diabetes/versions/1$")
    assert service.requests_to("POST", r"/_apis/pipelines/42/runs$")
    assert service.requests_to("POST", r"/score/churn$")
    assert _leaks(_record_texts(caplog.records), PROXY_PASSWORD, CLIENT_SECRET, PAT) == []


def test_a_wrong_proxy_password_is_a_service_request_error_naming_proxy_without_the_password(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """azure-setup.md: a request that never reached the service (proxy) "raises `ServiceRequestError` ...
    whose message names the setting to change"; the proxy password is "masked in logs and errors"."""
    caplog.set_level(logging.DEBUG)
    wrong = "wr0ng-proxy-passw0rd-canary-98765"
    with connect_proxy(credentials=(PROXY_USER, PROXY_PASSWORD)) as proxy:
        url = proxy.url.replace("http://", f"http://{PROXY_USER}:{wrong}@")
        settings = _settings(service, ca_bundle, proxy=url, retry_max_attempts=1)
        with (
            DataFactoryClient(TARGET, credential=StaticTokenCredential(), clock=clock, settings=settings) as factory,
            pytest.raises(ServiceRequestError) as caught,
        ):
            factory.get_run("any-run")
    assert proxy.unauthenticated  # the proxy said 407
    assert "'proxy'" in caught.value.message
    assert service.requests == []  # nothing reached the service
    assert _leaks(_error_texts(caught.value) + _record_texts(caplog.records), wrong) == []


def test_config_show_and_doctor_never_print_the_proxy_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """configuration.md: "`mlops config show` prints every effective value with its source; secrets are
    masked"; azure-setup.md: "A password in the proxy URL is treated as a secret".

    The proxy URL comes from the environment, from the flat key and from ``[backends.azure]``."""
    (tmp_path / "mlops.toml").write_text(
        f'target = "{TARGET}"\n'
        f'[backends.azure]\nproxy = "http://{PROXY_USER}:file-{PROXY_PASSWORD}@proxy.corp.example:3128"\n'
    )
    monkeypatch.setenv("MLOPS_PROXY", f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy.corp.example:3128")
    outputs = []
    for argv in (["-o", "json", "config", "show"], ["config", "show"]):
        assert mlops(argv) == 0
        outputs.append(capsys.readouterr())
    shown = json.loads(outputs[0].out)["settings"]
    assert shown["proxy"]["source"] == "env MLOPS_PROXY"
    assert "proxy.corp.example:3128" in shown["proxy"]["value"]  # the URL stays useful, only the password goes
    texts = [text for output in outputs for text in (output.out, output.err)]
    assert _leaks(texts, PROXY_PASSWORD) == []


# -- throttling: 429 + Retry-After on each service ----------------------------------------------------


@pytest.mark.parametrize(
    ("where", "hint"),
    [
        ("arm", {"Retry-After": "7"}),
        ("arm", {"retry-after-ms": "7000"}),
        ("azureml", {"Retry-After": "7"}),
        ("azureml", {"x-ms-retry-after-ms": "7000"}),
        ("devops", {"Retry-After": "7"}),
    ],
)
def test_429_retry_after_is_honoured_on_every_service(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, where: str, hint: dict[str, str]
) -> None:
    """errors.md "Retry policy": 429 is retried and the policy "honours `retry-after-ms`, `x-ms-retry-after-ms`
    and `Retry-After`"; README: "`Retry-After` / `retry-after-ms` honoured". A read throttled for 7 s by Data
    Factory (ARM), Azure ML or Azure DevOps waits 7 s (on the client's clock) and then succeeds."""
    paths = {
        "arm": ("GET", r"/pipelineruns/"),
        "azureml": ("GET", r"/models/diabetes/versions/1$"),
        "devops": ("GET", r"/_apis/pipelines/42/runs/101$"),
    }
    method, path = paths[where]
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        if where == "arm":
            run_id = hub.data_factory.begin_refresh("refresh").id
        elif where == "devops":
            hub.pipelines.begin_run(42)
        service.inject(Fault(method, path, status=429, headers=hint, body={"error": {"code": "TooManyRequests"}}))
        before = len(service.requests_to(method, path))
        if where == "arm":
            assert hub.data_factory.get_run(run_id).run_id == run_id
        elif where == "azureml":
            assert hub.models.get("diabetes", "1").version == "1"
        else:
            assert hub.pipelines.get_run(42, 101).id == 101
    assert len(service.requests_to(method, path)) - before == 2
    assert 7.0 in clock.sleeps, clock.sleeps


def test_a_retry_after_beyond_the_deadline_raises_throttled_at_once(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """errors.md: "An overall deadline (`retry_deadline`, 300 s) bounds the whole call; when the next wait
    would cross it, the last error is raised with `details["attempts"]`". A 429 asking for an hour is
    not slept through: `ThrottledError` with the service's hint, one request."""
    service.inject(Fault("GET", r"/models/diabetes/versions/1$", status=429, headers={"Retry-After": "3600"}))
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub,
        pytest.raises(ThrottledError) as caught,
    ):
        hub.models.get("diabetes", "1")
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 3600
    assert caught.value.details["attempts"] == 1
    assert len(service.requests_to("GET", r"/models/diabetes/versions/1$")) == 1
    assert sum(clock.sleeps) < 300


# -- credential given by name -------------------------------------------------------------------------


def test_credential_argument_takes_the_setting_s_names_and_refuses_anything_else(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-setup.md "Credentials": "Force one with `credential = "azure_pipelines" | ... | "client_secret"
    ..."; configuration.md: arguments are the first layer of settings, "an unknown argument is refused",
    a bad value "names the setting". `MLOpsClient(..., credential="client_secret")` therefore signs in with
    the service principal; a misspelt kind or an object that is no credential is a `ConfigurationError`
    naming `credential`, never an AttributeError from inside azure-core."""
    _client_secret_env(monkeypatch)
    settings = _settings(service, ca_bundle)
    with MLOpsClient(TARGET, clock=clock, credential="client_secret", **settings) as hub:
        assert hub.models.get("diabetes", "1").version == "1"
    assert [grant["client_id"] for grant in world["tokens"].grants] == ["corp-client"]
    (get,) = service.requests_to("GET", r"/models/diabetes/versions/1$")
    assert get.headers["authorization"] == f"Bearer {ISSUED_TOKEN}"
    for wrong in ("clientsecret", object()):
        with pytest.raises(ConfigurationError) as caught:
            MLOpsClient(TARGET, clock=clock, credential=wrong, **settings)
        assert "credential" in caught.value.message
        details = caught.value.details
        assert (details.get("field") or details["problems"][0]["key"]) == "credential"


# -- timeouts from the settings reach every client -----------------------------------------------------


@pytest.mark.parametrize("where", ["arm", "azureml", "devops", "token"])
def test_read_timeout_reaches_every_client_and_names_the_setting(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """azure-setup.md: "`connect_timeout`, `read_timeout`: seconds, for every Azure connection"; a request
    that never got its answer "raises `ServiceRequestError` ... whose message names the setting to change".
    A service that answers after 3 s, with `read_timeout = 0.5`: Data Factory (ARM), Azure ML, Azure DevOps
    and the token endpoint of the credential each give up and say to raise the timeout."""
    paths = {
        "arm": ("GET", r"/pipelineruns/any-run$"),
        "azureml": ("GET", r"/models/diabetes/versions/1$"),
        "devops": ("OPTIONS", r"/fabrikam/_apis$"),
        "token": ("POST", r"/oauth2/v2\.0/token$"),
    }
    method, path = paths[where]
    service.inject(Fault(method, path, delay=3.0, times=100))
    _client_secret_env(monkeypatch)
    settings = _settings(service, ca_bundle, read_timeout=0.5, retry_max_attempts=1)
    credential: Any = StaticTokenCredential() if where != "token" else "client_secret"
    with MLOpsClient(TARGET, clock=clock, credential=credential, **settings) as hub:
        calls = {
            "arm": lambda: hub.data_factory.get_run("any-run"),
            "token": lambda: hub.data_factory.get_run("any-run"),
            "azureml": lambda: hub.models.get("diabetes", "1"),
            "devops": lambda: hub.pipelines.get_run(42, 101),
        }
        with pytest.raises(MlopsError) as caught:
            calls[where]()
    assert len(service.requests_to(method, path)) == 1, len(service.requests_to(method, path))  # no retry underneath
    assert isinstance(caught.value, ServiceRequestError), caught.value
    assert "read_timeout" in caught.value.message, caught.value.message


# -- NO_PROXY and the environment ---------------------------------------------------------------------


def test_without_a_proxy_setting_no_proxy_from_the_environment_is_honoured_by_every_client(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-setup.md: "With neither set, the usual environment applies (`HTTPS_PROXY`/`NO_PROXY`, ...)".
    `HTTPS_PROXY` names a proxy that refuses everything and `NO_PROXY` exempts 127.0.0.1: the token
    endpoint, ARM, Azure ML and Azure DevOps are all reached directly."""
    with connect_proxy() as proxy:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        _client_secret_env(monkeypatch)
        with MLOpsClient(TARGET, clock=clock, credential="client_secret", **_settings(service, ca_bundle)) as hub:
            _every_client_once(hub)
    assert proxy.tunnels == {}
    assert world["tokens"].grants


def test_a_proxy_setting_wins_over_no_proxy_for_every_client(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-setup.md: "A configured `ca_bundle` or `proxy` always wins over the environment: ... `NO_PROXY`
    [is] not consulted ... (with `proxy` set, every Azure connection goes through it)". With
    `NO_PROXY=127.0.0.1` the token request, ARM, Azure ML and every Azure DevOps request still tunnel
    through the configured proxy: the service sees only connections the proxy opened."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    _client_secret_env(monkeypatch)
    with connect_proxy() as proxy:
        settings = _settings(service, ca_bundle, proxy=proxy.url)
        with MLOpsClient(TARGET, clock=clock, credential="client_secret", **settings) as hub:
            _every_client_once(hub)
    assert proxy.tunnels_to(service.url) >= 4
    assert world["tokens"].grants
    assert service.requests_to("OPTIONS", r"/fabrikam/_apis$")


def test_requests_ca_bundle_is_used_when_no_ca_bundle_is_set(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-setup.md: "With neither set, the usual environment applies (... the system trust store or
    `REQUESTS_CA_BUNDLE`)": a machine whose `REQUESTS_CA_BUNDLE` names the corporate CA needs no setting."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_bundle))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    _client_secret_env(monkeypatch)
    with MLOpsClient(TARGET, clock=clock, credential="client_secret", **_settings(service, None)) as hub:
        _every_client_once(hub)
    assert world["tokens"].grants


@pytest.mark.parametrize("problem", ["missing", "folder", "not-pem"])
def test_a_ca_bundle_that_is_no_pem_file_is_a_configuration_error_naming_ca_bundle(
    world: dict[str, Any], service: FakeService, clock: FakeClock, tmp_path: Path, problem: str
) -> None:
    """errors.md: `ConfigurationError` is "bad config ...; says how to fix it"; configuration.md: a bad
    value "names the setting". A `ca_bundle` that does not exist, is a folder or holds no certificate
    is refused naming `ca_bundle`, before any request, not reported as a network failure."""
    bundle = tmp_path / "corp-ca.pem"
    if problem == "folder":
        bundle.mkdir()
    elif problem == "not-pem":
        bundle.write_text("this is not a certificate\n")
    settings = _settings(service, bundle, retry_max_attempts=1)
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
        pytest.raises(ConfigurationError) as caught,
    ):
        hub.models.get("diabetes", "1")
    assert "ca_bundle" in caught.value.message
    assert str(bundle) in caught.value.message
    assert service.requests == []


# -- refusals: 401, 403, and names that name nothing ----------------------------------------------------


def _arm_authorization_failed(action: str, scope: str) -> dict[str, Any]:
    """ARM's 403 body (ErrorResponse of the common types; code and wording as Azure Resource Manager sends)."""
    return {
        "error": {
            "code": "AuthorizationFailed",
            "message": (
                f"The client 'corp-client' with object id '6b1f0e4a-0000-4000-8000-000000000001' does not have "
                f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
                "access was recently granted, please refresh your credentials."
            ),
        }
    }


@pytest.mark.parametrize("where", ["arm", "azureml", "devops"])
def test_403_is_permission_denied_saying_which_role_to_grant(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, where: str
) -> None:
    """errors.md: `PermissionDeniedError` for 403, never retried (only 408/429/5xx are), "a message that says
    what to do next" (README), "Azure errors carry the ARM code in `details["error_code"]`"; azure-setup.md
    names the least-privilege role per capability: **Data Factory Contributor** for refreshes, **AzureML
    Data Scientist** for models. A 403 names that role; Azure DevOps' own refusal is quoted."""
    factory_scope = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataFactory/factories/{FACTORY}"
    faults = {
        "arm": Fault(
            "POST",
            r"/pipelines/refresh/createRun$",
            status=403,
            body=_arm_authorization_failed(
                "Microsoft.DataFactory/factories/pipelines/createRun/action", factory_scope + "/pipelines/refresh"
            ),
        ),
        "azureml": Fault(
            "GET",
            r"/models/diabetes/versions/1$",
            status=403,
            body=_arm_authorization_failed(
                "Microsoft.MachineLearningServices/workspaces/models/versions/read", world["aml"].ws
            ),
        ),
        "devops": Fault(
            "POST",
            r"/_apis/pipelines/42/runs$",
            status=403,
            body={
                "$id": "1",
                "innerException": None,
                "message": "TF215106: Access denied. corp-ci needs Queue builds permissions for build pipeline 42 "
                "in team project RM to perform the action.",
                "typeName": "Microsoft.TeamFoundation.Build.WebApi.AccessDeniedException, "
                "Microsoft.TeamFoundation.Build2.WebApi",
                "typeKey": "AccessDeniedException",
                "errorCode": 0,
                "eventId": 3000,
            },
        ),
    }
    fault = faults[where]
    service.inject(fault)
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        calls = {
            "arm": lambda: hub.data_factory.begin_refresh("refresh"),
            "azureml": lambda: hub.models.get("diabetes", "1"),
            "devops": lambda: hub.pipelines.begin_run(42, idempotency_key="perm-1"),
        }
        with pytest.raises(PermissionDeniedError) as caught:
            calls[where]()
    error = caught.value
    assert error.status_code == 403
    assert len(service.requests_to(fault.method, fault.path)) == 1  # a refusal is not retried
    role = {"arm": "Data Factory Contributor", "azureml": "AzureML Data Scientist", "devops": "TF215106"}[where]
    assert role in error.message, error.message
    if where != "devops":
        assert error.details["error_code"] == "AuthorizationFailed"
        assert "grant" in error.message


def test_401_from_resource_manager_is_an_authentication_error_saying_what_to_check(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """errors.md: `AuthenticationError` for "401 / no token"; README: messages say "what to do next". ARM's
    401 for a token of the wrong tenant names what to check (the credential and its tenant, `authority_url`)."""
    service.inject(
        Fault(
            "GET",
            r"/models/diabetes/versions/1$",
            status=401,
            headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/other-tenant"'},
            body={
                "error": {
                    "code": "InvalidAuthenticationTokenTenant",
                    "message": "The access token is from the wrong issuer. It must match the tenant associated "
                    "with this subscription. Please use the authority (URL) 'https://login.windows.net/corp' to get "
                    "the token.",
                }
            },
        )
    )
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub,
        pytest.raises(AuthenticationError) as caught,
    ):
        hub.models.get("diabetes", "1")
    assert caught.value.status_code == 401
    assert caught.value.details["error_code"] == "InvalidAuthenticationTokenTenant"
    assert "authority_url" in caught.value.message or "credential" in caught.value.message, caught.value.message


def _arm_unknown_parents(service: FakeService) -> None:
    """What Azure Resource Manager answers for a subscription, resource group, workspace or factory that does
    not exist (before the fakes, which answer for any factory name)."""

    def answer(request: Any, match: Any) -> Response:
        if match["sub"] != SUB:
            return Response(404, {"error": {"code": "SubscriptionNotFound", "message": f"The subscription "
                                            f"'{match['sub']}' could not be found."}})  # fmt: skip
        if match["rg"].lower() != RG:
            return Response(404, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group "
                                            f"'{match['rg']}' could not be found."}})  # fmt: skip
        return Response(
            404,
            {
                "error": {
                    "code": "ResourceNotFound",
                    "message": f"The Resource '{match['type']}/{match['name']}' under resource group '{match['rg']}' "
                    "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                }
            },
        )

    for method in ("GET", "PUT", "POST"):
        service.route(
            method,
            rf"(?!/subscriptions/{SUB}/resourceGroups/{RG}/providers/[^/]+/(?:workspaces/{WS}|factories/{FACTORY})(?:/|$))"
            r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
            r"(?P<type>Microsoft\.[A-Za-z]+/(?:workspaces|factories))/(?P<name>[^/]+)(?:/.*)?",
            answer,
            first=True,
        )


@pytest.mark.parametrize(
    ("target", "field", "named"),
    [
        (f"azureml://subscriptions/{SUB[:-1]}1/resourceGroups/{RG}/workspaces/{WS}", "target", "subscription"),
        (f"azureml://subscriptions/{SUB}/resourceGroups/rg-crop/workspaces/{WS}", "target", "resource group"),
        (f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/ws-crop", "target", "workspace"),
    ],
)
def test_a_target_naming_nothing_is_resource_not_found_naming_the_target(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, target: str, field: str, named: str
) -> None:
    """configuration.md "Target URIs" (`azureml://subscriptions/<sub>/resourceGroups/<rg>/workspaces/<ws>`);
    errors.md: a "name that names nothing" is `ResourceNotFoundError`, and every error "says what to do
    next". A typo in the target's subscription, resource group or workspace is not a missing model: the
    error names the part of the target and the `target` setting (`details["field"]`)."""
    _arm_unknown_parents(service)
    with (
        MLOpsClient(target, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub,
        pytest.raises(ResourceNotFoundError) as caught,
    ):
        hub.models.get("diabetes", "1")
    assert caught.value.details.get("field") == field, caught.value.details
    assert named in caught.value.message, caught.value.message
    assert "target" in caught.value.message


def test_a_data_factory_naming_nothing_is_resource_not_found_naming_the_setting(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """azure-setup.md: `data_factory = "<factory>"` (+ `data_factory_resource_group`); errors.md: a name that
    names nothing is `ResourceNotFoundError` saying what to do. A misspelt factory names `data_factory`."""
    _arm_unknown_parents(service)
    settings = _settings(service, ca_bundle, data_factory="adf-crop")
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
        pytest.raises(ResourceNotFoundError) as caught,
    ):
        hub.data_factory.begin_refresh("refresh")
    assert caught.value.details.get("field") == "data_factory", caught.value.details
    assert "adf-crop" in caught.value.message


# -- a sovereign cloud's endpoints reach every client ---------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "arm_host", "login_host"),
    [
        ("AzureChinaCloud", "management.chinacloudapi.cn", "login.chinacloudapi.cn"),
        ("AzureUSGovernment", "management.usgovcloudapi.net", "login.microsoftonline.us"),
    ],
)
def test_a_sovereign_cloud_s_endpoints_reach_every_client(
    tls_ca: Any,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    cloud: str,
    arm_host: str,
    login_host: str,
) -> None:
    """azure-setup.md: "`cloud = "AzureChinaCloud" | "AzureUSGovernment"` switches every endpoint". With only
    `cloud` set, the real clients are reached under the cloud's real host names (a proxy resolves them to the
    loopback fakes): the service principal signs in at the cloud's sign-in host for the cloud's Resource
    Manager scope, Data Factory and Azure ML go to the cloud's Resource Manager, and no request is sent to
    the public cloud's hosts (the proxy refuses and records any other host)."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    _client_secret_env(monkeypatch)
    service = FakeService(tls_ca, hostnames=(arm_host, login_host)).start()
    try:
        world = {"adf": FakeDataFactory(service, clock), "aml": FakeAzureML(service, SUB, RG, WS)}
        world["adf"].add_pipeline("refresh", parameters={})
        world["aml"].add_model_version("diabetes", "1")
        tokens = FakeTokenEndpoint(service)
        port = int(service.url.rsplit(":", 1)[1])
        with connect_proxy(routes={arm_host: port, login_host: port}) as proxy:
            settings = {
                "cloud": cloud,
                "ca_bundle": str(ca_bundle),
                "proxy": proxy.url,
                "data_factory": FACTORY,
                "show_progress": False,
            }
            with MLOpsClient(TARGET, clock=clock, credential="client_secret", **settings) as hub:
                assert hub.data_factory.begin_refresh("refresh").result().status is Status.SUCCEEDED
                assert hub.models.get("diabetes", "1").version == "1"
    finally:
        service.stop()
    assert proxy.refused == []
    assert proxy.tunnels[f"{arm_host}:443"] >= 1
    assert proxy.tunnels[f"{login_host}:443"] >= 1
    assert {grant["scope"].split()[0] for grant in tokens.grants} == {f"https://{arm_host}/.default"}
    assert "AZUREML_CURRENT_CLOUD" not in os.environ  # MLClient's setting was put back when the client closed
    (create,) = service.requests_to("POST", r"/pipelines/refresh/createRun$")
    (model,) = service.requests_to("GET", r"/models/diabetes/versions/1$")
    assert create.headers["host"] == model.headers["host"] == arm_host
    assert service.requests_to("GET", r"/corp-tenant/v2\.0/\.well-known/openid-configuration$")[0].headers["host"] == (
        login_host
    )


# -- Azure DevOps faults: the SDK's one retry policy --------------------------------------------------


@pytest.mark.parametrize("fault", ["503-wrapped", "dropped"])
def test_devops_reads_are_retried_by_the_sdk_policy_on_the_client_clock(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, fault: str
) -> None:
    """errors.md "Retry policy": "connection errors and 408, 429, 500, 502, 503, 504" are retried, the service's
    error class is kept (`ServerError` for 5xx); testing.md / README: waits sleep through the injectable clock.
    Azure DevOps answers a read with a 503 carrying its wrapped-exception body (whose status azure-devops
    drops), or drops the connection: the SDK retries once, on the client's clock, and reads the run."""
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        hub.pipelines.begin_run(42)
        path = r"/_apis/pipelines/42/runs/101$"
        if fault == "dropped":
            service.inject(Fault("GET", path, drop=True))
        else:
            body = {
                "$id": "1",
                "innerException": None,
                "message": "TF400898: An Internal Error Occurred. Activity Id: 5b3a1c2e-0000-4000-8000-000000000001.",
                "typeName": "Microsoft.VisualStudio.Services.WebApi.VssServiceUnavailableException, "
                "Microsoft.VisualStudio.Services.WebApi",
                "typeKey": "VssServiceUnavailableException",
                "errorCode": 0,
                "eventId": 3000,
            }
            service.inject(Fault("GET", path, status=503, body=body, headers={"Retry-After": "3"}))
        assert hub.pipelines.get_run(42, 101).id == 101
    assert len(service.requests_to("GET", path)) == 2
    assert clock.sleeps, "the retry waited on the client's clock"
    if fault == "503-wrapped":
        assert 3.0 in clock.sleeps


def test_devops_5xx_past_the_attempts_is_a_server_error_with_its_request_id(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """errors.md: `ServerError` for 5xx; "Every error carries ... `status_code`, `request_id`". A DevOps 500
    that keeps coming is a `ServerError` with the status and the answer's `x-vss-e2eid` (what Microsoft
    support asks for), after `retry_max_attempts` requests."""
    path = r"/_apis/pipelines/42/runs/101$"
    settings = _settings(service, ca_bundle, retry_max_attempts=3)
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub:
        hub.pipelines.begin_run(42)
        service.inject(
            Fault("GET", path, status=500, times=10, headers={"x-vss-e2eid": "e2e-0123"}, body={"message": "boom"})
        )
        with pytest.raises(ServerError) as caught:
            hub.pipelines.get_run(42, 101)
    assert caught.value.status_code == 500
    assert caught.value.request_id == "e2e-0123"
    assert caught.value.details["attempts"] == 3
    assert len(service.requests_to("GET", path)) == 3


# -- the command line: one JSON document, typed error, no secret --------------------------------------


def test_cli_json_error_from_azure_is_typed_and_holds_no_secret(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """errors.md "The command line": with `-o json`, "stdout holds exactly one JSON document, whatever happens
    ... the error as {"error": {"type": ..., "status_code": ...}}", exit 1 for an `MlopsError`; secrets.md:
    secrets never appear in `--output json`, log records or files. A day-one CI job configured entirely by
    `MLOPS_*` variables and the service principal's `AZURE_*` variables, behind an authenticating proxy, whose
    identity lacks the Data Factory role: the document is a `PermissionDeniedError` naming the role, and
    the client secret, the PAT, the proxy password and the bearer token appear nowhere."""
    caplog.set_level(logging.DEBUG)
    _client_secret_env(monkeypatch)
    service.inject(
        Fault(
            "POST",
            r"/pipelines/refresh/createRun$",
            status=403,
            body=_arm_authorization_failed("Microsoft.DataFactory/factories/pipelines/createRun/action", "/factory"),
        )
    )
    with connect_proxy(credentials=(PROXY_USER, PROXY_PASSWORD)) as proxy:
        environment = {
            "MLOPS_TARGET": TARGET,
            "MLOPS_CLOUD": "CorpCloud",
            "MLOPS_RESOURCE_MANAGER_URL": service.url,
            "MLOPS_AUTHORITY_URL": service.url,
            "MLOPS_CA_BUNDLE": str(ca_bundle),
            "MLOPS_PROXY": proxy.url.replace("http://", f"http://{PROXY_USER}:{PROXY_PASSWORD}@"),
            "MLOPS_CREDENTIAL": "client_secret",
            "MLOPS_DATA_FACTORY": FACTORY,
            "MLOPS_DEVOPS_PAT": PAT,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        code = mlops(["-o", "json", "data", "refresh", "refresh"])
    out, err = capsys.readouterr()
    assert code == 1
    document = json.loads(out)
    assert document["error"]["type"] == "PermissionDeniedError"
    assert document["error"]["status_code"] == 403
    assert "Data Factory Contributor" in document["error"]["message"]
    assert proxy.unauthenticated == []
    files = [path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()]
    texts = [out, err, *_record_texts(caplog.records), *files]
    assert _leaks(texts, CLIENT_SECRET, PAT, PROXY_PASSWORD, ISSUED_TOKEN) == []


# -- scoring: invoke ----------------------------------------------------------------------------------


def _deployed(hub: MLOpsClient, service: FakeService) -> None:
    from mlops_sdk.models.deployments import Replace
    from mlops_sdk.models.registry import ModelVersion
    from tests.fakes.azureml_endpoints import FakeOnlineEndpoints

    FakeOnlineEndpoints(service, f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                                 f"Microsoft.MachineLearningServices/workspaces/{WS}")  # fmt: skip
    model = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
    assert hub.deployments.begin_deploy(model, endpoint="churn", deployment="blue", strategy=Replace()).result()


PAYLOAD = {"input_data": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}


def test_invoke_honours_retry_after_of_a_throttled_scoring_request(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """deployments.md: `deployments.invoke(...)`; its docstring: "throttling, 5xx answers and dropped
    connections are retried by the SDK's retry policy", which "honours ... `Retry-After`" (errors.md).
    Managed endpoints throttle with 429 and `Retry-After`: the retry waits what the endpoint asked."""
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        _deployed(hub, service)
        service.inject(
            Fault("POST", r"/score/churn$", status=429, headers={"Retry-After": "5"}, body={"message": "slow down"})
        )
        before = list(clock.sleeps)
        assert hub.deployments.invoke("churn", PAYLOAD) == [1.0, 1.0]
    assert len(service.requests_to("POST", r"/score/churn$")) == 2
    assert clock.sleeps[len(before) :] == [5.0]


def test_invoke_that_never_gets_an_answer_is_a_service_request_error_naming_the_setting(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """azure-setup.md: the HTTP configuration reaches "the scoring smoke test / `invoke`", and "A request that
    never reached the service (TLS verification, proxy, timeout) raises `ServiceRequestError` ... whose
    message names the setting to change"; secrets.md: endpoint keys never appear in errors or logs. A
    scoring request that times out is a `ServiceRequestError` naming `read_timeout`, not a 503 the endpoint
    never sent, and the endpoint key appears in no error or log record."""
    from tests.fakes.azureml_endpoints import PRIMARY_KEY

    caplog.set_level(logging.DEBUG)
    settings = _settings(service, ca_bundle, read_timeout=0.5, retry_max_attempts=1)
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub:
        _deployed(hub, service)
        service.inject(Fault("POST", r"/score/churn$", delay=3.0))
        with pytest.raises(ServiceRequestError) as caught:
            hub.deployments.invoke("churn", PAYLOAD)
    assert caught.value.status_code is None
    assert "read_timeout" in caught.value.message, caught.value.message
    assert _leaks(_error_texts(caught.value) + _record_texts(caplog.records), PRIMARY_KEY) == []


# -- secrets in the client libraries' own log records --------------------------------------------------


def test_devops_secret_variables_and_parameters_appear_in_no_log_record_at_debug(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """secrets.md: "a queue-time variable that is secret (by name, shape or `Secret`) is sent with
    `isSecret: true`; template parameters are sent as given ... and masked in the `PipelineRun` we return";
    secrets never reach "log records". An application that logs everything at DEBUG (every logger, the
    client libraries' included) sees no secret variable, no connection string and no PAT."""
    from mlops_sdk import Secret

    caplog.set_level(logging.DEBUG)
    by_name, by_type = "canary-by-name-0123456789", "canary-by-type-0123456789"
    connection = "DefaultEndpointsProtocol=https;AccountName=corp;AccountKey=Q2FuYXJ5S2V5MDEyMzQ1Njc4OQ=="
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        run = hub.pipelines.begin_run(
            42,
            parameters={"storage": connection},
            variables={"DB_PASSWORD": by_name, "API": Secret(by_type), "LOG_LEVEL": "debug"},
        )
        assert hub.pipelines.get_run(42, int(run.id)).id == int(run.id)
    (sent,) = service.requests_to("POST", r"/_apis/pipelines/42/runs$")
    assert sent.json["variables"]["DB_PASSWORD"] == {"value": by_name, "isSecret": True}
    assert sent.json["templateParameters"]["storage"] == connection  # the service needs them
    texts = _record_texts(caplog.records)
    assert _leaks(texts, by_name, by_type, "Q2FuYXJ5S2V5MDEyMzQ1Njc4OQ==", PAT) == []


def test_a_sas_token_of_a_refused_code_upload_appears_in_no_error_or_log(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """secrets.md: SAS signatures (`sig=`) are secret by shape and never reach an error's `str`/`repr`/
    `to_dict()` or a log record. Azure ML hands out a container SAS URL for the code upload; storage
    refuses the upload (403, `x-ms-error-code: AuthorizationFailure`, as behind a storage firewall): the
    error is typed (`PermissionDeniedError`, naming the Storage Blob Data Contributor role or the error
    code) and the signature appears nowhere."""
    from mlops_sdk.models.training import TrainingJob

    caplog.set_level(logging.DEBUG)
    signature = "Q2FuYXJ5U2FzU2lnbmF0dXJlMDEyMzQ1Njc4OQ%3D%3D"
    world["aml"].code_container_url = lambda container: (
        f"{service.url}/blob/{container}?sv=2021-08-06&sr=c&sp=racwl&se=2030-01-01T00%3A00%3A00Z&sig={signature}"
    )
    service.inject(
        Fault(
            "PUT",
            r"^/blob/",
            status=403,
            times=50,
            headers={"x-ms-error-code": "AuthorizationFailure"},
            body={"error": {"code": "AuthorizationFailure", "message": "This request is not authorized."}},
        )
    )
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    job = TrainingJob(code=str(code), command="python train.py", environment="azureml:sklearn-env:1")
    settings = _settings(service, ca_bundle, retry_max_attempts=1)
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
        pytest.raises(MlopsError) as caught,
    ):
        hub.training.begin_train(job, idempotency_key="sas-canary-1")
    assert service.requests_to("PUT", r"^/blob/"), "the upload was attempted"
    assert service.requests_to("PUT", r"/jobs/") == []  # no job without its code
    assert isinstance(caught.value, PermissionDeniedError), repr(caught.value)
    texts = _error_texts(caught.value) + _record_texts(caplog.records)
    assert _leaks(texts, signature, signature.replace("%3D", "=")) == []


def test_a_misspelt_pipeline_lists_every_page_of_the_factory_s_pipelines(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """errors.md: `ResourceNotFoundError` "lists what exists where that is cheap"; data-factory.md: pipelines
    are published in the factory. A factory with more pipelines than one page (`nextLink`) and a 429 on the
    listing: the error for a misspelt pipeline still knows every pipeline, and nothing was started."""
    adf = world["adf"]
    adf.page_size = 20
    for number in range(45):
        adf.add_pipeline(f"p{number:03d}", parameters={})
    service.inject(Fault("GET", r"/factories/[^/]+/pipelines$", status=429, headers={"Retry-After": "2"}))
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub,
        pytest.raises(ResourceNotFoundError) as caught,
    ):
        hub.data_factory.begin_refresh("refrsh")
    assert len(caught.value.details["known"]) == 46
    assert "refresh" in caught.value.details["known"]
    assert len(service.requests_to("GET", r"/factories/[^/]+/pipelines$")) == 1 + 3  # the 429, then 3 pages
    assert 2.0 in clock.sleeps
    assert service.requests_to("POST", r"/createRun$") == []


# -- mlops doctor on a corporate network ---------------------------------------------------------------


@pytest.mark.parametrize("problem", ["wrong-ca", "dead-proxy", "missing-ca"])
def test_doctor_names_the_network_setting_to_fix(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    problem: str,
) -> None:
    """azure-setup.md: "`mlops -p prod doctor`: it checks the extras, obtains a token and GETs the workspace,
    and prints a fix for each failure"; a request that never reached the service names "the setting to
    change" (`ca_bundle`, `proxy`). Behind a TLS-inspecting proxy whose CA is not configured, or with a
    proxy that is down, the fix names that setting, not `az login`; a `ca_bundle` that does not exist
    is its own failed check naming `ca_bundle`, not a bad target. The client secret is never printed."""
    _client_secret_env(monkeypatch)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    environment = {
        "MLOPS_TARGET": TARGET,
        "MLOPS_CLOUD": "CorpCloud",
        "MLOPS_RESOURCE_MANAGER_URL": service.url,
        "MLOPS_AUTHORITY_URL": service.url,
        "MLOPS_CREDENTIAL": "client_secret",
        "MLOPS_CA_BUNDLE": {"wrong-ca": str(other), "dead-proxy": str(ca_bundle)}.get(problem, "/no/such/ca.pem"),
    }
    if problem == "dead-proxy":
        environment["MLOPS_PROXY"] = "http://127.0.0.1:9"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert mlops(["-o", "json", "doctor"]) == 1
    out, err = capsys.readouterr()
    checks = {check["check"]: check for check in json.loads(out)}
    assert checks["target"]["ok"]
    failed = [check for check in checks.values() if not check["ok"]]
    assert len(failed) == 1, failed
    expected = {"wrong-ca": ("credential", "'ca_bundle'"), "dead-proxy": ("credential", "'proxy'")}
    name, setting = expected.get(problem, ("ca_bundle", "'ca_bundle'"))
    assert failed[0]["check"] == name
    assert setting in failed[0]["fix"], failed[0]
    assert "az login" not in failed[0]["fix"]
    assert service.requests_to("GET", r"/workspaces/") == []
    assert _leaks([out, err], CLIENT_SECRET) == []


# -- federated credentials of CI runners ----------------------------------------------------------------


def test_azure_pipelines_federated_credential_is_chosen_and_fetched_per_request_through_the_proxy(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """azure-setup.md "Credentials": `credential = "auto"` picks first "Azure Pipelines service connection
    with workload identity federation (`AzurePipelinesCredential`; ... tokens are fetched per request, so
    jobs longer than the federated token's 10 minutes keep working)"; the HTTP configuration reaches "the
    azure-identity credentials (token requests)". In an Azure Pipelines job (the `AZURESUBSCRIPTION_*` and
    `SYSTEM_*` variables of an AzureCLI@2 step), each new Entra token is exchanged for a fresh OIDC token of
    the service connection, both through the corporate proxy; the job's access token and the OIDC tokens
    appear in no log record."""
    caplog.set_level(logging.DEBUG)
    devops, tokens = world["devops"], world["tokens"]
    job_token = "job-system-access-token-canary-0123456789"
    devops.add_user(job_token, "Project Collection Build Service")
    tokens.expires_in = 0  # expired at once: every request needs a new access token
    for name, value in {
        "SYSTEM_OIDCREQUESTURI": devops.oidc_request_uri(),
        "SYSTEM_ACCESSTOKEN": job_token,
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc-mlops-ci",
        "AZURESUBSCRIPTION_CLIENT_ID": "ci-app",
        "AZURESUBSCRIPTION_TENANT_ID": "corp-tenant",
    }.items():
        monkeypatch.setenv(name, value)
    with connect_proxy() as proxy:
        settings = _settings(service, ca_bundle, proxy=proxy.url)
        with MLOpsClient(TARGET, clock=clock, **settings) as hub:  # credential = "auto"
            assert hub.models.get("diabetes", "1").version == "1"
            assert hub.data_factory.begin_refresh("refresh").result().status is Status.SUCCEEDED
    oidc = service.requests_to("POST", r"/oidctoken$")
    assert len(oidc) >= 2, "a new federated token for each new access token"
    assert {request.query["serviceConnectionId"] for request in oidc} == {"sc-mlops-ci"}
    assert {request.headers["authorization"] for request in oidc} == {f"Bearer {job_token}"}
    assertions = [grant["client_assertion"] for grant in tokens.grants]
    assert assertions == devops.oidc_tokens  # each token request used the OIDC token fetched for it
    assert {grant["client_id"] for grant in tokens.grants} == {"ci-app"}
    assert proxy.tunnels_to(service.url) >= 2
    assert _leaks(_record_texts(caplog.records), job_token, *devops.oidc_tokens) == []


def test_workload_identity_is_chosen_from_the_token_file_and_signs_in_at_the_custom_authority(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """azure-setup.md "Credentials": `auto` picks "Workload identity (`AZURE_FEDERATED_TOKEN_FILE`): GitHub
    Actions after `azure/login` with OIDC, AKS"; "Sign-in and custom authorities": with a custom
    `authority_url` sign-in "goes only to `<authority_url>/<tenant>/v2.0/.well-known/openid-configuration`
    and its token endpoint". The federated token from the file is the client assertion of every token
    request, through the configured proxy, and never logged."""
    caplog.set_level(logging.DEBUG)
    tokens = world["tokens"]
    tokens.expires_in = 0  # every request needs a new access token
    token_file = tmp_path / "federated-token"
    federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmNvbnRvc28vbWwifQ.c2lnbmF0dXJlLWZpcnN0"
    token_file.write_text(federated)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_CLIENT_ID", "gh-app")
    monkeypatch.setenv("AZURE_TENANT_ID", "corp-tenant")
    settings = _settings(service, ca_bundle)
    with connect_proxy() as proxy, MLOpsClient(TARGET, clock=clock, **settings, proxy=proxy.url) as hub:
        assert hub.models.get("diabetes", "1").version == "1"
        assert hub.data_factory.get_pipeline("refresh").name == "refresh"
    assert len(tokens.grants) >= 2
    assert {grant["client_assertion"] for grant in tokens.grants} == {federated}
    assert {grant["client_id"] for grant in tokens.grants} == {"gh-app"}
    assert proxy.refused == []  # no instance discovery at login.microsoftonline.com
    assert proxy.tunnels_to(service.url) >= 2
    sign_in = [r.path for r in service.requests if not r.path.startswith(("/subscriptions/", "/fabrikam/"))]
    assert set(sign_in) <= {"/corp-tenant/v2.0/.well-known/openid-configuration", "/corp-tenant/oauth2/v2.0/token"}
    assert _leaks(_record_texts(caplog.records), federated) == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttled_token_request_is_retried_honouring_retry_after(
    world: dict[str, Any],
    service: FakeService,
    ca_bundle: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    """errors.md "Retry policy": 429 and 503 are retried, `Retry-After` honoured; azure-setup.md: a throttled
    or failing answer of the sign-in service is retried by azure-identity itself, honouring `Retry-After`.
    Microsoft Entra throttles the token request (AADSTS50196-style 429, or a 503 during an incident) with
    `Retry-After: 1`: the call that needed the token succeeds, the token request sent twice."""
    _client_secret_env(monkeypatch)
    service.inject(
        Fault(
            "POST",
            r"/oauth2/v2\.0/token$",
            status=status,
            headers={"Retry-After": "1"},
            body={"error": "temporarily_unavailable", "error_description": "AADSTS50196: throttled"},
        )
    )
    settings = _settings(service, ca_bundle)
    with MLOpsClient(TARGET, clock=clock, credential="client_secret", **settings) as hub:
        assert hub.models.get("diabetes", "1").version == "1"
    assert len(service.requests_to("POST", r"/oauth2/v2\.0/token$")) == 2


# -- endpoint settings that cannot work are refused naming the key --------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"cloud": "CorpCloud"}, "cloud"),
        (
            {"cloud": "CorpCloud", "resource_manager_url": "management.corp.example", "authority_url": "https://l/"},
            "resource_manager_url",
        ),
        (
            {
                "cloud": "CorpCloud",
                "resource_manager_url": "http://management.corp.example",
                "authority_url": "https://l/",
            },
            "resource_manager_url",
        ),
        (
            {"cloud": "CorpCloud", "resource_manager_url": "https://m/", "authority_url": "login.corp.example"},
            "authority_url",
        ),
        ({"storage_suffix": "https://core.chinacloudapi.cn/"}, "storage_suffix"),
        ({"proxy": "proxy.corp.example:3128"}, "proxy"),
    ],
)
def test_endpoint_settings_that_cannot_work_are_refused_naming_the_key(
    service: FakeService, clock: FakeClock, settings: dict[str, str], key: str
) -> None:
    """azure-setup.md: "A custom `cloud` name needs `resource_manager_url` and `authority_url`", `proxy` is "an
    `http://host:port` proxy", `storage_suffix` "the blob suffix (`core.windows.net`, ...)"; configuration.md:
    a bad value from an argument "names the setting and where it came from". A scheme-less Resource Manager
    URL used to fail as a TLS problem ("set 'ca_bundle'"): each is a `ConfigurationError` naming the key,
    before any request."""
    with (
        pytest.raises(ConfigurationError) as caught,
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
    ):
        hub.models.get("diabetes", "1")
    assert key in caught.value.message, caught.value.message
    assert "ca_bundle" not in caught.value.message
    assert service.requests == []


def test_ssl_cert_file_is_not_read_and_the_error_names_ca_bundle(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-setup.md: with no `ca_bundle`, `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` apply, "else the `certifi`
    package's CA list ... neither the operating system's trust store nor `SSL_CERT_FILE`". A corporate
    laptop whose CA is only in `SSL_CERT_FILE` gets a `ServiceRequestError` that says to set `ca_bundle`."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
    settings = _settings(service, None, retry_max_attempts=1)
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
        pytest.raises(ServiceRequestError) as caught,
    ):
        hub.models.get("diabetes", "1")
    assert "'ca_bundle'" in caught.value.message
    assert service.requests == []


def test_a_throttled_pipeline_start_without_a_key_is_retried_since_nothing_started(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """pipelines.md: "Without a key, a retryable failure is reported instead of retried" — because a lost
    answer may hide a started run; errors.md: the SDK looks work up only "after an answer that leaves it open
    whether the work started (dropped connection, timeout, 5xx)", and 429 is "retried". A 429 leaves nothing
    open (Azure DevOps refused the request): the start is retried after its `Retry-After` and one run exists."""
    service.inject(
        Fault(
            "POST",
            r"/_apis/pipelines/42/runs$",
            status=429,
            headers={"Retry-After": "6"},
            body={"message": "TF400733: The request has been throttled.", "typeKey": "RequestBlockedException"},
        )
    )
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        assert hub.pipelines.begin_run(42).id == "101"
    assert len(service.requests_to("POST", r"/_apis/pipelines/42/runs$")) == 2
    assert len(world["devops"].runs) == 1
    assert 6.0 in clock.sleeps


def test_a_dropped_pipeline_start_without_a_key_is_still_reported_not_retried(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """pipelines.md: "Without a key, a retryable failure is reported instead of retried": an answer lost after
    Azure DevOps started the run must not start a second one."""
    service.inject(Fault("POST", r"/_apis/pipelines/42/runs$", drop=True, after_handler=True))
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub,
        pytest.raises(ConfigurationError, match="idempotency_key"),
    ):
        hub.pipelines.begin_run(42)
    assert len(service.requests_to("POST", r"/_apis/pipelines/42/runs$")) == 1
    assert len(world["devops"].runs) == 1


def test_a_wrong_devops_pat_is_an_authentication_error_naming_devops_pat_without_the_pat(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """pipelines.md "Authentication": `devops_pat`, else ...; errors.md: `AuthenticationError` for 401, not
    retried, a message "that says what to do next", secrets never in `str`/`repr`/`to_dict()`. An expired PAT
    is refused by Azure DevOps (TF400813): the error names `devops_pat`, the start is not repeated, and
    neither the PAT nor its Basic-auth form appears in the error."""
    expired = "expired-devops-pat-canary-9876543210"
    basic = base64.b64encode(f":{expired}".encode()).decode()
    settings = _settings(service, ca_bundle, devops_pat=expired)
    with (
        MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **settings) as hub,
        pytest.raises(AuthenticationError) as caught,
    ):
        hub.pipelines.begin_run(42, idempotency_key="expired-pat")
    assert caught.value.status_code == 401
    assert "devops_pat" in caught.value.message
    assert _leaks(_error_texts(caught.value), expired, basic) == []
    assert len(service.requests_to("POST", r"/_apis/pipelines/42/runs$")) == 1
    assert world["devops"].runs == {}


def test_a_new_endpoint_answered_with_arm_s_nested_not_found_is_created_not_blamed_on_the_target(
    world: dict[str, Any], service: FakeService, ca_bundle: Path, clock: FakeClock
) -> None:
    """errors.md: a 404 "about the target itself" names the setting, and "is never read as 'this model /
    endpoint / run does not exist yet'" — nor the reverse: Resource Manager answers a missing online endpoint
    with `ResourceNotFound` naming `Microsoft.MachineLearningServices/workspaces/<ws>/onlineEndpoints/<e>`,
    which is the endpoint missing (so the rollout creates it), not the workspace."""
    nested = (
        f"The Resource 'Microsoft.MachineLearningServices/workspaces/{WS}/onlineEndpoints/churn' under resource "
        f"group '{RG}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )
    answer = {"error": {"code": "ResourceNotFound", "message": nested}}
    service.inject(Fault("GET", r"/onlineEndpoints/churn$", status=404, body=answer))
    with MLOpsClient(TARGET, credential=StaticTokenCredential(), clock=clock, **_settings(service, ca_bundle)) as hub:
        _deployed(hub, service)
        assert hub.deployments.invoke("churn", PAYLOAD) == [1.0, 1.0]
    assert service.requests_to("PUT", r"/onlineEndpoints/churn$")


# -- approvals on Azure DevOps: the wait survives throttling ---------------------------------------------


def test_waiting_for_an_azure_devops_approval_rides_out_throttling(
    tls_ca: Any, ca_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """approvals.md (Azure DevOps environment approvals) and errors.md "Retry policy" (429 retried,
    `Retry-After` honoured, 5xx retried, on the client's clock). While `begin_wait` follows a release
    manager's approval, Azure DevOps throttles the raw approvals query (429, `Retry-After: 9`) and answers
    the build timeline with a 503 carrying its wrapped-exception body: the wait goes on and returns the
    approval, and the PATs appear in no log record."""
    from datetime import datetime, timedelta, timezone

    from mlops_sdk.models.approvals import ApprovalStatus
    from tests.azure.test_approvals import ALICE, BOB, CAROL, PASSED, PATS, POLICY, client_as, model
    from tests.fakes.devops import identity

    caplog.set_level(logging.DEBUG)
    service = FakeService(tls_ca).start()
    try:
        devops = FakeDevOps(service)
        for email, pat in PATS.items():
            devops.add_user(pat, email, email.split("@")[0].title())
        devops.check_approvers = [identity(ALICE, "Alice"), identity(BOB, "Bob")]
        clock = FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))
        with client_as(devops, ca_bundle, clock, CAROL) as carol:
            request = carol.request(model(), policy=POLICY, report=PASSED)
            devops.act(devops.runs[101].approval_ids[0], identity(ALICE, "Alice"), "approved", "metrics hold")
            service.inject(Fault("GET", r"/_apis/pipelines/approvals$", status=429, headers={"Retry-After": "9"}))
            wrapped = {"message": "TF400898: An Internal Error Occurred.", "typeKey": "VssServiceUnavailableException"}
            service.inject(Fault("GET", r"/build/builds/101/Timeline", status=503, body=wrapped))
            before = len(clock.sleeps)
            decision = carol.begin_wait(request.id, show_progress=False).result()
    finally:
        service.stop()
    assert decision.status == ApprovalStatus.APPROVED
    assert decision.approved
    assert 9.0 in clock.sleeps[before:]
    assert _leaks(_record_texts(caplog.records), *PATS.values()) == []
