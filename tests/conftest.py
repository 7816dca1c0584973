"""Shared fixtures: isolated working folders and environment, a fake clock, the loopback TLS CA."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlops_sdk.testing import FakeClock

if TYPE_CHECKING:
    from tests.fakes.azurite import Azurite


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Secrets a test's own body registers for redaction are forgotten after it.

    The registry is process-wide by design (a value registered once is masked everywhere after), so a
    test that registered ``"x" * 8`` as a secret parameter made every later test on that worker see
    runs of x masked. What fixtures registered (module-scoped canaries) is kept: it happened in setup.
    """
    from mlops_sdk.core import redaction

    before = set(redaction._registered)
    try:
        return (yield)
    finally:
        with redaction._lock:
            redaction._registered.intersection_update(before)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak tests (long randomized sweeps) run only when selected: ``pytest -m soak`` / ``nox -s soak``."""
    if "soak" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="soak test: run it with `nox -s soak` (pytest -m soak)")
    for item in items:
        if item.get_closest_marker("soak") is not None:  # not item.keywords: it holds folder names too
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder with no MLOPS_* or CI variables leaking in."""
    for name in list(os.environ):
        if name.startswith(("MLOPS_", "BUILD_", "SYSTEM_", "GITHUB_", "TF_BUILD", "AZURE_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_DEVOPS_CACHE_DIR", str(tmp_path / ".azure-devops-cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    """A clock whose sleeps are instant."""
    return FakeClock()


@pytest.fixture(scope="session")
def tls_ca() -> object:
    """A trustme CA for loopback HTTPS fakes."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def ca_bundle(tls_ca: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake CA as a PEM file, for the ``ca_bundle`` setting (the SDK never reads REQUESTS_CA_BUNDLE)."""
    from tests.fakes.server import write_ca

    return write_ca(tls_ca, tmp_path_factory.mktemp("ca"))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def azurite(tls_ca: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service over HTTPS on 127.0.0.1 (trusting ``tls_ca``), in memory, one per session.

    Installed into ``.ci-node/`` by ``.ci/run`` (or on first use when npm is available); skips only when
    Node.js or npm is missing.
    """
    from tests.fakes.azurite import AzuriteUnavailableError, azurite_executable, run_azurite

    try:
        azurite_executable()
    except AzuriteUnavailableError as exc:
        pytest.skip(f"Azurite unavailable: {exc}")
    with run_azurite(tls_ca, tmp_path_factory.mktemp("azurite")) as service:  # type: ignore[arg-type]
        yield service
