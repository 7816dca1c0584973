"""Is this process still the one we started? Pid probes that survive pid reuse, on every platform.

A process is identified by its pid *and* its start time, so a pid the OS handed to another process
after ours ended is not mistaken for ours; a zombie counts as dead.

Decision, psutil or ``/proc``:

* **Linux** reads ``/proc/<pid>/stat`` directly: the start time in clock ticks since boot is exact,
  it is what psutil itself reads there, and it costs microseconds. The training supervisor loads
  this module on its own and must start in milliseconds, and importing psutil costs ~30 ms
  (measured on the project's machines). The start times already stored in ``mlops.db`` stay valid.
  Liveness is ``os.kill(pid, 0)``, which on POSIX only checks that the pid exists.
* **Windows and macOS** use psutil (in the ``local`` extra): its ``create_time`` is the start time.
  On Windows ``os.kill(pid, 0)`` is not a probe at all: signal 0 is ``CTRL_C_EVENT``, so it would
  send Ctrl-C to the process's console group. This module never calls it there. Without psutil,
  macOS falls back to the POSIX probe without start times, and Windows answers "alive" (a run is
  never declared dead by mistake; the ``local`` extra brings psutil, so this does not happen in a
  complete install).

Start times are opaque strings, compared only with strings made by the same function on the same
platform.
"""

from __future__ import annotations

import os
import sys

__all__ = ["process_alive", "process_start_time"]

_USE_PROC = sys.platform.startswith("linux")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:  # noqa: PTH123
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _posix_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # POSIX only: signal 0 checks existence and permission, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def proc_start_time(pid: int) -> str | None:
    """Linux: start time of ``pid`` in clock ticks since boot, from ``/proc``."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def proc_alive(pid: int, start: str | None) -> bool:
    """Linux: ``pid`` exists, is not a zombie and (when given) started at ``start``."""
    if not _posix_exists(pid):
        return False
    fields = _proc_stat(pid)
    if fields is None:
        return True  # exists but /proc hides it (hidepid): trust the probe
    if fields[0] in ("Z", "X"):
        return False
    return start is None or fields[19] == start


def psutil_start_time(pid: int) -> str | None:
    """Start time of ``pid`` from psutil (seconds since the epoch, as text); None if unknown."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    try:
        return repr(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def psutil_alive(pid: int, start: str | None) -> bool:
    """``pid`` exists, is not a zombie and (when given) started at ``start``, by psutil."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return False
        return start is None or repr(process.create_time()) == start
    except psutil.NoSuchProcess:
        return False
    except (psutil.AccessDenied, OSError):
        return True  # it exists; we may not look at it


def _have_psutil() -> bool:
    import importlib.util

    return importlib.util.find_spec("psutil") is not None


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` (guards against pid reuse); ``None`` where unavailable."""
    if _USE_PROC:
        return proc_start_time(pid)
    return psutil_start_time(pid) if _have_psutil() else None


def process_alive(pid: int | None, start: str | None) -> bool:
    """True if ``pid`` runs, is not a zombie and (where known) started at ``start``."""
    if not pid:
        return False
    if _USE_PROC:
        return proc_alive(pid, start)
    if _have_psutil():
        return psutil_alive(pid, start)
    if os.name == "nt":
        return True  # no safe probe without psutil (see the module docstring)
    return _posix_exists(pid)
