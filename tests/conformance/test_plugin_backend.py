"""A third-party backend found through a dist-info entry point passes the suites by delegating to memory.

The throwaway distribution ``thirdparty-mlops`` is written to a temp folder put on ``sys.path``: its
``entry_points.txt`` registers the scheme ``delegate`` in the ``mlops_sdk.backends`` group, exactly
what a plugin's ``pyproject.toml`` produces when installed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends import registry
from mlops_sdk.core.clock import Clock
from mlops_sdk.testing.conformance import *  # noqa: F403 - the suites and their fixtures
from mlops_sdk.testing.conformance import ConformanceBackend
from tests.conformance.test_memory import MEMORY_SUPPORTS, MEMORY_UNSUPPORTED

PACKAGE = "thirdparty_mlops"
BACKEND = '''
"""A backend that delegates every capability to mlops_sdk's memory backend."""
from typing import ClassVar
from mlops_sdk.backends.memory import MemoryBackend, MemoryTarget

class DelegateTarget(MemoryTarget):
    scheme: ClassVar[str] = "delegate"

class DelegateBackend(MemoryBackend):
    name: ClassVar[str] = "delegate"
    target_type = DelegateTarget
'''


@pytest.fixture(scope="module")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """site-packages-like folder holding the package and its dist-info."""
    root = tmp_path_factory.mktemp("site")
    package = root / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(BACKEND))
    for capability in (
        "models",
        "approvals",
        "training",
        "validation",
        "data_factory",
        "deployments",
        "training_pipeline",
        "monitoring",
    ):
        (package / f"{capability}.py").write_text(
            f"from mlops_sdk.backends.memory.{capability} import create_service\n"
        )
    info = root / "thirdparty_mlops-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-mlops\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mlops_sdk.backends]\ndelegate = {PACKAGE}:DelegateBackend\n")
    return root


@pytest.fixture
def installed(distribution: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(distribution))
    registry._plugins.cache_clear()
    yield
    registry._plugins.cache_clear()


def test_the_scheme_comes_from_the_entry_point(installed: None) -> None:
    assert "delegate" in registry.supported_schemes()
    assert registry.backend_class("delegate").__module__ == PACKAGE
    with MLOpsClient("delegate://") as client:
        assert client.models.backend_name == "delegate"


@pytest.fixture
def conformance_backend(installed: None) -> ConformanceBackend:
    def make_client(clock: Clock | None) -> MLOpsClient:
        return MLOpsClient("delegate://", clock=clock, show_progress=False)

    return ConformanceBackend(
        name="delegate", make_client=make_client, supports=MEMORY_SUPPORTS, unsupported=MEMORY_UNSUPPORTED
    )
