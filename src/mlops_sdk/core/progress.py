"""A status line for long waits: a rich spinner in terminals, an in-place updated line in notebooks.

In a notebook the line is an IPython display updated in place (``display_id``), which needs no
ipywidgets (rich's live display in Jupyter does, and prints a warning and nothing else without them).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["NotebookProgressDisplay", "ProgressDisplay", "open_progress_display", "should_show_progress"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None


def should_show_progress(setting: bool | None) -> bool:
    """Decide whether to draw progress: an explicit setting wins, else terminals and notebooks do."""
    if setting is not None:
        return setting
    if os.environ.get("MLOPS_PROGRESS", "").lower() in ("0", "false", "no", "off"):
        return False
    return _in_notebook() or bool(sys.stderr and sys.stderr.isatty())


class ProgressDisplay:
    """One live line with a spinner, the elapsed time and the latest status text."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress: Any = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=None)

    def update(self, text: str) -> None:
        """Replace the status text."""
        self._progress.update(self._task, description=text)

    def close(self) -> None:
        """Stop drawing (the last line stays visible)."""
        self._progress.stop()


class NotebookProgressDisplay:
    """One output line of the running notebook cell, rewritten in place."""

    def __init__(self, title: str) -> None:
        import IPython.display

        display: Any = IPython.display.display
        self._title = title
        self._started = time.monotonic()
        self._handle: Any = display({"text/plain": title}, raw=True, display_id=True)

    def update(self, text: str) -> None:
        """Replace the line with ``text`` and the elapsed time."""
        elapsed = int(time.monotonic() - self._started)
        self._handle.update({"text/plain": f"{text}  [{elapsed // 60}:{elapsed % 60:02d}]"}, raw=True)

    def close(self) -> None:
        """Leave the last line as it is."""


def open_progress_display(title: str) -> ProgressDisplay | NotebookProgressDisplay:
    """The right display for where this process runs."""
    return NotebookProgressDisplay(title) if _in_notebook() else ProgressDisplay(title)
