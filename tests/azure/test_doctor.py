"""`mlops doctor` against an Azure target: token, then the workspace GET on a loopback ARM fake."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("azure.identity")

from mlops_sdk.backends.azure import AzureBackend
from mlops_sdk.core.config import load_config
from mlops_sdk.core.targets import AzureMLTarget
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.server import FakeService, Response

WS = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
TARGET = "azureml://subscriptions/sub-1/resourceGroups/rg-1/workspaces/ws-1"


@pytest.fixture
def arm(tls_ca: object) -> FakeService:
    service = FakeService(tls_ca).start()  # type: ignore[arg-type]
    yield service  # type: ignore[misc]
    service.stop()


def _backend(arm: FakeService, ca_bundle: Path, credential: StaticTokenCredential) -> AzureBackend:
    settings = {
        "target": TARGET,
        "cloud": "LoopbackDoctor",
        "resource_manager_url": arm.url + "/",
        "authority_url": arm.url + "/",
        "ca_bundle": str(ca_bundle),
    }
    config = load_config(settings)
    return AzureBackend(AzureMLTarget.parse(TARGET), config, credential=credential)


def test_doctor_reaches_the_workspace(arm: FakeService, ca_bundle: Path) -> None:
    arm.route("GET", WS, lambda request, match: Response(200, {"name": "ws-1", "properties": {}}))
    credential = StaticTokenCredential()
    checks = {check.name: check for check in _backend(arm, ca_bundle, credential).doctor()}
    assert checks["credential"].ok
    assert checks["workspace"].ok, checks["workspace"].detail
    (request,) = arm.requests_to("GET", "/workspaces/ws-1")
    assert request.api_version == "2025-12-01"
    assert request.headers["authorization"] == f"Bearer {credential.token}"
    assert credential.scopes == [arm.url + "/.default"] * len(credential.scopes)


def test_doctor_explains_a_missing_role(arm: FakeService, ca_bundle: Path) -> None:
    arm.route("GET", WS, lambda request, match: Response(403, {"error": {"code": "AuthorizationFailed"}}))
    checks = {check.name: check for check in _backend(arm, ca_bundle, StaticTokenCredential()).doctor()}
    assert not checks["workspace"].ok
    assert "HTTP 403" in checks["workspace"].detail
    assert "AzureML Data Scientist" in (checks["workspace"].fix or "")


def test_doctor_sums_up_a_default_credential_failure_in_one_line(
    arm: FakeService, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd, pwsh on this machine's PATH
    settings = {
        "target": TARGET,
        "credential": "default",
    }
    backend = AzureBackend(AzureMLTarget.parse(TARGET), load_config(settings))
    checks = {check.name: check for check in backend.doctor()}
    credential = checks["credential"]
    assert not credential.ok
    assert "\n" not in credential.detail
    assert "DefaultAzureCredential found no usable credential; tried: EnvironmentCredential (" in credential.detail
    assert credential.fix is not None
    assert "az login" in credential.fix
    assert arm.requests == []
