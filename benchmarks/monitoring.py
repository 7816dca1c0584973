"""Monitoring costs: scoring with inference capture on vs off, and signals over a million rows.

1. Capture's cost per 1-row request (goal, issue #16: at most 5 % of the throughput at 8 clients),
   measured four ways, from the most load-resistant to the most direct:

   a. in process, hook and writer alone: :meth:`CaptureHub.record` driven N times for a deployment
      without and with ``Capture()``, then the queued requests written as the writer thread would
      (table, Parquet, fsync), on the process CPU clock; best of alternating rounds;
   b. in process, the server's ASGI app: the same model as ``plain`` and ``captured``, its writer thread
      running, rounds of 6,000 calls ending with a capture flush, on the process CPU clock (the
      writer's work and the garbage collections queued requests cause are counted); median of the
      per-round differences (ABBA rounds);
   c. over HTTP, one server (tests/loadgen.py, 8 keep-alive connections): rounds alternate (ABBA) the
      ``plain`` and ``captured`` deployments; per round requests/s and the server's CPU time per
      request (the kernel's per-process clock; the window includes ``POST /admin/capture/flush`` so
      the writer's share is counted); median and best of the rounds;
   d. over HTTP, capture on and off at the same time: two identical servers loaded together (8
      connections each), one through ``captured`` and one through ``plain``, roles swapped every
      round, so both variants share the same moments of the machine's load.

   On a shared machine c. swings by tens of percent between rounds of the same variant; a. and b.
   barely move with load, d. compares within a round.
2. 1,000,000 captured rows x 10 numeric features (20 hourly Parquet parts, as the server writes them)
   against a 100,000-row baseline: ``client.monitoring.run`` with DataDrift (PSI, JS, Wasserstein, KS)
   and DataQuality, next to the same statistics with pandas + scipy (``read_parquet``, ``ks_2samp``,
   ``wasserstein_distance``, ``jensenshannon``). Goal: at most 3 s on the 2-core machine.

3. ``--instructions``: capture's cost counted in instructions by valgrind's callgrind in the endpoint
   server process over HTTP (:func:`capture_instructions`): the one measurement here that gives the
   same number on every run, whatever else the machine does.

Run: ``python benchmarks/monitoring.py [--requests 4000] [--rounds 6] [--seconds 1.5] [--rows 1000000]
[--skip-serving] [--skip-signals] [--instructions]`` (about 40 s for 1. with the defaults, ~4 min for 3.).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serving import announced, cpu_seconds, make_model  # the serving benchmark's helpers

from mlops_sdk.backends.local.serving.process import EndpointServer

FEATURES = [f"f{i}" for i in range(10)]


def _cost(plain: float, captured: float, *, rate: bool) -> float:
    """Capture's cost in percent: lost throughput (``rate``) or extra CPU time per request."""
    if not plain:
        return float("nan")
    return 100 * (1 - captured / plain) if rate else 100 * (captured / plain - 1)


