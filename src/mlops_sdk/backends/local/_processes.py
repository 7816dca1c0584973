"""Is this process still the one we started? Pid probes that survive pid reuse (``/proc`` start times)."""

from __future__ import annotations

import os

__all__ = ["process_alive", "process_start_time"]


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` from ``/proc`` (guards against pid reuse); ``None`` where unavailable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:  # noqa: PTH123
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_alive(pid: int | None, start: str | None) -> bool:
    """True if ``pid`` runs, is not a zombie and (where known) started at ``start``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:  # noqa: PTH123
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return True  # no /proc (macOS): the kill probe is all we have
    if fields[0] == "Z":
        return False
    return start is None or fields[19] == start
