"""Shared fixtures: isolated working folders and environment, a fake clock, the loopback TLS CA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops_sdk.testing import FakeClock


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak tests (long randomized sweeps) run only when selected: ``pytest -m soak`` / ``nox -s soak``."""
    if "soak" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="soak test: run it with `nox -s soak` (pytest -m soak)")
    for item in items:
        if "soak" in item.keywords:
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
def ca_bundle(tls_ca: object, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake CA as a PEM file, also set as REQUESTS_CA_BUNDLE (msrest / azure-devops honour only that)."""
    from tests.fakes.server import write_ca

    path = write_ca(tls_ca, tmp_path_factory.mktemp("ca"))  # type: ignore[arg-type]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(path))
    return path
