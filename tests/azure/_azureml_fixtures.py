"""Shared fixtures for the Azure ML tests: the fake workspace and an MLOpsClient pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.testing import FakeClock
from tests.fakes.azureml import FakeAzureML
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.server import FakeService

SUB, RG, WS = "00000000-1111-2222-3333-444444444444", "test-rg", "my-aml-workspace"
TARGET = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/{WS}"


@pytest.fixture(name="aml")
def aml_fixture(tls_ca: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzureML]:
    # MLClient writes AZUREML_CURRENT_CLOUD into os.environ; monkeypatch restores the original.
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    service = FakeService(tls_ca).start()
    yield FakeAzureML(service, SUB, RG, WS)
    service.stop()


@pytest.fixture(name="hub")
def hub_fixture(aml: FakeAzureML, ca_bundle: Path, clock: FakeClock) -> Iterator[MLOpsClient]:
    with MLOpsClient(
        TARGET,
        credential=StaticTokenCredential(),
        clock=clock,
        cloud="MlopsFakeCloud",
        resource_manager_url=aml.service.url,
        authority_url=aml.service.url,
        ca_bundle=str(ca_bundle),
        show_progress=False,
    ) as client:
        yield client
