"""Requests the Azure backend sends: per refresh, per poll cycle of 200 runs, per rollout step — now vs before.

Every number is a count of HTTP requests the loopback fakes in tests/fakes received from the REAL
azure-mgmt-datafactory / azure-ai-ml clients (fake clock: nothing really sleeps). Each scenario runs
twice in a fresh process: once with this checkout's ``src`` and once with the SDK as it was at commit
``566b69b`` (extracted with ``git archive``; the same fakes serve both), so the "before" column is the
previous code itself, not a model of it.

Scenarios:
* refresh (happy path): ``begin_refresh(...).result()`` on a pipeline with 0 and with 500 runs in the
  last 7 days (the previous code paged through them, 100 per page, to look the key up);
* wait_all: 200 runs (4 pipelines, 10 of them failing), requests per poll cycle and at the end;
* rollout: a BlueGreen 10 -> 50 -> 100 % rollout of a second deployment, endpoint requests per step.

Run from the repository root:  python benchmarks/azure_request_budget.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "566b69b"
RUNS, FAILING = 200, 10
HISTORY = 500


# -- measurements (run in a child process with the SDK under test on PYTHONPATH) --------------------------


def _kind(method: str, path: str) -> str:
    tail = path.rsplit("/", 1)[-1]
    if "/onlineEndpoints/" in path:
        if "/deployments/" in path:
            return f"{method} deployment"
        return f"{method} endpoint" if tail != "listKeys" else "POST listKeys"
    if path.startswith("/operations/") or path.startswith("/locations/"):
        return "GET LRO status"
    return f"{method} {'{id}' if re.fullmatch(r'[0-9a-f-]{36}', tail) else tail}"


def _adf(clock: Any, ca: Any, bundle: Path) -> tuple[Any, Any, Any]:
    from tests.fakes.credential import StaticTokenCredential
    from tests.fakes.data_factory import FakeDataFactory
    from tests.fakes.server import FakeService

    from mlops_sdk.clients.data_factory import DataFactoryClient

    service = FakeService(ca).start()
    fake = FakeDataFactory(service, clock)
    client = DataFactoryClient(
        "azureml://subscriptions/s/resourceGroups/rg/workspaces/ws",
        credential=StaticTokenCredential(),
        clock=clock,
        settings={
            "resource_manager_url": service.url,
            "ca_bundle": str(bundle),
            "data_factory": "factory",
            "show_progress": False,
            "poll_interval": 1.0,
            "poll_max_interval": 15.0,
        },
    )
    return service, fake, client


def _refresh(history: int, ca: Any, bundle: Path) -> dict[str, int]:
    from tests.fakes.data_factory import RunPlan

    from mlops_sdk.testing import FakeClock

    clock = FakeClock()
    service, fake, client = _adf(clock, ca, bundle)
    try:
        fake.add_pipeline("features", plan=RunPlan(states=[("Queued", 2.0), ("InProgress", 20.0), ("Succeeded", 0)]))
        fake.seed_runs("features", history)  # the pipeline's recent past: finished runs of other keys
        clock.advance(60)
        before = len(service.requests)
        client.begin_refresh("features").result()
        return dict(Counter(_kind(r.method, r.path) for r in service.requests[before:]))
    finally:
        client.close()
        service.stop()


def _wait_all(ca: Any, bundle: Path) -> dict[str, Any]:
    from tests.fakes.data_factory import RunPlan, failing_plan

    from mlops_sdk.testing import FakeClock

    clock = FakeClock()
    service, fake, client = _adf(clock, ca, bundle)
    try:
        durations = {"sales": 20.0, "stores": 40.0, "features": 60.0, "scoring": 90.0}
        for name, seconds in durations.items():
            fake.add_pipeline(name, plan=RunPlan(states=[("Queued", 5.0), ("InProgress", seconds), ("Succeeded", 0)]))
        fake.add_pipeline("broken", plan=failing_plan())
        names = list(durations)
        operations = [
            client.begin_refresh("broken" if i < FAILING else names[i % len(names)], idempotency_key=f"k{i}")
            for i in range(RUNS)
        ]
        before, sleeps = len(service.requests), len(clock.sleeps)
        client.wait_all(operations)
        monitoring = [_kind(r.method, r.path) for r in service.requests[before:]]
        counts = Counter(monitoring)
        cycles = len(clock.sleeps) - sleeps + 1
        return {"cycles": cycles, "total": len(monitoring), **counts}
    finally:
        client.close()
        service.stop()


def _rollout(ca: Any, bundle: Path) -> dict[str, Any]:
    from tests.fakes.azureml import FakeAzureML
    from tests.fakes.azureml_endpoints import FakeOnlineEndpoints
    from tests.fakes.credential import StaticTokenCredential
    from tests.fakes.server import FakeService

    from mlops_sdk import MLOpsClient
    from mlops_sdk.models.deployments import BlueGreen, Replace
    from mlops_sdk.models.registry import ModelVersion
    from mlops_sdk.testing import FakeClock

    sub, rg, ws = "00000000-1111-2222-3333-444444444444", "test-rg", "my-aml-workspace"
    service = FakeService(ca).start()
    aml = FakeAzureML(service, sub, rg, ws)
    for number in ("1", "2"):
        aml.add_model_version("diabetes", number)
    FakeOnlineEndpoints(service, aml.ws)
    try:
        with MLOpsClient(
            f"azureml://subscriptions/{sub}/resourceGroups/{rg}/workspaces/{ws}",
            credential=StaticTokenCredential(),
            clock=FakeClock(),
            cloud="MlopsBenchCloud",
            resource_manager_url=service.url,
            authority_url=service.url,
            ca_bundle=str(bundle),
            show_progress=False,
        ) as client:
            blue = ModelVersion(name="diabetes", version="1", uri="azureml:diabetes:1")
            green = ModelVersion(name="diabetes", version="2", uri="azureml:diabetes:2")
            client.deployments.begin_deploy(blue, endpoint="churn", deployment="blue", strategy=Replace()).result()
            before = len(service.requests)
            result = client.deployments.begin_deploy(
                green, endpoint="churn", deployment="green", strategy=BlueGreen(steps=[10, 50, 100])
            ).result()
            assert result.succeeded
            sent = [_kind(r.method, r.path) for r in service.requests[before:]]
            traffic_puts = [
                (r.json or {}).get("properties", {}).get("traffic")
                for r in service.requests[before:]
                if r.method == "PUT" and r.path.endswith("/onlineEndpoints/churn")
            ]
            return {"steps": 3, "total": len(sent), "traffic_maps": traffic_puts, **Counter(sent)}
    finally:
        service.stop()


def measure(output: Path) -> None:
    """Child process: run every scenario against the SDK on PYTHONPATH, write JSON to ``output``."""
    import trustme
    from tests.fakes.server import write_ca

    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as folder:
        bundle = write_ca(ca, Path(folder))
        results = {
            "refresh_empty": _refresh(0, ca, bundle),
            "refresh_history": _refresh(HISTORY, ca, bundle),
            "wait_all": _wait_all(ca, bundle),
            "rollout": _rollout(ca, bundle),
        }
    output.write_text(json.dumps(results), encoding="utf-8")


# -- driver ------------------------------------------------------------------------------------------------


def _run(src: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "result.json"
        done = subprocess.run(
            [sys.executable, __file__, "--measure", str(output)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"measuring {src} failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return result


def _previous_src(folder: Path) -> Path | None:
    archive = folder / "before.tar"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "-o", str(archive), BEFORE, "src"], capture_output=True, check=False
    )
    if done.returncode != 0:
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "before", filter="data")
    return folder / "before" / "src"


def _row(label: str, now: Any, before: Any) -> None:
    before_text = "n/a" if before is None else f"{before:g}" if isinstance(before, (int, float)) else str(before)
    now_text = f"{now:g}" if isinstance(now, (int, float)) else str(now)
    print(f"  {label:<58} {before_text:>10} {now_text:>10}")


def main() -> None:
    """Measure both versions and print them side by side."""
    now = _run(ROOT / "src")
    with tempfile.TemporaryDirectory() as folder:
        src = _previous_src(Path(folder))
        before = _run(src) if src is not None else None
    if before is None:
        print(f"(commit {BEFORE} is not in this clone: the 'before' column is empty)")

    def get(data: dict[str, Any] | None, scenario: str, key: str) -> Any:
        return None if data is None else data[scenario].get(key, 0)

    print(f"Azure request budget (requests received by the fakes; before = {BEFORE}, now = this checkout)")
    print(f"  {'':<58} {'before':>10} {'now':>10}")
    for scenario, title in (("refresh_empty", "no earlier runs"), ("refresh_history", f"{HISTORY} runs in 7 days")):
        print(f"refresh, happy path, pipeline with {title}:")
        for key in ("GET features", "POST queryPipelineRuns", "POST createRun", "GET {id}", "POST queryActivityruns"):
            _row(key, get(now, scenario, key), get(before, scenario, key))
        _row("total", sum(now[scenario].values()), None if before is None else sum(before[scenario].values()))
    print(f"wait_all, {RUNS} runs ({FAILING} fail), 4+1 pipelines:")
    for key in ("cycles", "POST queryPipelineRuns", "GET {id}", "POST queryActivityruns", "total"):
        _row(key, get(now, "wait_all", key), get(before, "wait_all", key))
    for data, label in ((before, "before"), (now, "now")):
        if data is not None:
            wait = data["wait_all"]
            per_cycle = wait["POST queryPipelineRuns"] / wait["cycles"]
            print(f"  {label}: {per_cycle:.2f} status requests per poll cycle, {wait['total']} requests in all")
    print("rollout, BlueGreen 10 -> 50 -> 100 % of a second deployment (no smoke test):")
    for key in ("PUT endpoint", "GET endpoint", "PUT deployment", "GET deployment", "GET LRO status", "total"):
        _row(key, get(now, "rollout", key), get(before, "rollout", key))
    for data, label in ((before, "before"), (now, "now")):
        if data is not None:
            rollout = data["rollout"]
            print(
                f"  {label}: {rollout['PUT endpoint'] / rollout['steps']:.2f} endpoint PUTs per step; "
                f"traffic maps PUT: {rollout['traffic_maps']}"
            )


if __name__ == "__main__":
    if "--measure" in sys.argv:
        measure(Path(sys.argv[sys.argv.index("--measure") + 1]))
    else:
        main()
