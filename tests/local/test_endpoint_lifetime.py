"""How long a local endpoint server lives: detached by default, tied to its client with ``stop_with_client``.

Real user scripts run in their own processes, create an endpoint and then crash (an uncaught exception,
or SIGKILL); the tests look at the real server process they left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local._processes import process_alive
from mlops_sdk.backends.local.serving.process import EndpointServer

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from mlops_sdk import MLOpsClient

    store, name, tie, how = sys.argv[1], sys.argv[2], sys.argv[3] == "tie", sys.argv[4]
    client = MLOpsClient(f"local://{store}", show_progress=False)
    client.deployments.begin_create_endpoint(name, stop_with_client=tie).result()
    print("ready", flush=True)
    if how == "raise":
        raise RuntimeError("the user's script crashes")
    time.sleep(120)  # killed by the test
    """
)


def _script(store: Path, name: str, *, tie: bool, how: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(store), name, "tie" if tie else "detached", how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _server_pid(store: Path, name: str) -> int:
    data = json.loads((store / "endpoints" / name / "server.json").read_text())
    return int(data["pid"])


def _wait_running(server: EndpointServer, timeout: float = 60.0) -> int | None:
    """The server's pid once it answers (a server still preloading at low priority may answer slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = server.running()
        if info is not None:
            return info.pid
        time.sleep(0.2)
    return None


def _wait_until_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, None):
            return True
        time.sleep(0.1)
    return False


def test_a_crashed_script_leaves_its_server_running_until_mlops_endpoints_stop(tmp_path: Path) -> None:
    store = tmp_path / ".mlops"
    script = _script(store, "ep-detached", tie=False, how="raise")
    _, stderr = script.communicate(timeout=180)
    assert script.returncode == 1
    assert "the user's script crashes" in stderr
    server = EndpointServer(store / "endpoints" / "ep-detached", "ep-detached")
    try:
        pid = _wait_running(server)
        assert pid is not None  # detached: it outlived the crash, as documented
        assert not (server.folder / "owner.json").exists()
        stop = subprocess.run(
            [sys.executable, "-m", "mlops_sdk.cli", "-t", f"local://{store}", "endpoints", "stop", "ep-detached"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            check=False,
        )
        assert stop.returncode == 0, stop.stderr
        assert "stopped ep-detached" in stop.stdout
        assert _wait_until_gone(pid)
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["raise", "sigkill"])
def test_stop_with_client_stops_the_server_when_the_script_crashes(tmp_path: Path, how: str) -> None:
    store = tmp_path / ".mlops"
    name = f"ep-{how}"
    script = _script(store, name, tie=True, how=how)
    server = EndpointServer(store / "endpoints" / name, name)
    try:
        assert script.stdout is not None
        assert script.stdout.readline().strip() == "ready"
        pid = _server_pid(store, name)
        owner = json.loads((server.folder / "owner.json").read_text())
        assert owner["pid"] == script.pid
        assert _wait_running(server) == pid
        if how == "sigkill":
            script.send_signal(signal.SIGKILL)  # no atexit, no close(): the server notices by itself
        script.wait(timeout=60)
        assert script.returncode == (-signal.SIGKILL if how == "sigkill" else 1)
        assert _wait_until_gone(pid)
        assert server.running() is None
        assert not (server.folder / "owner.json").exists()
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
        server.stop()


def test_closing_the_client_stops_only_the_servers_it_was_asked_to(tmp_path: Path) -> None:
    store = tmp_path / ".mlops"
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        tied = client.deployments.begin_create_endpoint("ep-tied", stop_with_client=True)
        free = client.deployments.begin_create_endpoint("ep-free")
        tied.result()
        free.result()
        tied_pid, free_pid = _server_pid(store, "ep-tied"), _server_pid(store, "ep-free")
    free_server = EndpointServer(store / "endpoints" / "ep-free", "ep-free")
    try:
        assert _wait_until_gone(tied_pid, timeout=5)
        assert not (store / "endpoints" / "ep-tied" / "server.json").exists()
        assert _wait_running(free_server) == free_pid
        # The endpoint itself stays: a later client starts its server again, detached this time.
        with MLOpsClient(f"local://{store}", show_progress=False) as again:
            assert again.deployments.start_endpoint("ep-tied").state == "Running"
            restarted = _server_pid(store, "ep-tied")
        assert restarted != tied_pid
        assert process_alive(restarted, None)
    finally:
        free_server.stop()
        EndpointServer(store / "endpoints" / "ep-tied", "ep-tied").stop()


def test_closing_the_client_stops_a_tied_server_that_is_still_starting(tmp_path: Path) -> None:
    store = tmp_path / ".mlops"
    with MLOpsClient(f"local://{store}", show_progress=False) as client:
        client.deployments.begin_create_endpoint("ep-early", stop_with_client=True)  # not waited for
        launched = int(json.loads((store / "endpoints" / "ep-early" / "starting.json").read_text())["pid"])
        assert process_alive(launched, None)
    assert _wait_until_gone(launched, timeout=20)
    assert not (store / "endpoints" / "ep-early" / "starting.json").exists()
