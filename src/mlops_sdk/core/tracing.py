"""One OpenTelemetry span per public operation, when ``opentelemetry-api`` is installed (else nothing)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, TypeVar

__all__ = ["annotate", "span", "traced"]

F = TypeVar("F", bound=Callable[..., Any])


@cache
def _tracer() -> Any:
    if importlib.util.find_spec("opentelemetry") is None:
        return None
    from opentelemetry import trace

    from mlops_sdk._version import __version__

    return trace.get_tracer("mlops_sdk", __version__)


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, str | int | float | bool] | None = None) -> Iterator[None]:
    """Run the block inside a span named ``mlops.<name>`` (a no-op without OpenTelemetry)."""
    tracer = _tracer()
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(f"mlops.{name}", attributes=dict(attributes or {})):
        yield


def traced(name: str, *, before: Callable[[tuple[Any, ...], dict[str, Any]], None] | None = None) -> Callable[[F], F]:
    """Decorate a function so every call runs inside :func:`span` ``name``.

    ``before`` is called with the call's ``(args, kwargs)`` inside the span, first (the clients check
    their arguments there); one wrapper, so a warning's ``stacklevel`` counts one frame for both.
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(name):
                if before is not None:
                    before(args, kwargs)
                return function(*args, **kwargs)

        wrapper.__mlops_traced__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def annotate(attributes: Mapping[str, str | int | float | bool]) -> None:
    """Add attributes to the current span (the one the public method runs in); a no-op without OpenTelemetry."""
    if _tracer() is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(dict(attributes))
