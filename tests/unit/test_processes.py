"""Process identity: a pid is ours only while it runs, is no zombie, and started when ours did.

Both implementations run here on real processes: /proc (what Linux uses) and psutil (what Windows
and macOS use), so the psutil path is exercised on Linux CI too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from mlops_sdk.backends.local import _processes

Alive = Callable[[int, "str | None"], bool]
StartTime = Callable[[int], "str | None"]

_IMPLEMENTATIONS = [
    pytest.param(_processes.proc_alive, _processes.proc_start_time, id="proc"),
    pytest.param(_processes.psutil_alive, _processes.psutil_start_time, id="psutil"),
]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait(timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and zombies as on Linux")
@pytest.mark.parametrize(("alive", "start_time"), _IMPLEMENTATIONS)
def test_alive_dead_zombie_and_reused_pid(
    alive: Alive, start_time: StartTime, sleeper: subprocess.Popen[bytes]
) -> None:
    if start_time is _processes.psutil_start_time:
        pytest.importorskip("psutil")
    start = start_time(sleeper.pid)
    assert start is not None
    assert start_time(sleeper.pid) == start  # stable for the same process
    assert alive(sleeper.pid, start)
    assert alive(sleeper.pid, None)
    # The same pid with another start time is another process (the pid was reused).
    assert not alive(sleeper.pid, start + "0")
    assert start_time(os.getpid()) != start

    sleeper.kill()
    for _ in range(200):  # killed but not reaped: a zombie, which is dead for us
        if not alive(sleeper.pid, start):
            break
        time.sleep(0.01)
    assert not alive(sleeper.pid, start)
    sleeper.wait(timeout=10)
    assert not alive(sleeper.pid, start)  # reaped: gone


def test_the_public_probe_on_this_platform(sleeper: subprocess.Popen[bytes]) -> None:
    start = _processes.process_start_time(sleeper.pid)
    assert _processes.process_alive(sleeper.pid, start)
    assert not _processes.process_alive(None, None)
    assert not _processes.process_alive(0, None)
    sleeper.kill()
    sleeper.wait(timeout=10)
    assert not _processes.process_alive(sleeper.pid, start)


def test_no_pid_probe_by_signal_outside_the_posix_helper() -> None:
    # os.kill(pid, 0) sends CTRL_C_EVENT on Windows: only the POSIX-only helper may call it.
    import ast
    from pathlib import Path

    import mlops_sdk

    root = Path(mlops_sdk.__file__).parent
    probes = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        for function in functions:
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and ast.unparse(node.func) == "os.kill"
                    and len(node.args) == 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value == 0
                ):
                    probes.append(f"{path.relative_to(root).as_posix()}:{function.name}")
    assert probes == ["backends/local/_processes.py:_posix_exists"]
