"""What a monitor watches: the time window, the baseline, the signals and their thresholds.

A :class:`Monitor` is built in code or read from TOML (:meth:`Monitor.from_toml`); every threshold
is a bound that, once crossed, turns the signal into an alert (``MonitorReport.outcome == "alert"``).
"""

from __future__ import annotations

import math
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.invalid_input import inside, invalid_input, problems, validate_input
from mlops_sdk.core.names import check_deployment_name, check_endpoint_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

WindowLike = Union["TimeWindow", str, float, timedelta, tuple[datetime, datetime], dict[str, Any]]
"""What a window argument accepts: a :class:`TimeWindow`, ``"24h"``, seconds, a timedelta, ``(start, end)``."""

__all__ = [
    "Baseline",
    "DataBaseline",
    "DataDrift",
    "DataQuality",
    "ModelPerformance",
    "Monitor",
    "PredictionDrift",
    "Signal",
    "TimeWindow",
    "TrainingBaseline",
    "WindowBaseline",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TICK = timedelta(microseconds=1)
DRIFT_STATS = ("psi", "js", "wasserstein", "ks", "chi2_pvalue")
"""Drift statistics a threshold may bound: ``chi2_pvalue`` alerts BELOW its bound, the others above."""
QUALITY_STATS = ("null_rate", "type_error_rate", "out_of_range_rate")
_AT_MOST_ONE = frozenset({"js", "ks", "chi2_pvalue", *QUALITY_STATS})
"""Statistics that are shares or probabilities: a bound above 1 could never be crossed (or always is)."""
MAX_WINDOW = 36500 * 86400.0
"""The longest window: 100 years (a longer one cannot be placed on the calendar)."""


def parse_duration(value: Any, *, field: str = "window") -> float:
    """Seconds in ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"``, a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    else:
        prefix = f"{field}: " if field else ""
        raise ValueError(f"{prefix}{value!r} is not a duration; use e.g. '30m', '24h', '7d' or a timedelta")
    if not seconds > 0 or not seconds <= MAX_WINDOW:  # also refuses NaN
        prefix = f"{field}: " if field else ""
        raise ValueError(f"{prefix}the duration must be positive and at most 100 years, got {value!r}")
    return seconds


class _Spec(InputSpec):
    """A monitoring value type: unknown fields are refused (a typo must not silently fall back to a
    default) and a bad value raises :class:`ConfigurationError` naming the field, in code as from TOML."""


def _nested(model: type[BaseModel], value: Any, field: str) -> Any:
    """``model.model_validate(value)`` inside another model's validator: one clean line per problem
    instead of pydantic's multi-line text (which would end up inside the outer error's message)."""
    if isinstance(value, model):
        return value
    try:
        with inside():
            return model.model_validate(value)
    except ValidationError as error:
        lines = [line.removeprefix(f"{field}: ") for line in problems(error, root=field, model=model)]
        raise ValueError("; ".join(lines)) from None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class TimeWindow(_Spec):
    """A time range of captured traffic: fixed (``start``/``end``) or the ``last`` N seconds before now.

    Accepts ``"24h"`` / a timedelta (the last 24 hours), ``(start, end)``, or a dict of the fields.
    """

    start: datetime | None = None
    end: datetime | None = None
    last: float | None = Field(default=None, gt=0, le=MAX_WINDOW)

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Any:
        if isinstance(value, (str, timedelta, int, float)) and not isinstance(value, bool):
            return {"last": parse_duration(value, field="")}
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return {"start": value[0], "end": value[1]}
        if isinstance(value, dict) and isinstance(value.get("last"), (str, timedelta)):
            return {**value, "last": parse_duration(value["last"], field="last")}
        if isinstance(value, (tuple, list, bool)):
            raise ValueError(f"{value!r} is not a window; use a duration ('24h'), a timedelta or (start, end)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TimeWindow:
        if self.last is None and self.start is None:
            raise ValueError("a window needs 'last' (e.g. '24h') or a 'start'")
        if self.last is not None and self.start is not None:
            raise ValueError("give either 'last' or 'start'/'end', not both")
        if self.start is not None and self.end is not None and _utc(self.end) <= _utc(self.start):
            raise ValueError(f"the window ends ({self.end}) before it starts ({self.start})")
        return self

    def resolve(self, now: datetime) -> tuple[datetime, datetime]:
        """The concrete ``[start, end)`` in UTC, ``now`` closing open windows.

        An open window includes ``now`` itself (it ends one microsecond later): rows stamped at the
        moment a monitor runs, which a clock that has not moved since (a fake clock) gives them, count.
        """
        closing = _utc(self.end) if self.end is not None else _utc(now)
        end = closing if self.end is not None else closing + _TICK
        if self.last is not None:
            return closing - timedelta(seconds=self.last), end
        assert self.start is not None
        return _utc(self.start), end


def as_window(value: Any, field: str = "window") -> TimeWindow:
    """``value`` (any :data:`WindowLike`) as a :class:`TimeWindow`; a :class:`ConfigurationError` naming
    ``field`` when it is not one."""
    if isinstance(value, TimeWindow):
        return value
    try:
        with inside():
            return TimeWindow.model_validate(value)
    except ValidationError as error:
        raise invalid_input(error, what="window", field=field, model=TimeWindow) from None


class TrainingBaseline(_Spec):
    """The data the model was trained on: the snapshot its lineage records (``data_versions``).

    Attributes:
        model: ``name@version`` whose training data is the baseline (default: the model the monitored
            deployment served in the window, as captured).
        input: The lineage ``data_versions`` key to use (default: the only one; ``data`` when several).
        target: The label column of that data (for prediction drift against the training labels).
    """

    kind: Literal["training"] = "training"
    model: str | None = None
    input: str | None = None
    target: str | None = None


class WindowBaseline(_Spec):
    """An earlier window of the same endpoint's captured traffic (e.g. the week after the release)."""

    kind: Literal["window"] = "window"
    window: WindowLike

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return _nested(TimeWindow, value, "window")

    @property
    def time_window(self) -> TimeWindow:
        """The window as a :class:`TimeWindow`."""
        return as_window(self.window)


