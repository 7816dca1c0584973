"""The approval conformance suites on Azure: the REAL azure-devops client over loopback TLS to the DevOps fake.

Votes are cast as the user whose PAT the client holds; the fake's approval check is assigned to that
user and to the names the scenarios list, so the policy (applied by the SDK on both backends) decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.devops")

from mlops_sdk import MLOpsClient
from mlops_sdk.core.clock import Clock
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import ConformanceBackend
from tests.conformance.test_azure import AZURE_UNSUPPORTED
from tests.fakes.credential import StaticTokenCredential
from tests.fakes.devops import PIPELINE_ID, FakeDevOps, identity
from tests.fakes.server import FakeService

pytestmark = pytest.mark.azure

TARGET = "azureml://subscriptions/sub-1/resourceGroups/rg-1/workspaces/ws-1"
ME, PAT = "carol@contoso.com", "carol-pat-0123456789"
APPROVALS = ("approvals.policy", "approvals.timeout")


@pytest.fixture
def devops(tls_ca: Any, ca_bundle: Path) -> Iterator[FakeDevOps]:
    service = FakeService(tls_ca).start()
    fake = FakeDevOps(service)
    fake.add_user(PAT, ME, "Carol")
    fake.check_approvers = [identity(ME, "Carol"), identity("alice", "Alice"), identity("bob", "Bob")]
    yield fake
    service.stop()


@pytest.fixture
def conformance_clock() -> Any:
    from mlops_sdk.testing import FakeClock

    # The fake stamps approvals with real time: start the fake clock just before now.
    return FakeClock(start=datetime.now(timezone.utc) - timedelta(seconds=5))


@pytest.fixture
def conformance_backend(devops: FakeDevOps, ca_bundle: Path) -> ConformanceBackend:
    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient(
            TARGET,
            credential=StaticTokenCredential(),
            clock=clock,
            devops=devops.project_url,
            approval_pipeline=PIPELINE_ID,
            ca_bundle=str(ca_bundle),
            devops_pat=PAT,
            show_progress=False,
        )

    unsupported = {name: reason for name, reason in AZURE_UNSUPPORTED.items() if name not in APPROVALS}
    unsupported.update(
        {
            "approvals.delegation": (
                "Azure DevOps records a vote for the caller's own identity: a vote on behalf of someone else "
                "cannot be cast there (that person approves with their own credentials)"
            ),
            "approvals.audit": (
                "no local audit trail: Azure DevOps keeps the approval history (run checks, organization audit log)"
            ),
            "models.registry": "covered by test_azure.py (the Azure ML fake is not started here)",
            "models.aliases": "covered by test_azure.py (the Azure ML fake is not started here)",
        }
    )
    return ConformanceBackend(
        name="azure-devops", make_client=make_client, supports=frozenset(APPROVALS), unsupported=unsupported
    )