def capture_throughput(folder: Path, total: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Requests/s and the server's CPU microseconds per request, per round, for ``plain`` and ``captured``.

    Rounds alternate the two deployments (ABBA: the order flips every round, so a drift of the machine's
    load does not favour one). Each round's CPU window spans the load run AND a ``POST
    /admin/capture/flush`` after it (sent after the plain rounds too, so the admin call cancels out):
    the writer thread's work for the round's rows is counted, not only the hook on the event loop.
    """
    import json

    from tests.loadgen import LoadRun, build_request

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
        warm_capture(server, info.port, body)
        results: dict[str, dict[str, list[float]]] = {
            name: {"rps": [], "cpu_us": [], "writer_us": []} for name in ("plain", "captured")
        }
        for number in range(rounds):
            for name in ("plain", "captured") if number % 2 == 0 else ("captured", "plain"):
                request = build_request(
                    "127.0.0.1", info.port, "/score", body, key=key, headers={"azureml-model-deployment": name}
                )
                LoadRun("127.0.0.1", info.port, [request], total=200, concurrency=8).run()  # warm-up
                writer = server.admin("POST", "capture/flush")["writer_pid"]
                before, writer_before = cpu_seconds(info.pid), _writer_cpu(writer)
                run = LoadRun("127.0.0.1", info.port, [request], total=total, concurrency=8).run()
                server.admin("POST", "capture/flush")  # the writer's share of this round is counted
                cpu_us = (cpu_seconds(info.pid) - before) / total * 1e6
                writer_us = (_writer_cpu(writer) - writer_before) / total * 1e6
                failures = sum(count for status, count in run.statuses().items() if status != 200)
                if failures:
                    raise SystemExit(f"{name}: {failures} failed requests {dict(run.statuses())}")
                summary = run.summary()
                results[name]["rps"].append(summary["rps"])
                results[name]["cpu_us"].append(cpu_us)
                results[name]["writer_us"].append(writer_us)
                print(
                    f"  {name:9s} {summary['rps']:8.0f} req/s  {cpu_us:6.1f} us CPU/request  "
                    f"(+{writer_us:4.1f} us in the capture writer process)  "
                    f"p50 {summary['p50_ms']:.2f} ms  p99 {summary['p99_ms']:.2f} ms"
                )
        stats = server.admin("POST", "capture/flush")
        print(f"  capture: {stats['written']} rows written, {stats['dropped']} dropped, {stats['files']} files")
        return results
    finally:
        server.stop()


def warm_capture(server: EndpointServer, port: int, body: bytes, timeout: float = 60.0) -> None:
    """Send captured requests until the server's capture writer process is ready (it starts with the
    first captured request and imports pyarrow: a one-time cost that is not the steady state measured)."""
    from tests.loadgen import LoadRun, build_request

    request = build_request(
        "127.0.0.1",
        port,
        "/score",
        body,
        key=server.keys()["primary_key"],
        headers={"azureml-model-deployment": "captured"},
    )
    deadline = time.monotonic() + timeout
    while server.admin("POST", "capture/flush")["writer_pid"] is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"the capture writer process of {server.name} was not ready after {timeout:g} s")
        LoadRun("127.0.0.1", port, [request], total=50, concurrency=2).run()
        time.sleep(0.2)


def _writer_cpu(pid: int | None) -> float:
    """CPU seconds the capture writer process has used (0 when the server writes in a thread)."""
    if pid is None:
        return 0.0
    try:
        return cpu_seconds(pid)
    except Exception:  # it ended (the server then writes itself)
        return 0.0


def capture_paired(folder: Path, seconds: float, rounds: int) -> list[dict[str, float]]:
    """Capture on vs off at the same time: two identical servers, each holding the model as ``plain`` and
    ``captured``, loaded together (8 connections each) for ``seconds``, one server scoring through its
    ``captured`` deployment and the other through ``plain``, the roles swapped every round.

    Both variants share the same moments of the machine's load, which sequential rounds do not; each
    server's CPU time per request (the window includes a capture flush, as in
    :func:`capture_throughput`) and requests/s are compared within the round.
    """
    import json
    import threading

    from tests.loadgen import LoadRun, build_request

    model, columns, rows = make_model(folder / "paired")
    body = json.dumps({"input_data": {"columns": columns, "data": rows[:1]}}).encode()
    servers = [EndpointServer(folder / "paired" / "endpoints" / name, name) for name in ("bench-a", "bench-b")]
    infos = []
    try:
        for server in servers:
            server.create()
            infos.append(server.start())
            server.admin("PUT", "deployments/plain", {"model_path": str(model)})
            server.admin("PUT", "deployments/captured", {"model_path": str(model), "metadata": {"capture": {}}})
            server.admin("PUT", "traffic", {"traffic": {"plain": 100}})
        for server, info in zip(servers, infos, strict=True):
            warm_capture(server, info.port, body)
        results = []
        for number in range(rounds):
            roles = ("captured", "plain") if number % 2 == 0 else ("plain", "captured")
            requests = [
                build_request(
                    "127.0.0.1",
                    info.port,
                    "/score",
                    body,
                    key=server.keys()["primary_key"],
                    headers={"azureml-model-deployment": role},
                )
                for server, info, role in zip(servers, infos, roles, strict=True)
            ]

            def load(total: int, requests: list[bytes] = requests) -> list[LoadRun]:
                runs = [
                    LoadRun("127.0.0.1", info.port, [request], total=total, concurrency=8)
                    for info, request in zip(infos, requests, strict=True)
                ]
                for run in runs:
                    run.start()
                if total > 10**6:
                    threading.Event().wait(seconds)
                    for run in runs:
                        run.stop()
                for run in runs:
                    run.join()
                return runs

            load(200)  # warm-up
            writers = [server.admin("POST", "capture/flush")["writer_pid"] for server in servers]
            before = [cpu_seconds(info.pid) for info in infos]
            writer_before = [_writer_cpu(pid) for pid in writers]
            runs = load(10**9)
            for server in servers:
                server.admin("POST", "capture/flush")
            used = [cpu_seconds(info.pid) - start for info, start in zip(infos, before, strict=True)]
            writer_used = [_writer_cpu(pid) - start for pid, start in zip(writers, writer_before, strict=True)]
            found: dict[str, float] = {}
            for role, run, spent, writing in zip(roles, runs, used, writer_used, strict=True):
                failures = sum(count for status, count in run.statuses().items() if status != 200)
                if failures:
                    raise SystemExit(f"{role}: {failures} failed requests {dict(run.statuses())}")
                found[f"{role}_rps"] = run.summary()["rps"]
                found[f"{role}_cpu_us"] = spent / len(run.samples) * 1e6
                found[f"{role}_writer_us"] = writing / len(run.samples) * 1e6
            results.append(found)
            print(
                f"  round {number + 1}: plain {found['plain_rps']:6.0f} req/s {found['plain_cpu_us']:6.1f} us, "
                f"captured {found['captured_rps']:6.0f} req/s {found['captured_cpu_us']:6.1f} us "
                f"(+{found['captured_writer_us']:.1f} us writer process) "
                f"(captured on server {'ab'[roles.index('captured')]})"
            )
        return results
    finally:
        for server in servers:
            server.stop()


def print_paired(results: list[dict[str, float]]) -> None:
    """Median of the per-round costs (req/s and CPU per request)."""
    import statistics

    rate = [_cost(r["plain_rps"], r["captured_rps"], rate=True) for r in results]
    cpu = [_cost(r["plain_cpu_us"], r["captured_cpu_us"], rate=False) for r in results]
    extra = [r["captured_cpu_us"] - r["plain_cpu_us"] for r in results]
    print(
        f"  median of {len(results)} rounds: capture costs {statistics.median(rate):.1f} % of req/s, "
        f"{statistics.median(cpu):+.1f} % CPU per request ({statistics.median(extra):+.1f} us); "
        f"per round CPU {', '.join(f'{value:+.1f}' for value in cpu)} %"
    )


def print_throughput(results: dict[str, dict[str, list[float]]]) -> None:
    """Median and best of the rounds, and capture's cost from each (req/s and CPU per request)."""
    import statistics

    plain, captured = results["plain"], results["captured"]
    for label, pick_rate, pick_cpu in (("median", statistics.median, statistics.median), ("best", max, min)):
        rps_p, rps_c = pick_rate(plain["rps"]), pick_rate(captured["rps"])
        cpu_p, cpu_c = pick_cpu(plain["cpu_us"]), pick_cpu(captured["cpu_us"])
        print(
            f"  {label:6s}: plain {rps_p:.0f} req/s {cpu_p:.1f} us, captured {rps_c:.0f} req/s {cpu_c:.1f} us: "
            f"capture costs {_cost(rps_p, rps_c, rate=True):.1f} % of req/s, "
            f"{_cost(cpu_p, cpu_c, rate=False):+.1f} % CPU per request (goal <= 5 %)"
        )
    paired = [_cost(p, c, rate=False) for p, c in zip(plain["cpu_us"], captured["cpu_us"], strict=True)]
    print(f"  CPU cost per round pair: {', '.join(f'{value:+.1f}' for value in paired)} %")
    rate = [_cost(p, c, rate=True) for p, c in zip(plain["rps"], captured["rps"], strict=True)]
    print(
        f"  median of the paired rounds: capture costs {statistics.median(rate):.1f} % of req/s, "
        f"{statistics.median(paired):+.1f} % server CPU per request; the capture writer process used "
        f"{statistics.median(captured['writer_us']):.1f} us per captured request (median) besides"
    )


