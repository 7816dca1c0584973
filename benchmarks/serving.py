"""Local endpoint server vs ``mlflow models serve`` vs a minimal starlette app, in one run.

Our server routes with starlette's ``Router``; a variant of it that routes by hand (an ``if`` on the
path) runs in the same run, so the cost of the library's routing is measured, not guessed.

Same model (Ridge on scikit-learn's bundled diabetes data, 10 numeric columns, saved with
``mlflow.sklearn.save_model``), same payloads (1 row and 100 rows, ``dataframe_split`` for MLflow,
``input_data`` for the others), same bounded load (8 keep-alive connections, a fixed number of
requests). Prints requests/s, p50 and p99 latency and the ratios the goal is stated in
(DESIGN.md §7: >= 10x ``mlflow models serve``, within 1.3x of the minimal app).

Run: ``python benchmarks/serving.py [--requests 4000] [--rounds 2]``.
Everything binds 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.loadgen import LoadRun, build_request  # test and benchmark tooling, not shipped

from mlops_sdk.backends.local.serving.process import EndpointServer

MINIMAL_APP = textwrap.dedent(
    """
    import sys, warnings, numpy as np, mlflow.sklearn, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    model = mlflow.sklearn.load_model(sys.argv[1])
    warnings.filterwarnings("ignore", message="X does not have valid feature names")

    async def score(request):
        body = await request.json()
        return JSONResponse(model.predict(np.asarray(body["input_data"]["data"], dtype=np.float64)).tolist())

    async def ping(request):
        return JSONResponse({})

    app = Starlette(routes=[Route("/score", score, methods=["POST"]), Route("/ping", ping)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False, log_level="warning")
    """
)


# Our server with the routing done by hand (an `if` on the path straight to the scoring handler, what
# app.py did before it used starlette's Router). Everything else is the real server.py: same socket,
# preload, session and uvicorn settings, so the difference is the router and nothing else.
HAND_ROUTED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlops_sdk.backends.local.serving import app, server

    async def hand_routed(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/score":
            await self._scoring(scope, receive, send)
        else:
            await self._router(scope, receive, send)

    app.EndpointApp.__call__ = hand_routed
    server.serve(Path(sys.argv[1]))
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ping(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not answer /ping in {timeout}s")


def make_model(folder: Path) -> tuple[Path, list[str], list[list[float]]]:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    data = load_diabetes(as_frame=True)
    frame: pd.DataFrame = data.frame.drop(columns=["target"])
    model = Ridge().fit(frame, data.target)
    path = folder / "model"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(frame, model.predict(frame)), pip_requirements=["scikit-learn"]
    )
    return path, list(frame.columns), frame.to_numpy().tolist()


def measure(name: str, port: int, path: str, body: bytes, total: int, key: str | None = None) -> dict[str, float]:
    request = build_request("127.0.0.1", port, path, body, key=key)
    LoadRun("127.0.0.1", port, [request], total=min(200, total), concurrency=8).run()  # warm-up
    run = LoadRun("127.0.0.1", port, [request], total=total, concurrency=8).run()
    failures = sum(count for status, count in run.statuses().items() if status != 200)
    if failures:
        raise SystemExit(f"{name}: {failures} failed requests {dict(run.statuses())}")
    return run.summary()


def routing_cost(model_path: Path, body: bytes, calls: int = 300, rounds: int = 20) -> dict[str, float]:
    """Microseconds per scoring call of our ASGI app in this process, starlette-routed vs routed by hand.

    No sockets and no second process: what is left is the router's own work next to the scoring
    path's, measured in alternating rounds (best round counts) so machine load hits both alike.
    """
    import asyncio

    from mlops_sdk.backends.local.serving.app import EndpointApp

    app = EndpointApp(name="bench", keys=["key"], admin_key="admin")
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/score",
        "root_path": "",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [(b"authorization", b"Bearer key"), (b"content-type", b"application/json")],
    }
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))  # type: ignore[call-overload]

    async def hand_routed(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http" and scope["path"] == "/score":
            await app._scoring(scope, receive, send)  # type: ignore[arg-type]
        else:
            await app(scope, receive, send)  # type: ignore[arg-type]

    async def run() -> dict[str, float]:
        await app.add_deployment("blue", {"model_path": str(model_path)})
        app.set_traffic({"blue": 100})
        gc.freeze()  # as the server does after its imports: the collector never rescans the libraries
        best = {"starlette-routed": float("inf"), "hand-routed": float("inf")}
        variants = {"starlette-routed": app, "hand-routed": hand_routed}
        for _ in range(rounds):
            for name, call in variants.items():
                start = time.perf_counter()
                for _ in range(calls):
                    await call(dict(scope), receive, send)  # type: ignore[operator]
                best[name] = min(best[name], (time.perf_counter() - start) / calls * 1e6)
        return best

    result = asyncio.run(run())
    if set(statuses) != {200}:
        raise SystemExit(f"in-process scoring failed: {sorted(set(statuses))}")
    return result


def router_alone(calls: int = 20000, rounds: int = 10) -> tuple[float, float]:
    """Microseconds to dispatch ``POST /score`` to a no-op endpoint: our starlette router vs an ``if``."""
    import asyncio

    from mlops_sdk.backends.local.serving.app import EndpointApp

    router = EndpointApp(name="bench", keys=["key"], admin_key="admin")._router
    scope = {"type": "http", "method": "POST", "path": "/score", "root_path": "", "query_string": b"", "headers": []}
    for route in router.routes:  # the real route table, with endpoints that do nothing
        route.app = _noop

    async def hand_routed(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["path"] == "/score":
            await _noop(scope, receive, send)

    async def run() -> tuple[float, float]:
        best = [float("inf"), float("inf")]
        for _ in range(rounds):
            for index, call in enumerate((router, hand_routed)):
                start = time.perf_counter()
                for _ in range(calls):
                    await call(dict(scope), None, None)
                best[index] = min(best[index], (time.perf_counter() - start) / calls * 1e6)
        return best[0], best[1]

    return asyncio.run(run())


async def _noop(scope: object, receive: object, send: object) -> None:
    return None


def print_routing(model_path: Path, columns: list[str], rows: list[list[float]]) -> None:
    routed, hand = router_alone()
    print(f"\nrouter alone (us per dispatch): starlette {routed:.1f}, hand-written {hand:.1f}")
    print("routing cost in process (us per scoring call, best of 20 alternating rounds of 300 calls)")
    for size in (1, 100):
        body = json.dumps({"input_data": {"columns": columns, "data": rows[:size]}}).encode()
        cost = routing_cost(model_path, body)
        routed, hand = cost["starlette-routed"], cost["hand-routed"]
        print(f"{size:>3} row(s): starlette-routed {routed:7.1f}  hand-routed {hand:7.1f}  router {routed - hand:+.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement (mlflow gets 1/4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all servers; the best round counts")
    parser.add_argument("--routing-only", action="store_true", help="only the in-process routing cost")
    args = parser.parse_args()
    if args.routing_only:
        with tempfile.TemporaryDirectory(prefix="mlops-bench-") as temp:
            model_path, columns, rows = make_model(Path(temp))
            print_routing(model_path, columns, rows)
        return
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as temp:
        folder = Path(temp)
        model_path, columns, rows = make_model(folder)
        payloads = {
            size: (
                json.dumps({"input_data": {"columns": columns, "data": rows[:size]}}).encode(),
                json.dumps({"dataframe_split": {"columns": columns, "data": rows[:size]}}).encode(),
            )
            for size in (1, 100)
        }
        print_routing(model_path, columns, rows)
        processes: list[subprocess.Popen[bytes]] = []
        endpoint = EndpointServer(folder / "endpoints" / "bench", "bench")
        try:
            # 1. our server
            endpoint.create()
            started = time.monotonic()
            info = endpoint.start()
            endpoint.admin("PUT", "deployments/blue", {"model_path": str(model_path)})
            endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100}})
            cold = {"mlops endpoint": time.monotonic() - started}
            key = endpoint.keys()["primary_key"]
            # 2. minimal starlette app
            script = folder / "minimal_app.py"
            script.write_text(MINIMAL_APP)
            minimal_port = free_port()
            minimal = subprocess.Popen(
                [sys.executable, str(script), str(model_path), str(minimal_port)], start_new_session=True
            )
            processes.append(minimal)
            cold["minimal starlette"] = wait_ping(minimal_port, minimal)
            # 2b. our server, routed by hand (same deployments, its own folder and keys)
            script = folder / "hand_routed.py"
            script.write_text(HAND_ROUTED)
            hand_endpoint = EndpointServer(folder / "endpoints" / "bench-hand", "bench-hand")
            hand_endpoint.create()
            shutil.copy(endpoint.folder / "state.json", hand_endpoint.folder / "state.json")
            hand_key = hand_endpoint.keys()["primary_key"]
            started = time.monotonic()
            hand = subprocess.Popen([sys.executable, str(script), str(hand_endpoint.folder)], start_new_session=True)
            processes.append(hand)
            while hand_endpoint.info() is None and hand.poll() is None:
                time.sleep(0.05)
            hand_port = hand_endpoint.info().port  # type: ignore[union-attr]
            cold["mlops, hand-routed"] = time.monotonic() - started + wait_ping(hand_port, hand)
            # 3. mlflow models serve
            mlflow_port = free_port()
            mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
            served = subprocess.Popen(
                [
                    mlflow_cli,
                    "models",
                    "serve",
                    "-m",
                    str(model_path),
                    "--env-manager",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(mlflow_port),
                ],
                env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own scheduling group, like our server (Linux autogroups)
            )
            processes.append(served)
            cold["mlflow models serve"] = wait_ping(mlflow_port, served)
            for round_number in range(args.rounds):  # interleaved: a busy moment of the machine hits every server
                for size, (azure_body, mlflow_body) in payloads.items():
                    total = args.requests if size == 1 else max(400, args.requests // 4)
                    runs = {
                        "mlops endpoint": ("mlops", info.port, "/score", azure_body, total, key),
                        "mlops, hand-routed": ("hand", hand_port, "/score", azure_body, total, hand_key),
                        "minimal starlette": ("minimal", minimal_port, "/score", azure_body, total, None),
                        "mlflow models serve": ("mlflow", mlflow_port, "/invocations", mlflow_body, total // 4, None),
                    }
                    order = list(runs)  # each round starts with another server: no server always comes first
                    order = order[round_number % len(order) :] + order[: round_number % len(order)]
                    for name in order:
                        label, port, path, body, count, auth = runs[name]
                        summary = measure(label, port, path, body, max(200, count), auth)
                        best = results.get((name, size))
                        if best is None or summary["rps"] > best["rps"]:
                            results[(name, size)] = summary
        finally:
            endpoint.stop()
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
    print(f"\nserving benchmark: Ridge (10 columns), concurrency 8, {args.requests} requests (1 row)\n")
    print(f"{'server':<22}{'rows':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cold s':>8}")
    for (name, size), summary in results.items():
        print(
            f"{name:<22}{size:>5}{summary['rps']:>10.0f}{summary['p50_ms']:>9.2f}{summary['p99_ms']:>9.2f}"
            f"{cold[name]:>8.2f}"
        )
    print()
    for size in (1, 100):
        ours = results[("mlops endpoint", size)]["rps"]
        print(
            f"{size:>3} row(s): mlops / mlflow serve = {ours / results[('mlflow models serve', size)]['rps']:.1f}x "
            f"(goal >= 10x); minimal / mlops = {results[('minimal starlette', size)]['rps'] / ours:.2f}x "
            f"(goal <= 1.3x); hand-routed / starlette-routed = "
            f"{results[('mlops, hand-routed', size)]['rps'] / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
