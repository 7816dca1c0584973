"""Files written whole or not at all: a temporary file beside the target, fsynced, then renamed over it.

A process killed at any moment leaves the previous version of the file (or none) and, at worst, a
temporary ``.<name>.<random>.tmp`` beside it, which readers never match (they look for the final names).
:func:`file_lock` makes a check-then-act sequence one step across processes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "file_lock", "fsync_dir"]


@contextlib.contextmanager
def atomic_write(path: Path, *, mode: int | None = None, sync_folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends normally, the file is
    fsynced and renamed to ``path`` (and the folder fsynced with ``sync_folder``, which makes the new
    name itself survive a power loss). When the block raises, the temporary file is removed and
    ``path`` is untouched.

    Args:
        path: The file to (re)place; its folder is created if needed.
        mode: Permission bits of the new file (default: owner read/write only, as ``mkstemp`` makes it).
        sync_folder: Also fsync the folder after the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        if mode is not None:
            temporary.chmod(mode)
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.replace(path)
    finally:
        with contextlib.suppress(OSError):  # already renamed, or never written
            temporary.unlink()
    if sync_folder:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename into it) durable; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder, if needed) for the block: one
    process at a time, whatever else runs on the machine. The kernel releases it when the holder exits,
    also when it is killed, so a crash never leaves it held. Without ``fcntl`` (Windows) it does nothing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: single-process use
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
