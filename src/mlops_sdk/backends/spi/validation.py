"""Service protocol for validation: what the ``validation`` module of every backend provides.

Resolving versions and aliases is the model registry's job (``backends/spi/models.py``); this
service adds what validation needs on top: loading a version as a predictor (downloading it first
where it lives remotely), reading the metrics its training run logged, and recording a report with
the version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mlops_sdk.checks.context import LoadedModel
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import ValidationReport

__all__ = ["ValidationService"]


class ValidationService(Protocol):
    """Loads registered models, reads training metrics and records validation reports on one backend."""

    def load_model(self, model: ModelVersion) -> LoadedModel:
        """Load ``model`` (an MLflow model) ready to predict on pandas frames."""
        ...

    def training_metrics(self, model: ModelVersion) -> dict[str, float]:
        """Metrics the training run of ``model`` logged (empty when it has none)."""
        ...

    def fetch_data(self, uri: str) -> Path:
        """A local copy of remote data ``uri`` (a refresh output on the backend's storage), for checks to read.

        Raises:
            ConfigurationError: the backend cannot read ``uri`` (the message says what it can read).
        """
        ...

    def record_report(self, model: ModelVersion, report: ValidationReport) -> None:
        """Record ``report`` with ``model``: its facts as tags (the digest into lineage) and, where the
        backend can keep it, the whole report."""
        ...

    def get_report(self, digest: str) -> ValidationReport:
        """A recorded report by digest; :class:`~mlops_sdk.core.errors.ResourceNotFoundError` if unknown."""
        ...