def capture_cost_in_process(requests: int = 6000, rounds: int = 7) -> dict[str, float]:
    """CPU microseconds per 1-row request of the whole capture work, measured in one thread.

    One round drives the hook (:meth:`CaptureHub.record`) ``requests`` times for a deployment without
    capture (correlation id only) and for one with ``Capture()``, then writes the queued requests as the
    writer thread would (``_write``: the Arrow table, the Parquet file, fsync, rename), timing each step
    with the process's CPU clock (a busy machine slows the wall clock, not this). The writer thread is
    not started, so everything runs here. 6,000 requests make one file, as one flush interval (1 s) at
    about 6,000 requests/s does. Best of ``rounds`` (variants alternating); returns ``hook_plain``,
    ``hook_captured``, ``writer`` (per request) and ``total`` = hook difference + writer.
    """
    import asyncio
    import inspect
    import threading
    from types import SimpleNamespace

    import numpy as np

    from mlops_sdk.backends.local.serving.capture import CaptureHub
    from mlops_sdk.backends.local.serving.payloads import Batch

    with tempfile.TemporaryDirectory() as folder:
        hub = CaptureHub(Path(folder))
        hub._writer = threading.current_thread()  # no writer thread: this thread writes
        plain = SimpleNamespace(metadata={})
        captured = SimpleNamespace(metadata={"capture": {}, "model": "m@1"})
        headers: dict[bytes, bytes] = {}

        async def drive(deployment: object, name: str) -> float:
            started = time.process_time()
            for _ in range(requests):
                # what the server hands the hook for a 1-row request: parsed rows, the model's numpy answer
                batch = Batch(rows=[[0.1] * 10], columns=FEATURES)
                answer = hub.record(headers, name, deployment, batch, np.array([1.0]))
                if inspect.isawaitable(answer):
                    await answer
            return (time.process_time() - started) / requests * 1e6

        def write() -> float:
            items = []  # requests the hook queued (older versions queue 1-row requests here too)
            while not hub._queue.empty():
                items.append(hub._queue.get_nowait())
            started = time.process_time()
            hub._write(items)
            return (time.process_time() - started) / requests * 1e6

        async def run() -> dict[str, float]:
            hook_plain, hook_captured, writer = [], [], []
            for number in range(rounds + 1):
                order = [(plain, "plain"), (captured, "captured")]
                for deployment, name in order if number % 2 == 0 else order[::-1]:
                    spent = await drive(deployment, name)
                    (hook_plain if name == "plain" else hook_captured).append(spent)
                writer.append(write())
            # round 0 warms up (imports, first file)
            return {
                "hook_plain": min(hook_plain[1:]),
                "hook_captured": min(hook_captured[1:]),
                "writer": min(writer[1:]),
            }

        found = asyncio.run(run())
    found["total"] = found["hook_captured"] - found["hook_plain"] + found["writer"]
    return found


