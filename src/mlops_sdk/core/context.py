"""The idempotency key of the flow step that is running, for clients to default to.

``Flow.step`` sets it around the step's action; a ``begin_*`` call made inside the action without an
explicit ``idempotency_key`` uses it, so a refresh, training job, approval request or pipeline run
started in a step is keyed by (flow run id, step name) without the user passing the key. When one step
starts several things, the second and later get ``<key>-2``, ``<key>-3``... in call order, which is the
same on a re-run. (It lives in ``core`` so clients can read it without depending on ``flows``.)
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["ambient_idempotency_key", "ambient_key_is_fresh", "step_scope"]


@dataclass
class _Scope:
    key: str
    first_attempt: bool = False
    used: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("mlops_step_scope", default=None)


@contextlib.contextmanager
def step_scope(key: str, *, first_attempt: bool = False) -> Iterator[None]:
    """Make ``key`` the ambient idempotency key inside the block.

    ``first_attempt``: the step never ran before in this flow run (per its journal), so its keys
    cannot have started anything yet and backends may skip looking them up before creating.
    """
    token = _SCOPE.set(_Scope(key, first_attempt))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def ambient_idempotency_key() -> str | None:
    """The next key for a side effect started in the running step, or ``None`` outside a step."""
    scope = _SCOPE.get()
    if scope is None:
        return None
    with scope.lock:
        scope.used += 1
        return scope.key if scope.used == 1 else f"{scope.key}-{scope.used}"


def ambient_key_is_fresh(key: str) -> bool:
    """True when ``key`` belongs to the running flow step (its key, or ``<key>-<n>``) and the step is on
    its first attempt: such a key was never used before, by this or any earlier process."""
    scope = _SCOPE.get()
    if scope is None or not scope.first_attempt:
        return False
    suffix = key.removeprefix(scope.key)
    return key.startswith(scope.key) and (suffix == "" or (suffix[:1] == "-" and suffix[1:].isdigit()))