class DataBaseline(_Spec):
    """A dataset: a Parquet/CSV/JSON path (or a DataFrame given to ``run(..., baseline_data=)``)."""

    kind: Literal["data"] = "data"
    path: str | None = None
    target: str | None = None


Baseline = Annotated[TrainingBaseline | WindowBaseline | DataBaseline, Field(discriminator="kind")]
"""Any baseline."""


def _check_keys(thresholds: dict[str, float], allowed: tuple[str, ...], signal: str) -> dict[str, float]:
    unknown = sorted(set(thresholds) - set(allowed))
    if unknown:
        raise ValueError(f"{signal} thresholds {unknown} are unknown; use {', '.join(allowed)}")
    for name, bound in thresholds.items():
        if not math.isfinite(bound) or bound < 0 or (name in _AT_MOST_ONE and bound > 1):
            limits = "between 0 and 1" if name in _AT_MOST_ONE else "a finite number >= 0"
            raise ValueError(f"{signal} threshold {name} = {bound!r} can never decide; use {limits}")
    return thresholds


def _check_features(features: list[str] | None, field: str) -> list[str] | None:
    if features is None:
        return None
    if not features:
        raise ValueError(f"{field}: an empty list watches nothing; name features or leave it out (all of them)")
    repeated = sorted({name for name in features if features.count(name) > 1})
    if repeated:
        raise ValueError(f"{field}: {repeated} repeat; name each feature once")
    return features


class _Signal(_Spec):
    name: str = ""

    @model_validator(mode="after")
    def _default_name(self) -> Any:
        if not self.name:
            object.__setattr__(self, "name", getattr(self, "kind"))  # noqa: B009 - frozen model
        return self


