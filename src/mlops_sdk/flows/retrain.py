"""Retraining on new data or drift: the decision a scheduled or data-triggered flow starts with.

.. code-block:: python

    with Flow("nightly", client=client) as flow:
        refresh = flow.step("refresh", lambda s: client.data_factory.begin_refresh("features"))
        champion = client.models.get_by_alias("diabetes", "champion")
        decision = flow.step("should-retrain", lambda s: decide_retrain(
            refresh.outputs["train_set"], reference=previous_snapshot,
            reference_version=champion.lineage.data_versions.get("data")))
        if not decision.retrain:
            flow.finish("up_to_date")          # ends the with-block cleanly
        run = flow.step("train", ...)

Retrain when the refresh produced a snapshot the champion was not trained on (a new data version) or
when any feature drifted (PSI above ``max_psi``) from the reference snapshot; ``force=True`` always
retrains. The drift computation is the one :class:`~mlops_sdk.checks.NoDrift` uses.

Production monitoring feeds the same decision: ``decide_retrain(monitor_report=report)`` retrains when the
:class:`~mlops_sdk.models.monitoring.MonitorReport` of ``client.monitoring.run(monitor)`` alerted (drift
in the captured inputs, data quality, a performance drop on the labelled rows), with each alert as a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["RetrainDecision", "decide_retrain"]


class RetrainDecision(BaseModel):
    """Whether to retrain, and why.

    Attributes:
        retrain: True when a reason below holds.
        reasons: Human-readable reasons (empty when up to date).
        new_snapshot: The data version differs from the one the reference model was trained on.
        data_version: Version of the current data.
        reference_version: Version the reference model was trained on, if known.
        drift: Feature -> PSI between the reference and the current data (empty without a reference).
        drifted: Features whose PSI exceeds ``max_psi``.
    """

    model_config = ConfigDict(frozen=True)

    retrain: bool
    reasons: tuple[str, ...] = ()
    new_snapshot: bool = False
    data_version: str | None = None
    reference_version: str | None = None
    drift: dict[str, float] = Field(default_factory=dict)
    drifted: tuple[str, ...] = ()
    monitor_digest: str | None = None


def decide_retrain(
    current: Any = None,
    *,
    monitor_report: Any = None,
    reference: Any = None,
    reference_version: str | None = None,
    max_psi: float = 0.2,
    features: Sequence[str] | None = None,
    force: bool = False,
) -> RetrainDecision:
    """Decide whether a model should be retrained on ``current``.

    Args:
        current: The fresh data: a refresh ``DataOutput``, a Parquet/CSV path or a DataFrame (optional
            when ``monitor_report`` is given).
        monitor_report: A :class:`~mlops_sdk.models.monitoring.MonitorReport`: its alerts are reasons to
            retrain, its drifted features land in ``drifted`` and their PSI in ``drift``.
        reference: The data the current model was trained on (same forms), for drift; optional.
        reference_version: The data version the current model was trained on (e.g. from its lineage
            ``data_versions``); default: ``reference``'s version when a reference is given.
        max_psi: Largest PSI per feature that does not count as drift.
        features: Columns to compare (default: every numeric column both datasets have).
        force: Retrain regardless.

    Raises:
        ConfigurationError: unreadable data, or named features missing from either dataset.
    """
    from mlops_sdk.checks.data import load_dataset
    from mlops_sdk.checks.stats import psi_categorical, psi_numeric

    if max_psi <= 0:
        raise ConfigurationError(f"max_psi must be positive, got {max_psi}", details={"field": "max_psi"})
    if monitor_report is not None:
        from mlops_sdk.models.monitoring import MonitorReport

        if not isinstance(monitor_report, MonitorReport):
            raise ConfigurationError(
                "monitor_report must be a MonitorReport (from client.monitoring.run), "
                f"got {type(monitor_report).__name__}",
                details={"field": "monitor_report"},
            )
        if current is None:
            return _from_monitor(monitor_report, force=force)
    if current is None:
        raise ConfigurationError("pass the current data, or monitor_report=", details={"field": "current"})
    data = load_dataset(current, field="current")
    reasons: list[str] = ["forced"] if force else []
    drift: dict[str, float] = {}
    baseline = load_dataset(reference, field="reference") if reference is not None else None
    known = reference_version or (baseline.version if baseline is not None else None)
    new_snapshot = known is not None and known != data.version
    if known is None:
        reasons.append("no reference data version: nothing says the current model saw this data")
    elif new_snapshot:
        reasons.append(f"new data version {data.version[:19]} (model trained on {known[:19]})")
    if baseline is not None:
        columns = (
            list(features)
            if features is not None
            else [str(column) for column in data.frame.columns if column in baseline.frame.columns]
        )
        missing = [c for c in columns if c not in data.frame.columns or c not in baseline.frame.columns]
        if missing:
            raise ConfigurationError(
                f"features {', '.join(missing)} are not in both datasets", details={"field": "features"}
            )
        for column in columns:
            old, new = baseline.frame[column].dropna(), data.frame[column].dropna()
            numeric = _numeric(old) and _numeric(new)
            drift[column] = float(psi_numeric(old, new) if numeric else psi_categorical(old, new))
    drifted = tuple(sorted(column for column, value in drift.items() if value > max_psi))
    if drifted:
        reasons.append(
            "drift: " + ", ".join(f"{column} PSI {drift[column]:.3f}" for column in drifted) + f" > {max_psi}"
        )
    decision = RetrainDecision(
        retrain=bool(reasons),
        reasons=tuple(reasons),
        new_snapshot=new_snapshot,
        data_version=data.version,
        reference_version=known,
        drift=drift,
        drifted=drifted,
    )
    if monitor_report is None:
        return decision
    monitored = _from_monitor(monitor_report, force=False)
    return decision.model_copy(
        update={
            "retrain": decision.retrain or monitored.retrain,
            "reasons": decision.reasons + monitored.reasons,
            "drifted": tuple(sorted(set(decision.drifted) | set(monitored.drifted))),
            "monitor_digest": monitored.monitor_digest,
        }
    )


def _from_monitor(report: Any, *, force: bool) -> RetrainDecision:
    """The decision a monitor report alone supports: every alert is a reason."""
    reasons = (["forced"] if force else []) + [f"monitor {report.monitor}: {alert}" for alert in report.alerts]
    drift = {
        item.feature: float(item.psi)
        for signal in report.signals
        if signal.kind == "data_drift"
        for item in signal.features
        if item.psi is not None
    }
    return RetrainDecision(
        retrain=bool(reasons),
        reasons=tuple(reasons),
        drift=drift,
        drifted=tuple(sorted(report.drifted_features())),
        monitor_digest=report.digest,
    )


def _numeric(series: Any) -> bool:
    from pandas.api import types

    return bool(types.is_numeric_dtype(series) and not types.is_bool_dtype(series))
