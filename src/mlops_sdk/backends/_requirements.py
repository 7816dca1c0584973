"""Does this Python environment satisfy an MLflow model's ``requirements.txt``? (The cheap way.)

``mlflow.pyfunc.load_model`` answers the same question, but first maps every importable module of
the environment to its distribution (``importlib_metadata.packages_distributions()``), which reads
every installed package's RECORD file: about a second per process in an environment with a few
hundred packages, paid on each validation. A requirement names its distribution already, so
asking ``importlib.metadata.version(name)`` per line gives the same answer in milliseconds.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

__all__ = ["python_version_mismatch", "requirement_mismatches"]


def _installed_version(name: str) -> str | None:
    if name.lower() == "mlflow":
        # Like MLflow: an editable install's metadata can be stale, the module knows its version.
        try:
            import mlflow

            return str(mlflow.__version__)
        except ImportError:
            return None
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirement_mismatches(model_folder: Path) -> list[str]:
    """The model's pip requirements this environment does not meet, as ``name (current: X, required: R)``.

    Lines that are not plain requirements (``-r``/``-c`` includes, paths, URLs) and requirements
    whose environment marker does not apply are skipped, as MLflow skips them. Development
    versions of MLflow satisfy any MLflow requirement (MLflow's rule as well).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    path = model_folder / "requirements.txt"
    if not path.is_file():
        return []
    mismatches = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")) or "://" in line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.url or (requirement.marker is not None and not requirement.marker.evaluate()):
            continue
        installed = _installed_version(requirement.name)
        if installed is None:
            mismatches.append(f"{requirement.name} (current: uninstalled, required: {line})")
            continue
        try:
            if requirement.name.lower() == "mlflow" and Version(installed).is_devrelease:
                continue
        except InvalidVersion:
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            mismatches.append(f"{requirement.name} (current: {installed}, required: {line})")
    return mismatches


def python_version_mismatch(model_python: str | None) -> str | None:
    """A message when the model was saved with another Python ``major.minor`` than this one, else ``None``."""
    if not model_python:
        return None
    parts = str(model_python).split(".")
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if len(parts) < 2 or ".".join(parts[:2]) == current:
        return None
    return f"the model was saved with Python {model_python}; this is Python {sys.version.split()[0]}"