def capture_cost_in_app(folder: Path, calls: int = 6000, rounds: int = 10) -> dict[str, list[float]]:
    """CPU microseconds per 1-row scoring call of the server's ASGI app in this process, capture off vs on.

    The app holds the benchmark's model as ``plain`` and as ``captured`` (``Capture()``) with its writer
    thread running; each round scores ``calls`` requests through the app (no sockets, no second process)
    and ends with a capture flush inside the window, timed with the process's CPU clock (every thread:
    the writer's work and the garbage collections the queued requests cause are counted). A round is
    one file, as one flush interval (1 s) is at about 6,000 requests/s. Rounds alternate ABBA; the
    collector is frozen after setup, as the server does after its imports.
    """
    import asyncio
    import gc
    import json

    from mlops_sdk.backends.local.serving.app import EndpointApp

    folder = folder / "in-app"
    folder.mkdir()
    model, columns, rows = make_model(folder)
    body = json.dumps({"input_data": {"columns": columns, "data": rows[:1]}}).encode()
    app = EndpointApp(name="bench", keys=["key"], admin_key="admin", capture_dir=folder / "in-app-capture")

    def scope(name: str) -> dict[str, object]:
        headers = [(b"authorization", b"Bearer key"), (b"content-type", b"application/json")]
        return {
            "type": "http",
            "method": "POST",
            "path": "/score",
            "root_path": "",
            "query_string": b"",
            "http_version": "1.1",
            "headers": [*headers, (b"azureml-model-deployment", name.encode())],
        }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"in-process scoring failed: {message['status']}")

    async def run() -> dict[str, list[float]]:
        await app.add_deployment("plain", {"model_path": str(model)})
        await app.add_deployment("captured", {"model_path": str(model), "metadata": {"capture": {}}})
        app.set_traffic({"plain": 100})
        for name in ("plain", "captured"):  # warm-up: first file, imports
            for _ in range(200):
                await app(scope(name), receive, send)  # type: ignore[arg-type]
        await app.capture.flush()
        gc.freeze()
        spent: dict[str, list[float]] = {"plain": [], "captured": []}
        for number in range(rounds):
            for name in ("plain", "captured") if number % 2 == 0 else ("captured", "plain"):
                request = scope(name)
                started = time.process_time()
                for _ in range(calls):
                    await app(dict(request), receive, send)  # type: ignore[arg-type]
                await app.capture.flush()
                spent[name].append((time.process_time() - started) / calls * 1e6)
        await app.capture.close()
        return spent

    return asyncio.run(run())


