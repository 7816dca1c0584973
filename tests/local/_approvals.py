"""Shared setup of the local approval tests: a git identity, a store, reports, model versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.clients.approvals import ApprovalClient
from mlops_sdk.models.approvals import ReportFacts
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.testing import FakeClock

EMAIL = "Release.Manager@Example.com"
PASSED = ReportFacts(passed=True, outcome="passed", digest="sha256:passed-report")
FAILED = ReportFacts(passed=False, outcome="failed", digest="sha256:failed-report")


def git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, email: str | None = EMAIL) -> None:
    """Point git at a private global config holding ``user.email`` (or none)."""
    config = tmp_path / "gitconfig"
    config.write_text(f"[user]\n\temail = {email}\n" if email else "")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def model(created_by: str | None = "carol", version: str = "3") -> ModelVersion:
    """A registered model version made by ``created_by``."""
    return ModelVersion(name="churn", version=version, uri=f"models:/churn/{version}", created_by=created_by)


def local_client(folder: Path, clock: FakeClock, **kwargs: object) -> ApprovalClient:
    """An approvals client on a store in ``folder``."""
    return ApprovalClient(f"local://{folder}", clock=clock, **kwargs)  # type: ignore[arg-type]
