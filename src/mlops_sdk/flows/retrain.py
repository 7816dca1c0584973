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


def decide_retrain(
    current: Any,
    *,
    reference: Any = None,
    reference_version: str | None = None,
    max_psi: float = 0.2,
    features: Sequence[str] | None = None,
    force: bool = False,
) -> RetrainDecision:
    """Decide whether a model should be retrained on ``current``.

    Args:
        current: The fresh data: a refresh ``DataOutput``, a Parquet/CSV path or a DataFrame.
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
    return RetrainDecision(
        retrain=bool(reasons),
        reasons=tuple(reasons),
        new_snapshot=new_snapshot,
        data_version=data.version,
        reference_version=known,
        drift=drift,
        drifted=drifted,
    )


def _numeric(series: Any) -> bool:
    from pandas.api import types

    return bool(types.is_numeric_dtype(series) and not types.is_bool_dtype(series))
