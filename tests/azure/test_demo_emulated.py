"""The demo's whole loop on emulated Azure, then under random faults (issue 13, "Must show").

examples/diabetes/demo.py runs in a child process with only configuration changed (an ``mlops.toml``
``prod`` profile and environment variables): refresh -> train -> register -> validate vs champion ->
approval in Azure DevOps -> blue/green with smoke tests -> score, through the real azure-identity,
azure-mgmt-datafactory, azure-ai-ml, azure-storage-blob and azure-devops clients, against
:mod:`tests.fakes.emulated_azure` (token endpoint, Resource Manager, Data Factory, Azure ML, DevOps,
Azurite). Nothing in the child is patched. The tests assert on what the services hold afterwards and
on the requests they received, and print the requests per service.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.azurite import Azurite, AzuriteUnavailableError, run_azurite
from tests.fakes.emulated_azure import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEVOPS_SCOPE_PREFIX,
    PIPELINE,
    RELEASE_MANAGER,
    EmulatedAzure,
    run_demo,
)
from tests.fakes.server import Request

pytestmark = [pytest.mark.azure, pytest.mark.slow]

ROUNDS = 1  # CI: one round (< 90 s here); `nox -s demo_azure_emulated` runs both rounds
ARM_SCOPE_TOKEN = re.compile(r"^Bearer emulated-token-[0-9a-f]{24}$")


@pytest.fixture(scope="module")
def azurite(tls_ca: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for both runs (each emulation starts from empty containers)."""
    pytest.importorskip("azure.storage.blob")
    try:
        with run_azurite(tls_ca, tmp_path_factory.mktemp("azurite")) as server:
            yield server
    except AzuriteUnavailableError as error:
        pytest.skip(str(error))


def _one(items: list[Request], what: str) -> Request:
    assert len(items) == 1, f"{what}: {[(r.method, r.path) for r in items]}"
    return items[0]


def _check_the_loop(azure: EmulatedAzure, out: str, *, faults: bool = False) -> None:
    """What the services hold after one round, and the requests that made it so.

    Under faults a create may be sent twice (its first answer was lost or refused): what must hold is
    that the services hold exactly one of each thing.
    """
    assert "round 1: first model -> completed" in out, out
    assert "approval  approved" in out, out
    requests = azure.requests()

    # Sign-in: the real ClientSecretCredential, only at the configured authority, with the client's secret.
    tokens = [r for r in requests["login"] if r.method == "POST"]
    assert tokens
    assert all(f"client_id={CLIENT_ID}" in r.body.decode() for r in tokens)
    assert all(f"client_secret={CLIENT_SECRET}" in r.body.decode() for r in tokens)
    for service in ("azureml", "datafactory", "mlflow"):
        assert all(ARM_SCOPE_TOKEN.match(r.headers.get("authorization", "")) for r in requests[service]), service
    devops_token = azure.login.token_for(f"{DEVOPS_SCOPE_PREFIX}/.default")
    assert all(
        r.headers.get("authorization") == f"Bearer {devops_token}" for r in requests["devops"] if r.method != "OPTIONS"
    )

    # Refresh: one Data Factory run, which split the landed 300 rows into 240 training / 60 evaluation rows.
    runs = azure.factory.runs_of(PIPELINE)
    assert len(runs) == 1
    if not faults:
        _one([r for r in requests["datafactory"] if r.path.endswith("/createRun")], "createRun")
    assert runs[0]["status"] == "Succeeded"

    # Training: one job, which ran train.py from the code uploaded to Azurite on the refresh's snapshot.
    assert len(azure.aml.jobs) == 1
    job = next(iter(azure.aml.jobs))
    assert azure.aml.runs[job]["state"] == "Completed"
    puts = azure.arm.requests_to("PUT", rf"/jobs/{job}$")
    put = puts[-1] if faults else _one(puts, "job PUT")
    data = put.json["properties"]["inputs"]["data"]
    assert data["uri"].endswith(f"/{runs[0]['runId']}/train_set.parquet")
    assert azure.aml.plans[job].params["rows"] == "240"
    assert [r.path for r in requests["storage"] if r.method == "PUT" and r.path.endswith("/train.py")]

    # Registration and validation: one model version, whose files and evaluation data came from Azurite.
    versions = azure.aml.models["diabetes"]
    assert list(versions) == ["1"]
    assert versions["1"]["properties"]["modelUri"].endswith(f"/paths/azureml/{job}/model/")
    assert versions["1"]["properties"]["tags"]["mlops.validation.outcome"] == "promote"
    storage_reads = [r.path for r in requests["storage"] if r.method == "GET"]
    assert any(p.endswith("/eval_set.parquet") for p in storage_reads)
    assert any(f"/azureml/{job}/model/MLmodel" in p for p in storage_reads)

    # Approval: one run of the approval pipeline; the release manager's vote decided it.
    assert len(azure.devops.runs) == 1
    approval = next(iter(azure.devops.approvals.values()))
    assert approval["status"] == "approved"
    assert approval["steps"][0]["actualApprover"]["uniqueName"] == RELEASE_MANAGER

    # Deployment: one deployment, blue/green 10 -> 50 -> 100 %, smoke-tested before each step.
    deployments = azure.endpoints.deployments["diabetes"]
    assert list(deployments) == ["diabetes-v1"]
    assert azure.endpoints.endpoints["diabetes"]["properties"]["traffic"] == {"diabetes-v1": 100}
    scoring = [r for r in requests["scoring"] if r.method == "POST"]
    assert len(scoring) >= 4  # a smoke test per step, then the demo's own scoring
    assert "scores    [1.0, 1.0, 1.0]" in out


def test_demo_loop_on_emulated_azure(tmp_path: Path, tls_ca: Any, azurite: Azurite) -> None:
    with EmulatedAzure(tmp_path, ca=tls_ca, azurite=azurite) as azure:
        completed = run_demo(azure, tmp_path, rounds=ROUNDS, timeout=180)
        print(azure.report())
        assert completed.returncode == 0, completed.stdout + completed.stderr[-4000:]
        _check_the_loop(azure, completed.stdout)
        assert not azure.chaos.faults


@pytest.mark.soak  # about 190-255 s (61-84 faults): `nox -s soak` runs it, `nox -s demo_azure_emulated` prints it
def test_demo_loop_on_emulated_azure_under_random_faults(tmp_path: Path, tls_ca: Any, azurite: Azurite) -> None:
    with EmulatedAzure(tmp_path, ca=tls_ca, azurite=azurite, fault_rate=0.25, seed=13) as azure:
        completed = run_demo(azure, tmp_path, rounds=ROUNDS, timeout=300)
        print(azure.report())
        assert completed.returncode == 0, completed.stdout + completed.stderr[-4000:]
        kinds = Counter(kind for _, _, _, kind in azure.chaos.faults)
        assert set(kinds) == {"429", "503", "reset-before", "reset-after"}, kinds
        _check_the_loop(azure, completed.stdout, faults=True)
