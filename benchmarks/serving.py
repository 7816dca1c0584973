"""Local endpoint server vs ``mlflow models serve`` vs a minimal starlette app, in one run.

Same model (Ridge on scikit-learn's bundled diabetes data, 10 numeric columns, saved with
``mlflow.sklearn.save_model``), same payloads (1 row and 100 rows, ``dataframe_split`` for MLflow,
``input_data`` for the others), same bounded load (8 keep-alive connections, a fixed number of
requests). Prints requests/s, p50 and p99 latency and the ratios the goal is stated in
(DESIGN.md §7: >= 10x ``mlflow models serve``, within 1.3x of the minimal app).

Run: ``python benchmarks/serving.py [--requests 4000]``. Everything binds 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement (mlflow gets 1/4)")
    args = parser.parse_args()
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
            minimal = subprocess.Popen([sys.executable, str(script), str(model_path), str(minimal_port)])
            processes.append(minimal)
            cold["minimal starlette"] = wait_ping(minimal_port, minimal)
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
            )
            processes.append(served)
            cold["mlflow models serve"] = wait_ping(mlflow_port, served)
            for size, (azure_body, mlflow_body) in payloads.items():
                total = args.requests if size == 1 else max(400, args.requests // 4)
                results[("mlops endpoint", size)] = measure("mlops", info.port, "/score", azure_body, total, key)
                results[("minimal starlette", size)] = measure("minimal", minimal_port, "/score", azure_body, total)
                results[("mlflow models serve", size)] = measure(
                    "mlflow", mlflow_port, "/invocations", mlflow_body, max(200, total // 4)
                )
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
            f"(goal <= 1.3x)"
        )


if __name__ == "__main__":
    main()
