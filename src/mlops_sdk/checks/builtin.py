"""The built-in checks: thresholds, champion vs challenger, data quality, drift, signature."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mlops_sdk.checks._arguments import checked_arguments
from mlops_sdk.checks.context import CheckContext
from mlops_sdk.checks.data import Dataset, load_dataset
from mlops_sdk.checks.metrics import Metric, available_metrics, find_metric, get_metric
from mlops_sdk.checks.stats import improvement, ks_test, paired_bootstrap, psi_categorical, psi_numeric
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.validation import CheckResult, FeatureDrift, MetricComparison

__all__ = ["BeatsChampion", "DataQuality", "MetricThreshold", "NoDrift", "SignatureCheck"]


def _set_default_name(check: Any, name: str) -> None:
    if not check.name:
        object.__setattr__(check, "name", name)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _metric_name(metric: str | Metric) -> str:
    return metric.name if isinstance(metric, Metric) else str(metric)


# -- MetricThreshold ---------------------------------------------------------------------------------


@checked_arguments
@dataclass(frozen=True)
class MetricThreshold:
    """A metric must stay within ``[min, max]``.

    Args:
        metric: Metric name (a training metric the run logged, or one of
            :func:`~mlops_sdk.checks.available_metrics`), or a :class:`Metric`.
        min: Lowest acceptable value (inclusive).
        max: Highest acceptable value (inclusive).
        source: ``"data"``: computed on the evaluation data; ``"training"``: as the training run logged
            it; ``"auto"`` (default): on the data when data was given and the metric can be computed,
            else the training metric.
        name: Name in the report (default ``threshold:<metric>``).
    """

    metric: str | Metric
    min: float | None = None
    max: float | None = None
    source: Literal["auto", "data", "training"] = "auto"
    name: str = ""
    comparative: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not _metric_name(self.metric).strip():
            raise ConfigurationError(
                "MetricThreshold needs a metric name (a metric the training run logged, or one of "
                f"{', '.join(available_metrics())})",
                details={"field": "metric"},
            )
        if self.min is None and self.max is None:
            raise ConfigurationError(
                f"MetricThreshold({_metric_name(self.metric)!r}) needs min=, max= or both", details={"field": "min"}
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigurationError(
                f"MetricThreshold({_metric_name(self.metric)!r}): min {self.min} is above max {self.max}",
                details={"field": "min"},
            )
        if self.source not in ("auto", "data", "training"):
            raise ConfigurationError(
                f"MetricThreshold source must be auto, data or training, not {self.source!r}",
                details={"field": "source"},
            )
        _set_default_name(self, f"threshold:{_metric_name(self.metric)}")

    def _resolve(self, context: CheckContext) -> Literal["data", "training"]:
        name = _metric_name(self.metric)
        computable = isinstance(self.metric, Metric) or find_metric(name) is not None
        if self.source == "data" or (self.source == "auto" and context.data is not None and computable):
            context.require_data(f"MetricThreshold({name!r}) on data")
            get_metric(self.metric)  # unknown name -> error listing the metrics that exist
            return "data"
        logged = context.training_metrics(context.candidate)
        if name not in logged:
            raise ConfigurationError(
                f"unknown metric {name!r} for {context.candidate.ref}: its training run logged "
                f"{', '.join(sorted(logged)) or 'no metrics'}"
                + (
                    f"; computable on the evaluation data: {', '.join(available_metrics())}"
                    if self.source == "auto"
                    else ""
                ),
                details={"field": "metric", "value": name, "training_metrics": sorted(logged)},
            )
        return "training"

    def prepare(self, context: CheckContext) -> None:
        """Fail fast on an unknown metric or missing columns."""
        if self._resolve(context) == "data":
            context.require_columns(context.candidate)
            _ = context.target

    def expected(self) -> dict[str, float]:
        """The bounds as a mapping (only those set)."""
        return {key: value for key, value in (("min", self.min), ("max", self.max)) if value is not None}

    def run(self, context: CheckContext) -> CheckResult:
        """Compare the metric with the bounds."""
        name = _metric_name(self.metric)
        source = self._resolve(context)
        if source == "data":
            value = context.score(context.candidate, self.metric)
            where = "on the evaluation data"
        else:
            value = context.training_metrics(context.candidate)[name]
            where = "logged by training"
        if math.isnan(value):
            passed, why = False, "is not a number"
        elif self.min is not None and value < self.min:
            passed, why = False, f"is below the minimum {_fmt(self.min)}"
        elif self.max is not None and value > self.max:
            passed, why = False, f"is above the maximum {_fmt(self.max)}"
        else:
            bounds = " and ".join(
                f"{word} {_fmt(bound)}"
                for word, bound in (("at least", self.min), ("at most", self.max))
                if bound is not None
            )
            passed, why = True, f"is {bounds}"
        return CheckResult(
            name=self.name,
            passed=passed,
            kind="MetricThreshold",
            observed=value,
            expected=self.expected(),
            message=f"{name} {_fmt(value)} ({where}) {why}",
        )


# -- BeatsChampion -----------------------------------------------------------------------------------


@checked_arguments
@dataclass(frozen=True)
class BeatsChampion:
    """The candidate must beat the current champion on the SAME pinned evaluation data.

    Both models are re-scored now on ``data``; the champion is the version holding the alias
    (``champion`` by default) — never "the latest registered", never every historical version. With no
    champion yet the check passes ("first model").

    Args:
        metric: A metric computable on data (see :func:`~mlops_sdk.checks.available_metrics`).
        greater_is_better: Direction (default: the metric's own).
        min_delta: The improvement must be strictly larger than this (0: strictly better; negative:
            "not worse by more than").
        relative: Improvement and ``min_delta`` as fractions of the champion's value (0.02 = 2 %).
        bootstrap: Number of paired bootstrap resamples; when set, the lower end of the confidence
            interval of the improvement must also exceed ``min_delta`` (rejects improvements that are noise).
        confidence: Confidence level of that interval.
        seed: Random seed of the resampling (reports are reproducible).
        name: Name in the report (default ``beats_champion:<metric>``).
    """

    metric: str | Metric
    greater_is_better: bool | None = None
    min_delta: float = 0.0
    relative: bool = False
    bootstrap: int | None = None
    confidence: float = 0.95
    seed: int = 0
    name: str = ""
    comparative: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigurationError(
                f"BeatsChampion confidence must be in [0.5, 1), got {self.confidence}", details={"field": "confidence"}
            )
        if self.bootstrap is not None and not 50 <= self.bootstrap <= 100_000:
            raise ConfigurationError(
                f"BeatsChampion bootstrap must be between 50 and 100000 resamples, got {self.bootstrap}",
                details={"field": "bootstrap"},
            )
        get_metric(self.metric)
        _set_default_name(self, f"beats_champion:{_metric_name(self.metric)}")

    def prepare(self, context: CheckContext) -> None:
        """Both models must be scorable on the evaluation data."""
        context.require_data("BeatsChampion (it re-scores candidate and champion on the same data)")
        context.require_columns(context.candidate)
        if context.champion is not None:
            context.require_columns(context.champion)
        _ = context.target

    def run(self, context: CheckContext) -> CheckResult:
        """Score both, compare, optionally bootstrap the difference."""
        metric = get_metric(self.metric)
        greater = metric.greater_is_better if self.greater_is_better is None else self.greater_is_better
        candidate = context.score(context.candidate, metric)
        base = MetricComparison(
            metric=metric.name,
            greater_is_better=greater,
            candidate=candidate,
            relative=self.relative,
            min_delta=self.min_delta,
        )
        expected: dict[str, Any] = {"min_delta": self.min_delta, "relative": self.relative}
        champion_version = context.champion
        if champion_version is None:
            return CheckResult(
                name=self.name,
                passed=True,
                kind="BeatsChampion",
                comparative=True,
                observed=None,
                expected=expected,
                message=f"first model: no version of {context.candidate.name} holds alias "
                f"{context.champion_alias!r}; {metric.name} {_fmt(candidate)}",
                comparison=base,
            )
        if champion_version.ref == context.candidate.ref:
            return CheckResult(
                name=self.name,
                passed=True,
                kind="BeatsChampion",
                comparative=True,
                observed=0.0,
                expected=expected,
                message=f"{context.candidate.ref} is the current champion ({context.champion_alias!r})",
                comparison=base.model_copy(update={"champion": candidate, "improvement": 0.0}),
            )
        champion = context.score(champion_version, metric)
        gain = improvement(candidate, champion, greater_is_better=greater, relative=self.relative)
        unit = " (relative)" if self.relative else ""
        passed = gain > self.min_delta
        low = high = None
        summary = (
            f"{metric.name} {_fmt(candidate)} vs champion {champion_version.ref} {_fmt(champion)}: "
            f"improvement{unit} {_fmt(gain)}"
        )
        if passed and self.bootstrap:
            low, high = paired_bootstrap(
                context.labels(),
                context.predictions(context.candidate),
                context.predictions(champion_version),
                metric,
                greater_is_better=greater,
                relative=self.relative,
                resamples=self.bootstrap,
                confidence=self.confidence,
                seed=self.seed,
            )
            if low <= self.min_delta:
                passed = False
                message = (
                    f"{summary}, but its {self.confidence:.0%} paired bootstrap interval "
                    f"[{_fmt(low)}, {_fmt(high)}] does not stay above {_fmt(self.min_delta)}: the improvement "
                    "may be noise"
                )
            else:
                message = (
                    f"{summary} > {_fmt(self.min_delta)}, {self.confidence:.0%} paired bootstrap interval "
                    f"[{_fmt(low)}, {_fmt(high)}]"
                )
        elif passed:
            message = f"{summary} > required {_fmt(self.min_delta)}"
        else:
            message = f"{summary} is not more than min_delta {_fmt(self.min_delta)}: not better than the champion"
        comparison = base.model_copy(
            update={
                "champion": champion,
                "improvement": gain,
                "ci_low": low,
                "ci_high": high,
                "confidence": self.confidence if self.bootstrap else None,
                "resamples": self.bootstrap,
            }
        )
        return CheckResult(
            name=self.name,
            passed=passed,
            kind="BeatsChampion",
            comparative=True,
            observed=gain,
            expected=expected,
            message=message,
            comparison=comparison,
        )


# -- DataQuality -------------------------------------------------------------------------------------

_KINDS = ("number", "integer", "float", "string", "bool", "datetime", "category")


def _kind_ok(series: Any, kind: str) -> bool:
    from pandas.api import types

    checks = {
        "number": lambda s: types.is_numeric_dtype(s) and not types.is_bool_dtype(s),
        "integer": types.is_integer_dtype,
        "float": types.is_float_dtype,
        "string": lambda s: types.is_string_dtype(s) or types.is_object_dtype(s),
        "bool": types.is_bool_dtype,
        "datetime": types.is_datetime64_any_dtype,
        "category": lambda s: isinstance(s.dtype, __import__("pandas").CategoricalDtype),
    }
    return bool(checks[kind](series))


@checked_arguments
@dataclass(frozen=True)
class DataQuality:
    """The evaluation data must have the expected shape and content.

    Args:
        schema: Column -> kind (``number``, ``integer``, ``float``, ``string``, ``bool``, ``datetime``,
            ``category``); each column must exist with that kind.
        not_null: Columns that must have no missing values (one name or several).
        ranges: Column -> ``(low, high)`` inclusive bounds (either may be ``None``).
        min_rows: Fewest acceptable rows.
        name: Name in the report (default ``data_quality``).
    """

    schema: Mapping[str, str] = field(default_factory=dict)
    not_null: str | Sequence[str] = ()
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    min_rows: int | None = None
    name: str = ""
    comparative: ClassVar[bool] = False

    def __post_init__(self) -> None:
        bad = {column: kind for column, kind in dict(self.schema).items() if kind not in _KINDS}
        if bad:
            raise ConfigurationError(
                f"DataQuality schema kinds {bad} are unknown; use one of {', '.join(_KINDS)}",
                details={"field": "schema"},
            )
        if isinstance(self.not_null, str):
            object.__setattr__(self, "not_null", (self.not_null,))
        for column, bounds in dict(self.ranges).items():
            if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
                raise ConfigurationError(
                    f"DataQuality ranges[{column!r}] must be (low, high), got {bounds!r}", details={"field": "ranges"}
                )
        if not (self.schema or self.not_null or self.ranges or self.min_rows is not None):
            raise ConfigurationError(
                "DataQuality needs at least one of schema=, not_null=, ranges=, min_rows=", details={"field": "schema"}
            )
        _set_default_name(self, "data_quality")

    def prepare(self, context: CheckContext) -> None:
        """The check needs evaluation data."""
        context.require_data("DataQuality")

    def expected(self) -> dict[str, Any]:
        """The rules as a mapping (only those set)."""
        rules: dict[str, Any] = {}
        if self.min_rows is not None:
            rules["min_rows"] = self.min_rows
        if self.schema:
            rules["schema"] = dict(self.schema)
        if self.not_null:
            rules["not_null"] = list(self.not_null)
        if self.ranges:
            rules["ranges"] = {column: list(bounds) for column, bounds in self.ranges.items()}
        return rules

    def run(self, context: CheckContext) -> CheckResult:
        """Count rows, check kinds, nulls and ranges; report every violation."""
        frame = context.require_data("DataQuality").frame
        observed: dict[str, Any] = {"rows": len(frame)}
        problems: list[str] = []
        if self.min_rows is not None and len(frame) < self.min_rows:
            problems.append(f"{len(frame)} rows, fewer than {self.min_rows}")
        named = [*self.schema, *self.not_null, *self.ranges]
        missing = sorted({column for column in named if column not in frame.columns})
        if missing:
            observed["missing_columns"] = missing
            problems.append(f"missing column(s) {', '.join(missing)}")
        wrong = {
            column: f"expected {kind}, got {frame[column].dtype}"
            for column, kind in self.schema.items()
            if column in frame.columns and not _kind_ok(frame[column], kind)
        }
        if wrong:
            observed["schema"] = wrong
            problems += [f"{column} {why}" for column, why in wrong.items()]
        nulls = {column: int(frame[column].isna().sum()) for column in self.not_null if column in frame.columns}
        nulls = {column: count for column, count in nulls.items() if count}
        if nulls:
            observed["nulls"] = nulls
            problems += [f"{column} has {count} missing value(s)" for column, count in nulls.items()]
        outside: dict[str, int] = {}
        for column, (low, high) in self.ranges.items():
            if column not in frame.columns:
                continue
            values = frame[column]
            mask = values.notna() & (
                (values < low if low is not None else False) | (values > high if high is not None else False)
            )
            if int(mask.sum()):
                outside[column] = int(mask.sum())
        if outside:
            observed["out_of_range"] = outside
            problems += [
                f"{column} has {count} value(s) outside [{self.ranges[column][0]}, {self.ranges[column][1]}]"
                for column, count in outside.items()
            ]
        message = "; ".join(problems) if problems else f"{len(frame)} rows meet every rule"
        return CheckResult(
            name=self.name,
            passed=not problems,
            kind="DataQuality",
            observed=observed,
            expected=self.expected(),
            message=message,
        )


# -- NoDrift -----------------------------------------------------------------------------------------


def _is_numeric(series: Any) -> bool:
    from pandas.api import types

    return bool(types.is_numeric_dtype(series) and not types.is_bool_dtype(series))


@checked_arguments
@dataclass(frozen=True)
class NoDrift:
    """No feature may drift between the reference (training snapshot) and the evaluation data.

    Per feature: the population stability index (PSI, bins at the reference's deciles for numbers, the
    categories otherwise) and, for numbers, the two-sample Kolmogorov-Smirnov test. A feature drifts
    when its PSI exceeds ``max_psi`` or, when ``ks_pvalue`` is set, its KS p-value falls below it.

    Args:
        reference: The training snapshot: a DataFrame, a Parquet/CSV path or the refresh ``DataOutput``.
        max_psi: Largest acceptable PSI (0.1 is commonly read as "no shift", 0.25 as "major shift").
        ks_pvalue: When set, a KS p-value below it also counts as drift (numeric features). Off by
            default: on large samples KS flags shifts too small to matter.
        features: Columns to compare, one name or several (default: every column both have, except the label).
        bins: Number of quantile bins for numeric PSI.
        name: Name in the report (default ``no_drift``).
    """

    reference: Any
    max_psi: float = 0.2
    ks_pvalue: float | None = None
    features: str | Sequence[str] | None = None
    bins: int = 10
    name: str = ""
    comparative: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.reference is None:
            raise ConfigurationError(
                "NoDrift needs reference=: the training snapshot (a DataFrame, a Parquet/CSV path or the refresh "
                "output that fed training)",
                details={"field": "reference"},
            )
        if self.max_psi <= 0:
            raise ConfigurationError(
                f"NoDrift max_psi must be positive, got {self.max_psi}", details={"field": "max_psi"}
            )
        if self.ks_pvalue is not None and not 0 < self.ks_pvalue < 1:
            raise ConfigurationError(
                f"NoDrift ks_pvalue must be in (0, 1), got {self.ks_pvalue}", details={"field": "ks_pvalue"}
            )
        if self.bins < 2:
            raise ConfigurationError(f"NoDrift bins must be at least 2, got {self.bins}", details={"field": "bins"})
        if isinstance(self.features, str):
            object.__setattr__(self, "features", (self.features,))
        _set_default_name(self, "no_drift")

    def _reference(self, context: CheckContext) -> Dataset:
        role = "reference" if self.name == "no_drift" else f"reference:{self.name}"
        key = f"NoDrift:{role}"
        if key not in context.cache:
            context.cache[key] = context.dataset(role, self.reference)
        loaded: Dataset = context.cache[key]
        return loaded

    def _features(self, context: CheckContext, reference: Dataset) -> list[str]:
        current = context.require_data("NoDrift").frame
        if self.features is not None:
            wanted = list(self.features)
            missing = [f for f in wanted if f not in current.columns or f not in reference.frame.columns]
            if missing:
                raise ConfigurationError(
                    f"NoDrift features {', '.join(missing)} are not in both datasets; reference has "
                    f"{', '.join(map(str, reference.frame.columns))}; evaluation data has "
                    f"{', '.join(map(str, current.columns))}",
                    details={"field": "features", "missing": missing},
                )
            return wanted
        inputs = context.model(context.candidate).input_columns
        if inputs is not None and all(c in current.columns and c in reference.frame.columns for c in inputs):
            return list(inputs)
        label = context.known_target()
        common = [str(c) for c in current.columns if c in reference.frame.columns and c != label]
        if not common:
            raise ConfigurationError(
                "NoDrift found no column shared by the reference and the evaluation data; "
                f"reference has {', '.join(map(str, reference.frame.columns))}",
                details={"field": "reference"},
            )
        return common

    def prepare(self, context: CheckContext) -> None:
        """Load the reference and check the features exist in both datasets."""
        self._features(context, self._reference(context))

    def run(self, context: CheckContext) -> CheckResult:
        """PSI (and KS) per feature."""
        reference = self._reference(context)
        current = context.require_data("NoDrift").frame
        results = []
        for feature in self._features(context, reference):
            ref, cur = reference.frame[feature], current[feature]
            if _is_numeric(ref) and _is_numeric(cur):
                psi = psi_numeric(ref.to_numpy(), cur.to_numpy(), bins=self.bins)
                statistic, pvalue = ks_test(ref.to_numpy(), cur.to_numpy())
                kind: Literal["numeric", "categorical"] = "numeric"
            else:
                psi, statistic, pvalue, kind = psi_categorical(ref, cur), None, None, "categorical"
            reasons = []
            if not psi <= self.max_psi:
                reasons.append(f"PSI {_fmt(psi)} > {_fmt(self.max_psi)}")
            if self.ks_pvalue is not None and pvalue is not None and pvalue < self.ks_pvalue:
                reasons.append(f"KS p-value {pvalue:.3g} < {self.ks_pvalue:g}")
            results.append(
                FeatureDrift(
                    feature=feature,
                    kind=kind,
                    psi=psi,
                    ks_statistic=statistic,
                    ks_pvalue=pvalue,
                    drifted=bool(reasons),
                    reason="; ".join(reasons) or None,
                )
            )
        drifted = [item for item in results if item.drifted]
        worst = max(results, key=lambda item: item.psi if not math.isnan(item.psi) else math.inf)
        if drifted:
            message = "drift in " + ", ".join(f"{item.feature} ({item.reason})" for item in drifted)
        else:
            message = f"{len(results)} features stable; largest PSI {_fmt(worst.psi)} ({worst.feature})"
        expected: dict[str, Any] = {"max_psi": self.max_psi}
        if self.ks_pvalue is not None:
            expected["ks_pvalue"] = self.ks_pvalue
        return CheckResult(
            name=self.name,
            passed=not drifted,
            kind="NoDrift",
            observed={"max_psi": worst.psi, "drifted": [item.feature for item in drifted]},
            expected=expected,
            message=message,
            drift=tuple(results),
        )


# -- SignatureCheck ----------------------------------------------------------------------------------


@checked_arguments
@dataclass(frozen=True)
class SignatureCheck:
    """The model accepts a sample payload and answers one finite prediction per row.

    Args:
        sample: Rows to send: a DataFrame, records, a dict of columns or a Parquet/CSV/JSON path
            (default: the first ``rows`` rows of the evaluation data).
        rows: Rows taken from the evaluation data when ``sample`` is not given.
        name: Name in the report (default ``signature``).
    """

    sample: Any = None
    rows: int = 5
    name: str = ""
    comparative: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ConfigurationError(
                f"SignatureCheck rows must be at least 1, got {self.rows}", details={"field": "rows"}
            )
        _set_default_name(self, "signature")

    def _frame(self, context: CheckContext) -> Any:
        if self.sample is None:
            return context.require_data("SignatureCheck without sample=").frame.head(self.rows)
        return load_dataset(self.sample, field="sample", fetch=context.fetch_data).frame

    def prepare(self, context: CheckContext) -> None:
        """A sample must be available (given, or rows of the evaluation data)."""
        self._frame(context)

    def run(self, context: CheckContext) -> CheckResult:
        """Send the sample, check the answer's length and values."""
        import numpy as np

        frame = self._frame(context)
        model = context.model(context.candidate)
        columns = model.input_columns
        expected: dict[str, Any] = {"rows": len(frame)}
        if columns is not None:
            expected["columns"] = list(columns)
            missing = [name for name in columns if name not in frame.columns]
            if missing:
                return CheckResult(
                    name=self.name,
                    passed=False,
                    kind="SignatureCheck",
                    observed={"missing_columns": missing},
                    expected=expected,
                    message=f"the sample lacks column(s) {', '.join(missing)} of the signature of "
                    f"{context.candidate.ref}",
                )
            frame = frame[columns]
        output = np.asarray(model.predict(frame))
        answered = int(output.shape[0]) if output.ndim else 1
        observed: dict[str, Any] = {"rows": len(frame), "predictions": answered}
        problems = []
        if answered != len(frame):
            problems.append(f"answered {answered} predictions for {len(frame)} rows")
        if output.dtype.kind in "fc" and not np.isfinite(output).all():
            bad = int((~np.isfinite(output)).sum())
            observed["non_finite"] = bad
            problems.append(f"{bad} prediction(s) are NaN or infinite")
        message = "; ".join(problems) or (
            f"{context.candidate.ref} answered {answered} predictions for {len(frame)} rows"
        )
        return CheckResult(
            name=self.name,
            passed=not problems,
            kind="SignatureCheck",
            observed=observed,
            expected=expected,
            message=message,
        )