class DataDrift(_Signal):
    """Per-feature drift of the captured inputs against the baseline.

    Numeric features get PSI (on the baseline's deciles), Jensen-Shannon distance (base 2, same bins),
    the Wasserstein distance divided by the baseline's standard deviation, and the two-sample KS
    statistic with its p-value; categorical ones PSI, Jensen-Shannon and a chi-squared test.

    Attributes:
        features: Features to watch (default: every captured input column the baseline also has).
        categorical: Features to treat as categories even when they hold numbers.
        thresholds: Bounds per statistic (``psi``, ``js``, ``wasserstein``, ``ks``: alert above;
            ``chi2_pvalue``: alert below). Default ``{"psi": 0.2}``.
        bins: Number of quantile bins of the baseline for numeric PSI / JS.
    """

    kind: Literal["data_drift"] = "data_drift"
    features: list[str] | None = None
    categorical: list[str] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(default_factory=lambda: {"psi": 0.2})
    bins: int = Field(default=10, ge=2, le=100)

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_keys(value, DRIFT_STATS, "data_drift")

    @field_validator("features")
    @classmethod
    def _features(cls, value: list[str] | None) -> list[str] | None:
        return _check_features(value, "features")

    @model_validator(mode="after")
    def _categorical_watched(self) -> DataDrift:
        if self.features is not None and (stray := sorted(set(self.categorical) - set(self.features))):
            raise ValueError(f"categorical: {stray} are not in features {self.features}; add them or remove them")
        return self


class PredictionDrift(_Signal):
    """Drift of the predictions against the baseline's predictions (window baseline) or its label
    column (``TrainingBaseline.target`` / ``DataBaseline.target``), with the same statistics as
    :class:`DataDrift`.

    Attributes:
        categorical: Treat predictions as classes (default: numbers are numeric).
        thresholds: As for :class:`DataDrift` (default ``{"psi": 0.2}``).
    """

    kind: Literal["prediction_drift"] = "prediction_drift"
    categorical: bool = False
    thresholds: dict[str, float] = Field(default_factory=lambda: {"psi": 0.2})
    bins: int = Field(default=10, ge=2, le=100)

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_keys(value, DRIFT_STATS, "prediction_drift")


class DataQuality(_Signal):
    """Rates of bad captured inputs, per feature, against the baseline's profile.

    ``null_rate``: missing values; ``type_error_rate``: values that are not of the baseline column's
    type (text in a numeric feature); ``out_of_range_rate``: numbers outside the baseline's
    ``[min, max]``, categories the baseline never had. Alert when a rate exceeds its bound.
    """

    kind: Literal["data_quality"] = "data_quality"
    features: list[str] | None = None
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"null_rate": 0.05, "type_error_rate": 0.01, "out_of_range_rate": 0.05}
    )

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_keys(value, QUALITY_STATS, "data_quality")

    @field_validator("features")
    @classmethod
    def _features(cls, value: list[str] | None) -> list[str] | None:
        return _check_features(value, "features")


class ModelPerformance(_Signal):
    """Model metrics on the captured rows that have ground truth (``log_ground_truth``).

    Attributes:
        thresholds: Metric name (from the validation metric registry: ``accuracy``, ``rmse``, ``f1``,
            ...) -> the bound in the metric's good direction: ``{"accuracy": 0.8}`` alerts below 0.8,
            ``{"rmse": 5.0}`` above 5.
        min_labels: Fewer labelled rows than this: the signal is reported as skipped, not as an alert.
    """

    kind: Literal["model_performance"] = "model_performance"
    thresholds: dict[str, float]
    min_labels: int = Field(default=1, ge=1)

    @field_validator("thresholds")
    @classmethod
    def _metrics_exist(cls, value: dict[str, float]) -> dict[str, float]:
        from mlops_sdk.checks.metrics import get_metric

        if not value:
            raise ValueError("model_performance needs at least one metric threshold, e.g. {'accuracy': 0.8}")
        for name, bound in value.items():
            try:
                get_metric(name)
            except ConfigurationError as error:
                raise ValueError(error.message) from None
            if not math.isfinite(bound):
                raise ValueError(f"model_performance threshold {name} = {bound!r} can never decide; use a number")
        return value


