"""Monitoring costs: scoring throughput with inference capture on vs off, and signals over a million rows.

1. One local endpoint server holds the same model twice: deployment ``plain`` (no capture) and
   ``captured`` (``Capture()``, batched durability). The load (1 row per request, 8 keep-alive
   connections, a fixed number of requests, tests/loadgen.py) is sent to one deployment at a time by the
   ``azureml-model-deployment`` header, alternating, several rounds; the best round of each counts.
   Goal (issue #16): capture costs at most 5 % of the throughput.
2. 1,000,000 captured rows x 10 numeric features (20 hourly Parquet parts, as the server writes them)
   against a 100,000-row baseline: ``client.monitoring.run`` with DataDrift (PSI, JS, Wasserstein, KS)
   and DataQuality, next to the same statistics with pandas + scipy (``read_parquet``, ``ks_2samp``,
   ``wasserstein_distance``, ``jensenshannon``). Goal: at most 3 s on the 2-core machine.

Run: ``python benchmarks/monitoring.py [--requests 4000] [--rounds 3] [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serving import make_model  # the serving benchmark's model

from mlops_sdk.backends.local.serving.process import EndpointServer

FEATURES = [f"f{i}" for i in range(10)]


def capture_throughput(folder: Path, total: int, rounds: int) -> dict[str, float]:
    import json

    model, columns, rows = make_model(folder)
    server = EndpointServer(folder / "store" / "endpoints" / "bench", "bench")
    server.create()
    info = server.start()
    try:
        server.admin("PUT", "deployments/plain", {"model_path": str(model)})
        server.admin("PUT", "deployments/captured", {"model_path": str(model), "metadata": {"capture": {}}})
        server.admin("PUT", "traffic", {"traffic": {"plain": 100}})
        key = server.keys()["primary_key"]
        body = json.dumps({"input_data": {"columns": columns, "data": rows[:1]}}).encode()
        best: dict[str, float] = {"plain": 0.0, "captured": 0.0}
        rates: dict[str, list[float]] = {"plain": [], "captured": []}
        for _ in range(rounds):
            for name in ("plain", "captured"):
                from tests.loadgen import LoadRun, build_request

                request = build_request(
                    "127.0.0.1", info.port, "/score", body, key=key, headers={"azureml-model-deployment": name}
                )
                LoadRun("127.0.0.1", info.port, [request], total=200, concurrency=8).run()
                run = LoadRun("127.0.0.1", info.port, [request], total=total, concurrency=8).run()
                summary = run.summary()
                best[name] = max(best[name], summary["rps"])
                rates[name].append(summary["rps"])
                rps, p50, p99 = summary["rps"], summary["p50_ms"], summary["p99_ms"]
                print(f"  {name:9s} {rps:8.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms")
        stats = server.admin("POST", "capture/flush")
        print(f"  capture: {stats['written']} rows written, {stats['dropped']} dropped, {stats['files']} files")
        import statistics

        plain, captured = statistics.median(rates["plain"]), statistics.median(rates["captured"])
        print(
            f"  median of the rounds: plain {plain:.0f} req/s, captured {captured:.0f} req/s: "
            f"capture costs {100 * (1 - captured / plain):.1f} %"
        )
        return best
    finally:
        server.stop()


def hook_cost(calls: int = 20000) -> tuple[float, float]:
    """Microseconds per request of the capture hook on the event loop: a deployment without capture (id
    only) vs one with ``Capture()`` (id + queue append), the writer draining every second meanwhile."""
    import asyncio
    from types import SimpleNamespace

    from mlops_sdk.backends.local.serving.capture import CaptureHub
    from mlops_sdk.backends.local.serving.payloads import Batch

    with tempfile.TemporaryDirectory() as folder:
        hub = CaptureHub(Path(folder))
        batch = Batch(rows=[[0.1] * 10], columns=FEATURES)
        plain = SimpleNamespace(metadata={})
        captured = SimpleNamespace(metadata={"capture": {}, "model": "m@1"})

        async def per_call(deployment: object, name: str) -> float:
            for _ in range(500):
                await hub.record({}, name, deployment, batch, [1.0])
            started = time.perf_counter()
            for _ in range(calls):
                await hub.record({}, name, deployment, batch, [1.0])
            return (time.perf_counter() - started) / calls * 1e6

        async def both() -> tuple[float, float]:
            best_plain = min([await per_call(plain, "plain") for _ in range(3)])
            best_captured = min([await per_call(captured, "captured") for _ in range(3)])
            await hub.close()
            return best_plain, best_captured

        return asyncio.run(both())


def write_captures(root: Path, rows: int) -> list[Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    start = datetime.now(timezone.utc) - timedelta(hours=20)
    parts = 20
    files = []
    for part in range(parts):
        count = rows // parts
        moment = start + timedelta(hours=part)
        table = {
            "_id": pa.array([f"r{part}-{i}" for i in range(count)]),
            "_ts": pa.array([moment] * count, pa.timestamp("us", tz="UTC")),
            "_deployment": pa.array(["blue"] * count),
            "_model": pa.array(["m@1"] * count),
        }
        for index, name in enumerate(FEATURES):
            table[name] = pa.array(rng.normal(0.5 if index == 3 else 0.0, 1.0, count))
        folder = root / "blue" / moment.strftime("%Y-%m-%d") / moment.strftime("%H")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{part:04d}.parquet"
        pq.write_table(pa.table(table), path)
        files.append(path)
    return files


def signals(folder: Path, rows: int) -> tuple[float, float]:
    import numpy as np
    import pandas as pd

    from mlops_sdk import DataBaseline, DataDrift, DataQuality, MLOpsClient, Monitor

    store = folder / "signals"
    files = write_captures(store / "endpoints" / "bench" / "capture", rows)
    baseline = pd.DataFrame({name: np.random.default_rng(2).normal(size=100_000) for name in FEATURES})
    monitor = Monitor(
        endpoint="bench",
        window="1d",
        baseline=DataBaseline(),
        signals=[DataDrift(thresholds={"psi": 0.2, "js": 0.1, "wasserstein": 0.2, "ks": 0.1}), DataQuality()],
    )
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        client.monitoring.run(monitor, baseline_data=baseline.head(1000))  # warm-up: imports
        started = time.perf_counter()
        report = client.monitoring.run(monitor, baseline_data=baseline)
        sdk = time.perf_counter() - started
    assert report.rows == rows, report.rows
    print(f"  SDK: {report.rows} rows, drifted {report.drifted_features()}, {sdk:.2f} s")

    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    started = time.perf_counter()
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    for name in FEATURES:
        reference, current = baseline[name].to_numpy(), frame[name].dropna().to_numpy()
        edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
        p = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
        q = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1) / current.size
        pc, qc = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
        _psi = float(np.sum((qc - pc) * np.log(qc / pc)))
        _js = jensenshannon(p, q, base=2)
        _ks = stats.ks_2samp(reference, current)
        _w = stats.wasserstein_distance(reference, current) / reference.std()
        _nulls = frame[name].isna().mean()
        _outside = ((current < reference.min()) | (current > reference.max())).mean()
    plain = time.perf_counter() - started
    print(f"  pandas + scipy: {plain:.2f} s")
    return sdk, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per throughput measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of plain/captured; the best counts")
    parser.add_argument("--rows", type=int, default=1_000_000, help="captured rows for the signals")
    parser.add_argument("--skip-serving", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-monitoring-") as temporary:
        folder = Path(temporary)
        if not args.skip_serving:
            print(f"scoring throughput, 1 row, c=8, {args.requests} requests x {args.rounds} rounds:")
            best = capture_throughput(folder, args.requests, args.rounds)
            print(
                f"  best: plain {best['plain']:.0f} req/s, captured {best['captured']:.0f} req/s: "
                f"capture costs {100 * (1 - best['captured'] / best['plain']):.1f} % (goal <= 5 %)"
            )
            plain_us, captured_us = hook_cost()
            per_request = 1e6 / best["plain"] if best["plain"] else float("nan")
            print(
                f"  hook alone: {plain_us:.1f} us without capture, {captured_us:.1f} us with: "
                f"+{captured_us - plain_us:.1f} us per request = {100 * (captured_us - plain_us) / per_request:.1f} % "
                f"of a {per_request:.0f} us request at the best plain rate"
            )
        print(f"signals over {args.rows:,} rows x {len(FEATURES)} features vs a 100,000-row baseline:")
        sdk, plain = signals(folder, args.rows)
        print(f"  SDK {sdk:.2f} s (goal <= 3 s), pandas+scipy {plain:.2f} s: {plain / sdk:.1f}x")


if __name__ == "__main__":
    main()
