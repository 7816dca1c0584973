"""A status line / spinner for long waits in terminals and notebooks (rich, imported on first use)."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["ProgressDisplay", "should_show_progress"]


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