Signal = Annotated[DataDrift | PredictionDrift | DataQuality | ModelPerformance, Field(discriminator="kind")]
"""Any monitoring signal."""


class Monitor(_Spec):
    """A monitoring policy for one endpoint: signals over a window against a baseline.

    Attributes:
        endpoint: Endpoint whose captured traffic is watched.
        signals: What to compute (at least one).
        window: The traffic to look at (default the last 24 hours): ``"24h"``, a timedelta,
            ``(start, end)`` or a :class:`TimeWindow`.
        baseline: What "normal" is: the model's training snapshot (default), an earlier window or data.
        deployment: Only this deployment's traffic (default: every deployment of the endpoint).
        thresholds: Overrides ``"<signal name>.<stat>" -> bound`` on top of the signals' own
            (``{"data_drift.psi": 0.1, "model_performance.accuracy": 0.85}``).
        name: A name for reports (default ``<endpoint>-monitor``).
    """

    endpoint: str = Field(min_length=1)
    signals: list[Signal] = Field(min_length=1)
    window: WindowLike = Field(default_factory=lambda: TimeWindow(last=86400.0))
    baseline: Baseline = Field(default_factory=TrainingBaseline)
    deployment: str | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    name: str = ""

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return _nested(TimeWindow, value, "window")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint_name(value)

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str | None) -> str | None:
        return None if value is None else check_deployment_name(value)

    @property
    def time_window(self) -> TimeWindow:
        """The window as a :class:`TimeWindow`."""
        return as_window(self.window)

    @model_validator(mode="after")
    def _apply_thresholds(self) -> Monitor:
        names = [signal.name for signal in self.signals]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"signal names must be unique, {duplicates} repeat; give them name=...")
        signals = list(self.signals)
        for key, bound in self.thresholds.items():
            signal_name, _, stat = key.rpartition(".")
            if signal_name not in names or not stat:
                raise ValueError(f"threshold {key!r} names no signal; use '<signal>.<stat>' with a signal of {names}")
            index = names.index(signal_name)
            current = signals[index]
            merged = {**current.thresholds, stat: float(bound)}
            signals[index] = _nested(type(current), {**current.model_dump(), "thresholds": merged}, "thresholds")
        object.__setattr__(self, "signals", signals)
        if not self.name:
            object.__setattr__(self, "name", f"{self.endpoint}-monitor")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "monitor") -> Monitor:
        """Build from plain data (TOML/JSON); problems raise :class:`ConfigurationError` naming the field."""
        with inside():
            return validate_input(cls, data, what="monitor", field="monitor", where=source)

    @classmethod
    def from_toml(cls, path: str | Path) -> Monitor:
        """Read a monitor from TOML: a ``[monitor]`` table (or the top level) and ``[[monitor.signals]]``.

        .. code-block:: toml

            [monitor]
            endpoint = "diabetes"
            window = "24h"
            baseline = { kind = "training" }
            thresholds = { "data_drift.psi" = 0.2 }

            [[monitor.signals]]
            kind = "data_drift"

            [[monitor.signals]]
            kind = "model_performance"
            thresholds = { accuracy = 0.8 }
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except RecursionError:  # [[[[...]]]] deeper than the parser follows
            raise ConfigurationError(
                f"cannot read monitor file {file}: not valid TOML: nested too deeply", details={"field": "monitor"}
            ) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigurationError(
                f"cannot read monitor file {file}: {error}", details={"field": "monitor"}
            ) from None
        table = data.get("monitor", data)
        if not isinstance(table, dict):
            raise ConfigurationError(f"{file}: [monitor] must be a table", details={"field": "monitor"})
        return cls.from_dict(table, source=str(file))
