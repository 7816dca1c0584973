"""``ValidationClient``: run checks on a registered model and get the gate's outcome as a value."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from mlops_sdk.backends.spi.keys import MODELS, VALIDATION
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.backends.spi.validation import ValidationService
from mlops_sdk.checks.context import CheckContext
from mlops_sdk.checks.data import load_dataset
from mlops_sdk.checks.runner import check_names, run_checks
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.lineage import collect_lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import ALIAS, check_alias
from mlops_sdk.models.registry import ModelRef, ModelVersion
from mlops_sdk.models.validation import ReportModel, ValidationReport

__all__ = ["ValidationClient"]

_log = get_logger(__name__)


def _report_model(version: ModelVersion) -> ReportModel:
    return ReportModel(name=version.name, version=version.version, uri=version.uri, run_id=version.run_id)


def _typo_of(typed: str, alias: str) -> bool:
    """Whether ``typed`` reads as a slip of ``alias``: another case, two neighbours swapped, or one
    character more or less. A one-character substitution is not one: ``prod-1``/``prod-2`` are real names."""
    if typed == alias:
        return False
    if typed.casefold() == alias.casefold():
        return True
    if len(typed) == len(alias):
        diff = [i for i, (a, b) in enumerate(zip(typed, alias, strict=True)) if a != b]
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and typed[diff[0]] == alias[diff[1]]
            and typed[diff[1]] == alias[diff[0]]
        )
    shorter, longer = sorted((typed, alias), key=len)
    if len(longer) - len(shorter) != 1 or len(shorter) < 3:
        return False
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


class ValidationClient(BaseClient):
    """Validation gates: thresholds, champion vs challenger, data quality, drift, signature.

    The outcome is a value (``report.passed`` / ``report.outcome``); ``report.raise_for_gate()``
    turns it into :class:`~mlops_sdk.core.errors.ValidationFailedError` when you want an exception.
    Also ``MLOpsClient(...).validation``.
    """

    _capability = "validation"

    def _svc(self) -> ValidationService:
        return self._service(VALIDATION)

    def _models(self) -> ModelService:
        return self._service(MODELS)

    def _resolve(self, model: ModelVersion | str) -> ModelVersion:
        if isinstance(model, ModelVersion):
            return model
        if not isinstance(model, str):
            raise ConfigurationError(
                f"model must be a ModelVersion or 'name@version' / 'name:alias', got {type(model).__name__}",
                details={"field": "model"},
            )
        ref = ModelRef.parse(model)
        if ref.version is not None:
            return self._models().get(ref.name, ref.version)
        return self._models().get_by_alias(ref.name, ref.alias or "")

    def _champion(self, model: ModelVersion, alias: str) -> ModelVersion | None:
        with contextlib.suppress(ResourceNotFoundError):  # no version holds it: a first model, or a typo
            return self._models().get_by_alias(model.name, alias)
        # No champion yet is "first model" (BeatsChampion passes), so a misspelt alias must not read as one.
        held = sorted({name for version in self._models().list(model.name) for name in version.aliases})
        close = next((name for name in held if _typo_of(alias, name)), None)
        if close is not None:
            raise ConfigurationError(
                f"no version of {model.name} holds the champion alias {alias!r}; did you mean {close!r}? "
                f"(aliases of {model.name}: {', '.join(held)})",
                details={"field": "champion", "value": alias, "suggestion": close},
            )
        return None

    def validate(
        self,
        model: ModelVersion | str,
        *,
        data: Any = None,
        checks: Sequence[Any],
        champion: str = "champion",
        target: str | None = None,
        record: bool = True,
    ) -> ValidationReport:
        """Run ``checks`` on ``model`` and return the report (its outcome is a value, never an exception).

        Args:
            model: A :class:`ModelVersion`, ``"name@version"`` or ``"name:alias"``.
            data: Evaluation data, pinned for every check: a pandas ``DataFrame``, a Parquet/CSV/JSON
                path, or a refresh ``DataOutput``. Metric checks and ``BeatsChampion`` score on it.
            checks: The checks (see :mod:`mlops_sdk.checks`), run in order.
            champion: Alias of the version to compare with (``BeatsChampion``); no version holds it ->
                "first model", unless it reads as a slip of an alias the model has (refused: see validation.md).
            target: Label column of ``data`` (default: the one column the model's signature does not take).
            record: Record the report with the model version (tags, and the whole report where the
                backend keeps it) so its digest is in the version's lineage.

        Returns:
            The :class:`ValidationReport`: ``outcome`` is ``promote`` (every check passed),
            ``not_promoted`` (only comparative checks failed: fine but not better) or ``failed``.
            A check that raised is a failed check carrying its error.

        Raises:
            ConfigurationError: bad input found before any check ran: unknown metric (the message
                lists those that exist), data missing a column the model takes (named), unreadable data.
            ResourceNotFoundError: the model version does not exist.
        """
        if isinstance(checks, (str, bytes)) or not isinstance(checks, Sequence) or not checks:
            raise ConfigurationError("checks must be a non-empty list of checks", details={"field": "checks"})
        check_names(checks)
        if not isinstance(champion, str) or not ALIAS.match(champion):
            raise ConfigurationError(
                f"champion must be an alias name such as 'champion', got {champion!r}", details={"field": "champion"}
            )
        check_alias(champion, field="champion")  # 'latest' and v<number> name no alias
        candidate = self._resolve(model)
        champion_version = self._champion(candidate, champion)
        service = self._svc()
        dataset = load_dataset(data, field="data", fetch=service.fetch_data) if data is not None else None
        context = CheckContext(
            candidate=candidate,
            champion=champion_version,
            champion_alias=champion,
            data=dataset,
            target=target,
            load_model=service.load_model,
            read_training_metrics=service.training_metrics,
            fetch_data=service.fetch_data,
        )
        results = run_checks(context, checks)
        lineage = collect_lineage().with_inputs(
            data_versions=dict(context.data_versions) or None, training_run_id=candidate.run_id
        )
        report = ValidationReport.build(
            model=_report_model(candidate),
            champion=_report_model(champion_version) if champion_version is not None else None,
            champion_alias=champion,
            checks=results,
            data_versions=context.data_versions,
            metrics=context.scores.get(candidate.ref, {}),
            champion_metrics=context.scores.get(champion_version.ref, {}) if champion_version else {},
            backend=self._context.backend.name,
            created_at=self._context.clock.now(),
            lineage=lineage,
        )
        _log.info("validation of %s: %s (%s)", candidate.ref, report.outcome, report.digest)
        if record:
            service.record_report(candidate, report)
        return report

    def get_report(self, digest: str) -> ValidationReport:
        """A report recorded by :meth:`validate`, by digest.

        Raises:
            ResourceNotFoundError: no report with that digest on this backend.
        """
        if not isinstance(digest, str) or not digest.strip():
            raise ConfigurationError("digest must be a non-empty string", details={"field": "digest"})
        return self._svc().get_report(digest.strip())
