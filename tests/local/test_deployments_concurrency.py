"""Two rollouts to one endpoint at once (two pipelines deploying, a flow re-run next to a running one).

Before, each rollout wrote its traffic steps over the other's and both reported success: after
``blue`` (10 -> 50 -> 100 %) and ``green`` ran side by side the endpoint held
``{"blue": 100, "green": 0}`` while green's operation said it succeeded. Now a rollout checks, under
the endpoint's traffic lock, that the traffic is what it set last before every change: the one that
finds another's change stops with a ``ConflictError`` and leaves the traffic alone; the other one
completes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.models.deployments import Replace
from tests.local._deploy import Models, save_models

SRC = Path(__file__).resolve().parents[2] / "src"
ENDPOINT = "twin-ep"

ROLLOUT = """
import json, sys
from mlops_sdk import MLOpsClient
from mlops_sdk.errors import ConflictError
from mlops_sdk.models.deployments import BlueGreen
target, model, deployment, bake = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
with MLOpsClient(target, show_progress=False) as client:
    client.deployments.get_endpoint("twin-ep")  # connected and warm
    print("ready", flush=True)
    sys.stdin.readline()
    strategy = BlueGreen(steps=[10, 50, 100], bake_time=bake)
    try:
        operation = client.deployments.begin_deploy(model, endpoint="twin-ep", deployment=deployment, strategy=strategy)
        print(json.dumps({"succeeded": operation.result().succeeded}))
    except ConflictError as error:
        print(json.dumps({"conflict": error.message, "details": error.details}))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def store(tmp_path: Path, models: Models) -> Iterator[Path]:
    folder = tmp_path / "store"
    with MLOpsClient(f"local://{folder}", show_progress=False) as client:
        client.deployments.begin_deploy(models.a, endpoint=ENDPOINT, deployment="first", strategy=Replace()).result()
        yield folder
        client.deployments.stop_endpoint(ENDPOINT)


def _rollout(store: Path, model: Path, deployment: str, bake: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", ROLLOUT, f"local://{store}", str(model), deployment, str(bake)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", process.communicate()[1]
    return process


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def _answer(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err[-3000:]
    answer: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return answer


@pytest.mark.slow
def test_a_rollout_overtaken_by_another_stops_with_a_conflict_and_the_other_completes(
    store: Path, models: Models
) -> None:
    slow = _rollout(store, models.a, "blue", bake=4.0)  # 10 % -> 4 s -> 50 % -> 4 s -> 100 % -> 4 s
    fast = _rollout(store, models.b, "green", bake=0.0)
    _go(slow)
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        deadline = time.monotonic() + 120  # bounded wait for blue's first step
        while client.deployments.get_endpoint(ENDPOINT).traffic.get("blue", 0) == 0:
            assert time.monotonic() < deadline, slow.communicate()[1][-3000:]
            time.sleep(0.1)
        _go(fast)  # green rolls out while blue bakes at 10 %
        assert _answer(fast) == {"succeeded": True}
        blocked = _answer(slow)
        endpoint = client.deployments.get_endpoint(ENDPOINT)
        history = client.deployments.history(ENDPOINT)
    assert "conflict" in blocked, blocked
    assert f"the traffic of endpoint {ENDPOINT!r} changed while deploy-{ENDPOINT}-" in str(blocked["conflict"])
    assert blocked["details"]["expected"]["blue"] == 10  # type: ignore[index]
    assert endpoint.traffic == {"first": 0, "blue": 0, "green": 100}  # green's, untouched by blue
    failed = [entry for entry in history if entry.action == "failed" and entry.deployment == "blue"]
    assert len(failed) == 1
    assert "changed while" in (failed[0].reason or "")
    assert not any(entry.action == "rollback" and entry.deployment == "blue" for entry in history)
