"""Ctrl-C that is never lost.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the main thread happens to be. When
that is inside a weak-reference callback or a ``__del__`` run by the garbage collector, the interpreter
prints ``Exception ignored in ...`` and drops it: the user pressed Ctrl-C and the wait went on to the
end (measured: about one press in twelve during ``mlops train submit --wait``).

:func:`interrupt_guard` installs a handler that does what Python's does and also remembers the press;
:func:`raise_if_interrupted`, called where waiting code can stop safely (each poll of an operation),
raises the ``KeyboardInterrupt`` that was swallowed. A press that did reach its ``except`` is
forgotten with :func:`forget_interrupt`, so it is never raised twice.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["forget_interrupt", "interrupt_guard", "interrupt_pending", "raise_if_interrupted"]

_pressed = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _pressed.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_guard() -> Iterator[None]:
    """Remember every Ctrl-C inside the block (main thread, Python's default handler only; else a no-op).

    A handler the application installed itself, or one installed by an outer guard, is left as it is.
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _pressed.clear()
    previous_hook = sys.unraisablehook

    def quiet_when_remembered(unraisable: Any) -> None:
        # "Exception ignored ... KeyboardInterrupt" would tell the user their press was lost: it is not
        if unraisable.exc_type is KeyboardInterrupt and _pressed.is_set():
            return
        previous_hook(unraisable)

    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = quiet_when_remembered
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook
        _pressed.clear()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when Ctrl-C was pressed and its exception was swallowed on the way."""
    if _pressed.is_set():
        _pressed.clear()
        raise KeyboardInterrupt


def interrupt_pending() -> bool:
    """Whether Ctrl-C was pressed and not yet handled (code cut short by it can say so)."""
    return _pressed.is_set()


def forget_interrupt() -> None:
    """The press was handled (its ``KeyboardInterrupt`` reached an ``except``): do not raise it again."""
    _pressed.clear()
