"""The cheap environment-vs-model requirements check that replaces MLflow's scan when loading models."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from mlops_sdk.backends._requirements import python_version_mismatch, requirement_mismatches


def _model(tmp_path: Path, lines: list[str]) -> Path:
    (tmp_path / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_met_requirements_give_no_mismatch(tmp_path: Path) -> None:
    pydantic = importlib.metadata.version("pydantic")
    folder = _model(tmp_path, [f"pydantic=={pydantic}", "pydantic>=1", "packaging", "# a comment"])
    assert requirement_mismatches(folder) == []


def test_wrong_versions_and_missing_packages_are_named_with_both_versions(tmp_path: Path) -> None:
    pydantic = importlib.metadata.version("pydantic")
    folder = _model(tmp_path, ["pydantic==0.0.1", "mlops-no-such-package==1.0", "packaging"])
    assert requirement_mismatches(folder) == [
        f"pydantic (current: {pydantic}, required: pydantic==0.0.1)",
        "mlops-no-such-package (current: uninstalled, required: mlops-no-such-package==1.0)",
    ]


def test_includes_urls_paths_and_markers_that_do_not_apply_are_skipped(tmp_path: Path) -> None:
    folder = _model(
        tmp_path,
        [
            "-r other.txt",
            "-c constraints.txt",
            "https://example.invalid/pkg.whl",
            "pkg @ https://example.invalid/pkg.whl",
            "mlops-no-such-package==1.0; python_version < '3.0'",
            "not a requirement !!",
        ],
    )
    assert requirement_mismatches(folder) == []


def test_a_model_without_requirements_has_no_mismatch(tmp_path: Path) -> None:
    assert requirement_mismatches(tmp_path) == []


def test_python_version_mismatch_compares_major_minor() -> None:
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert python_version_mismatch(f"{current}.99") is None
    assert python_version_mismatch(None) is None
    message = python_version_mismatch("2.7.18")
    assert message is not None
    assert "2.7.18" in message
    assert current in message