def print_in_app(spent: dict[str, list[float]]) -> float:
    """Median and best of the rounds, the median of the per-round differences; returns the latter."""
    import statistics

    plain, captured = spent["plain"], spent["captured"]
    differences = [c - p for p, c in zip(plain, captured, strict=True)]
    median_plain = statistics.median(plain)
    difference = statistics.median(differences)
    print(
        f"capture in the app, in process, CPU per 1-row call ({len(plain)} rounds): "
        f"plain median {median_plain:.1f} us best {min(plain):.1f} us, "
        f"captured median {statistics.median(captured):.1f} us best {min(captured):.1f} us; "
        f"median round difference {difference:+.1f} us = {100 * difference / median_plain:+.1f} %, "
        f"best vs best {min(captured) - min(plain):+.1f} us"
    )
    return difference


def capture_instructions(folder: Path, requests: int = 8000, per_file: int = 4000) -> dict[str, list[float]]:
    """Instructions per 1-row request the endpoint server process executes (user space, every thread),
    capture off vs on, counted by valgrind's callgrind: the same count on every run, whatever else
    the machine does, where every clock-based measurement here swings by several percent.

    The server runs under ``valgrind --tool=callgrind --instr-atstart=no``; counting is switched on
    (``callgrind_control -i on``) for a window of ``requests`` requests over HTTP (8 connections) and
    the capture flushes in it, and the window's total is dumped. Under valgrind the server is ~50x
    slower, so time-based flushes would write 50x more files than at full speed: the captured
    deployment's ``flush_interval`` is long and the window flushes every ``per_file`` requests
    instead (one file per second at 4,000 requests/s; faster servers write bigger files, which cost
    less per row). The capture writer process runs outside valgrind: its work is not counted here
    (the clock measurements report its CPU). Windows: plain, captured, captured, plain.
    """
    import json
    import os
    import re
    import shutil
    import subprocess

    from tests.loadgen import LoadRun, build_request

    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("--instructions needs valgrind (callgrind) on the PATH")
    model, columns, rows = make_model(folder / "instructions")
    server = EndpointServer(folder / "instructions" / "endpoints" / "bench", "bench")
    server.create()
    server.start()
    server.admin("PUT", "deployments/plain", {"model_path": str(model)})
    capture = {"capture": {"flush_interval": 300}}
    server.admin("PUT", "deployments/captured", {"model_path": str(model), "metadata": capture})
    server.admin("PUT", "traffic", {"traffic": {"plain": 100}})
    key = server.keys()["primary_key"]
    server.stop()  # restarted under valgrind, with its deployments
    out = folder / "instructions" / "callgrind"
    process = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}.%p",
            sys.executable,
            "-m",
            "mlops_sdk.backends.local.serving.server",
            str(server.folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "MLOPS_ENDPOINT_PRELOAD": "0", "PYTHONHASHSEED": "0"},
    )
    found: dict[str, list[float]] = {"plain": [], "captured": []}
    try:
        info = announced(server, process, 300, "the server under valgrind")
        body = json.dumps({"input_data": {"columns": columns, "data": rows[:1]}}).encode()

        def control(*arguments: str) -> None:
            subprocess.run(["callgrind_control", *arguments, str(process.pid)], capture_output=True, check=True)

        for number, name in enumerate(("plain", "captured", "captured", "plain"), start=1):
            request = build_request(
                "127.0.0.1", info.port, "/score", body, key=key, headers={"azureml-model-deployment": name}
            )
            LoadRun("127.0.0.1", info.port, [request], total=300, concurrency=8).run()  # warm-up
            server.admin("POST", "capture/flush")
            control("--zero")
            control("-i", "on")
            for _ in range(requests // per_file):
                LoadRun("127.0.0.1", info.port, [request], total=per_file, concurrency=8).run()
                server.admin("POST", "capture/flush")
            control("-i", "off")
            control("--dump")
            dump = Path(f"{out}.{process.pid}.{number}")
            while not dump.exists():
                time.sleep(0.2)
            time.sleep(0.5)  # written whole
            total = re.search(r"^totals:\s+(\d+)", dump.read_text(errors="replace"), re.MULTILINE)
            assert total is not None, dump
            found[name].append(int(total.group(1)) / (requests // per_file * per_file))
            print(f"  {name:9s} {found[name][-1]:10,.0f} instructions per request")
    finally:
        process.terminate()
        process.wait(timeout=120)
    return found


def print_instructions(found: dict[str, list[float]]) -> None:
    """Capture's cost in instructions per request and as a share of the plain request's."""
    import statistics

    plain, captured = statistics.mean(found["plain"]), statistics.mean(found["captured"])
    print(
        f"  capture costs {captured - plain:,.0f} instructions per request = {100 * (captured / plain - 1):+.1f} % "
        f"of the server's {plain:,.0f} (user space; the kernel's share of the CPU comes on top of the plain number)"
    )


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
    parser.add_argument("--rounds", type=int, default=6, help="rounds of plain/captured (median and best reported)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="captured rows for the signals")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of a paired round")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--skip-signals", action="store_true")
    parser.add_argument(
        "--instructions", action="store_true", help="only capture's cost in instructions (valgrind's callgrind, ~4 min)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-monitoring-") as temporary:
        folder = Path(temporary)
        if args.instructions:
            print("instructions per 1-row request in the server process (callgrind), capture off vs on:")
            print_instructions(capture_instructions(folder))
            return
        if not args.skip_serving:
            found = capture_cost_in_process()
            print(
                f"capture in process, CPU per 1-row request (best of rounds): hook {found['hook_plain']:.1f} us "
                f"without capture, {found['hook_captured']:.1f} us with; writer {found['writer']:.1f} us; "
                f"capture costs {found['total']:.1f} us per request"
            )
            print_in_app(capture_cost_in_app(folder))
            print(f"scoring throughput, 1 row, c=8, {args.requests} requests x {args.rounds} rounds:")
            results = capture_throughput(folder, args.requests, args.rounds)
            print_throughput(results)
            print(f"capture on and off at the same time, two servers, 1 row, c=8 each, {args.rounds} rounds:")
            print_paired(capture_paired(folder, args.seconds, args.rounds))
            import statistics

            per_request = statistics.median(results["plain"]["cpu_us"])
            print(
                f"  in-process cost {found['total']:.1f} us = {100 * found['total'] / per_request:.1f} % "
                f"of the plain request's {per_request:.1f} us server CPU (median round)"
            )
        if args.skip_signals:
            return
        print(f"signals over {args.rows:,} rows x {len(FEATURES)} features vs a 100,000-row baseline:")
        sdk, plain = signals(folder, args.rows)
        print(f"  SDK {sdk:.2f} s (goal <= 3 s), pandas+scipy {plain:.2f} s: {plain / sdk:.1f}x")


if __name__ == "__main__":
    main()
