"""Refresh worker processes: is one still alive (pid checks that survive pid reuse and zombies), how it is started."""

from __future__ import annotations

from pathlib import Path

from mlops_sdk.backends.local._processes import process_alive

__all__ = ["SECRETS_ON_STDIN", "pid_alive"]

SECRETS_ON_STDIN = "--secrets-on-stdin"
"""Worker argument: the run's secret parameter values arrive as JSON on stdin (never in a file)."""


def pid_alive(pid: int, marker: str) -> bool:
    """True when process ``pid`` runs and (where ``/proc`` exists) its command line contains ``marker``.

    The marker (the run id) protects against a recycled pid; a zombie counts as dead.
    """
    if not process_alive(pid, None):  # never os.kill(pid, 0): on Windows that sends Ctrl-C
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        return marker.encode() in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
