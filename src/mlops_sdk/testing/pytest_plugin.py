"""The mlops_sdk pytest plugin (entry point ``pytest11``): fixtures for testing code that uses the SDK.

Fixtures:
    ``fake_clock``: a :class:`~mlops_sdk.testing.FakeClock` (waits are instant).
    ``mlops_client``: an :class:`~mlops_sdk.MLOpsClient` on a fresh ``memory://`` store running on
        ``fake_clock``; mark a test ``@pytest.mark.mlops_backend("local")`` (or set the ini option
        ``mlops_backend = local``) for a real ``local://`` store in a temp folder instead.
    ``mlops_faults``: the fault injector of ``mlops_client`` (memory only).
    ``served_model``: call it with ``"name@3"`` / ``"name:champion"`` (registered in ``mlops_client``,
        which must be ``local``) to get a :class:`~mlops_sdk.testing.serving.ServedModel` with the running
        endpoint's ``url`` and ``key``; the endpoint is deleted after the test.

With ``--conformance-counts`` the terminal summary counts the conformance scenarios run, per backend
and capability (passed / skipped / failed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlops_sdk.testing.clock import FakeClock

if TYPE_CHECKING:
    from mlops_sdk.backends.memory import FaultInjector
    from mlops_sdk.clients.hub import MLOpsClient
    from mlops_sdk.testing.serving import ServedModel

__all__ = ["fake_clock", "mlops_client", "mlops_faults", "served_model"]

_BACKENDS = ("memory", "local")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``mlops_backend`` ini option and ``--conformance-counts``."""
    parser.addini("mlops_backend", "backend of the mlops_client fixture: memory (default) or local", default="memory")
    parser.addoption(
        "--conformance-counts",
        action="store_true",
        default=False,
        help="print how many conformance scenarios ran per backend and capability",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mlops_backend`` marker."""
    config.addinivalue_line("markers", "mlops_backend(name): backend of the mlops_client fixture (memory or local)")


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock whose ``sleep`` advances time instantly (polling, retries and deadlines never wait)."""
    return FakeClock()


@pytest.fixture
def mlops_client(request: pytest.FixtureRequest, fake_clock: FakeClock, tmp_path: Path) -> Iterator[MLOpsClient]:
    """A client on a fresh store: ``memory://`` on ``fake_clock`` by default, or ``local://`` in ``tmp_path``."""
    from mlops_sdk.clients.hub import MLOpsClient

    marker = request.node.get_closest_marker("mlops_backend")
    backend = str(marker.args[0]) if marker and marker.args else str(request.config.getini("mlops_backend"))
    if backend not in _BACKENDS:
        raise pytest.UsageError(f"mlops_backend must be one of {', '.join(_BACKENDS)}, got {backend!r}")
    if backend == "memory":
        client = MLOpsClient("memory://", clock=fake_clock, show_progress=False)
    else:
        client = MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mlops_faults(mlops_client: MLOpsClient) -> FaultInjector:
    """Fault injection on ``mlops_client``: ``mlops_faults.fail_next("training.submit", times=2)``."""
    from mlops_sdk.testing.memory import faults

    return faults(mlops_client)


@pytest.fixture
def served_model(mlops_client: MLOpsClient) -> Iterator[Callable[..., ServedModel]]:
    """``served_model("churn@1")`` -> a :class:`ServedModel` (url, key) on a real local endpoint."""
    from mlops_sdk.testing.serving import serve_model

    started: list[str] = []

    def serve(model: Any, *, endpoint: str | None = None) -> ServedModel:
        served = serve_model(mlops_client, model, endpoint=endpoint)
        started.append(served.endpoint)
        return served

    yield serve
    for name in started:
        mlops_client.deployments.delete_endpoint(name)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """With ``--conformance-counts``: scenarios per backend and capability, by outcome."""
    if not config.getoption("conformance_counts"):
        return
    counts: Counter[tuple[str, str, str]] = Counter()
    for outcome in ("passed", "skipped", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when != "call" and not (outcome == "skipped" and report.when == "setup"):
                continue
            for key, value in getattr(report, "user_properties", []):
                if key == "conformance":
                    backend, capability = value
                    counts[(backend, capability, outcome)] += 1
    terminalreporter.section("conformance scenarios per backend and capability")
    rows = sorted({(backend, capability) for backend, capability, _ in counts})
    if not rows:
        terminalreporter.write_line("no conformance scenarios ran")
        return
    terminalreporter.write_line(f"{'backend':<12} {'capability':<20} {'passed':>6} {'skipped':>7} {'failed':>6}")
    for backend, capability in rows:
        passed, skipped, failed = (counts[(backend, capability, o)] for o in ("passed", "skipped", "failed"))
        terminalreporter.write_line(f"{backend:<12} {capability:<20} {passed:>6} {skipped:>7} {failed:>6}")
    for backend in sorted({backend for backend, _ in rows}):
        total = Counter(o for (b, _, o), n in counts.items() for _ in range(n) if b == backend)
        terminalreporter.write_line(
            f"{backend}: {total['passed']} passed, {total['skipped']} skipped, {total['failed']} failed"
        )
