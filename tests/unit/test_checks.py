"""The built-in checks on small, exactly known data (models are plain predictors implementing LoadedModel)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_sdk.checks import (
    BeatsChampion,
    CheckContext,
    CheckResult,
    DataQuality,
    Metric,
    MetricThreshold,
    NoDrift,
    SignatureCheck,
    load_dataset,
    run_checks,
)
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.registry import ModelVersion
from mlops_sdk.models.validation import decide_outcome


class Table:
    """A model that answers fixed predictions per row index (exact metric values in tests)."""

    def __init__(self, predictions: Any, columns: list[str] | None = ("x",)) -> None:  # type: ignore[assignment]
        self.predictions = np.asarray(predictions, dtype=float)
        self._columns = list(columns) if columns is not None else None

    @property
    def input_columns(self) -> list[str] | None:
        return self._columns

    def predict(self, frame: Any) -> Any:
        return self.predictions[frame.index.to_numpy()]


class Linear:
    """y = sum(coef * x) + intercept on named columns."""

    def __init__(self, coef: dict[str, float], intercept: float = 0.0) -> None:
        self.coef, self.intercept = coef, intercept

    @property
    def input_columns(self) -> list[str]:
        return list(self.coef)

    def predict(self, frame: Any) -> Any:
        return sum(frame[name].to_numpy() * weight for name, weight in self.coef.items()) + self.intercept


def version(number: str, name: str = "m") -> ModelVersion:
    return ModelVersion(name=name, version=number, uri=f"models:/{name}/{number}", run_id=f"run-{number}")


def context(
    candidate: Any,
    champion: Any = None,
    *,
    data: Any = None,
    target: str | None = "y",
    training: dict[str, float] | None = None,
) -> CheckContext:
    models = {"m@2": candidate}
    if champion is not None:
        models["m@1"] = champion
    return CheckContext(
        candidate=version("2"),
        champion=version("1") if champion is not None else None,
        champion_alias="champion",
        data=load_dataset(data) if data is not None else None,
        target=target,
        load_model=lambda v: models[v.ref],
        read_training_metrics=lambda v: training or {},
    )


EVAL = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0, 4.0]})


# -- MetricThreshold ----------------------------------------------------------------------------------


def test_threshold_on_data_passes_and_fails_with_exact_values() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 6.0]), data=EVAL)  # errors 0, 0, 0, 2
    ok = MetricThreshold("mae", max=0.5).run(ctx)
    assert ok.passed
    assert ok.observed == 0.5
    assert ok.expected == {"max": 0.5}
    bad = MetricThreshold("rmse", max=0.99).run(ctx)
    assert not bad.passed
    assert bad.observed == 1.0
    assert bad.message == "rmse 1 (on the evaluation data) is above the maximum 0.99"
    low = MetricThreshold("r2", min=0.5).run(ctx)  # 1 - 4/5
    assert not low.passed
    assert low.observed == pytest.approx(0.2)
    assert "below the minimum 0.5" in low.message


def test_threshold_on_training_metrics() -> None:
    ctx = context(Table([0, 0, 0, 0]), training={"val_auc": 0.81, "loss": 0.3})
    assert MetricThreshold("val_auc", min=0.8).run(ctx).observed == 0.81
    failed = MetricThreshold("loss", max=0.25, source="training").run(ctx)
    assert not failed.passed
    assert failed.message == "loss 0.3 (logged by training) is above the maximum 0.25"


def test_unknown_metric_lists_the_metrics_that_exist() -> None:
    ctx = context(Table([0, 0, 0, 0]), training={"val_auc": 0.81, "loss": 0.3})
    with pytest.raises(ConfigurationError) as caught:
        MetricThreshold("auc", min=0.5).prepare(ctx)
    assert "unknown metric 'auc' for m@2: its training run logged loss, val_auc" in caught.value.message
    assert "computable on the evaluation data: accuracy, error_rate, f1, mae" in caught.value.message
    with pytest.raises(ConfigurationError) as data_caught:
        MetricThreshold("rmsee", max=1, source="data").prepare(context(Table([0] * 4), data=EVAL))
    assert "unknown metric 'rmsee' (did you mean 'rmse'?); metrics that exist: accuracy," in data_caught.value.message
    with pytest.raises(ConfigurationError, match="needs min=, max= or both"):
        MetricThreshold("rmse")


def test_data_missing_a_model_column_is_an_error_naming_the_columns() -> None:
    ctx = context(Linear({"x": 1.0, "bmi": 2.0}), data=EVAL)
    with pytest.raises(ConfigurationError) as caught:
        MetricThreshold("rmse", max=1).prepare(ctx)
    assert caught.value.message == (
        "the evaluation data lacks column(s) bmi that m@2 takes (from its signature); the evaluation data has: x, y"
    )
    assert caught.value.details["missing"] == ["bmi"]
    with pytest.raises(ConfigurationError, match="has no target column 'label'; its columns are: x, y"):
        MetricThreshold("rmse", max=1).prepare(context(Table([0] * 4), data=EVAL, target="label"))


def test_target_is_inferred_from_the_signature() -> None:
    ctx = context(Linear({"x": 1.0}, 1.0), data=EVAL, target=None)
    assert ctx.target == "y"
    assert MetricThreshold("rmse", max=0.0).run(ctx).observed == 0.0


# -- BeatsChampion ------------------------------------------------------------------------------------


def test_candidate_better_than_champion() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 5.0]), Table([1.0, 2.0, 3.0, 6.0]), data=EVAL)
    result = BeatsChampion("mae", min_delta=0.1).run(ctx)
    assert result.passed
    assert result.observed == 0.25  # champion mae 0.5, candidate 0.25
    assert result.comparison is not None
    assert (result.comparison.candidate, result.comparison.champion) == (0.25, 0.5)
    assert result.message == "mae 0.25 vs champion m@1 0.5: improvement 0.25 > required 0.1"


def test_candidate_equal_within_delta_is_not_promoted() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 5.8]), Table([1.0, 2.0, 3.0, 6.0]), data=EVAL)
    result = BeatsChampion("mae", min_delta=0.1).run(ctx)
    assert not result.passed
    assert result.comparative
    assert result.observed == pytest.approx(0.05)
    assert "is not more than min_delta 0.1: not better than the champion" in result.message
    assert decide_outcome([result]) == "not_promoted"


def test_candidate_worse_than_champion() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 8.0]), Table([1.0, 2.0, 3.0, 6.0]), data=EVAL)
    result = BeatsChampion("rmse").run(ctx)
    assert not result.passed
    assert result.observed == pytest.approx(-1.0)  # rmse 2 vs 1


def test_no_champion_passes_as_first_model() -> None:
    result = BeatsChampion("rmse").run(context(Table([1.0, 2.0, 3.0, 8.0]), data=EVAL))
    assert result.passed
    assert result.observed is None
    assert result.message == "first model: no version of m holds alias 'champion'; rmse 2"


def test_relative_and_greater_is_better() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 5.0]), Table([1.0, 2.0, 3.0, 6.0]), data=EVAL)
    relative = BeatsChampion("mae", relative=True, min_delta=0.4).run(ctx)
    assert relative.observed == 0.5  # (0.5 - 0.25) / 0.5
    assert relative.passed
    r2 = BeatsChampion("r2").run(ctx)  # r2 0.8 vs 0.2, greater is better by default
    assert r2.observed == pytest.approx(0.6)
    assert r2.passed
    flipped = BeatsChampion("r2", greater_is_better=False).run(ctx)
    assert not flipped.passed


def test_bootstrap_rejects_an_improvement_that_is_noise() -> None:
    rng = np.random.default_rng(7)
    n = 400
    y = rng.normal(size=n)
    data = pd.DataFrame({"x": np.zeros(n), "y": y})
    champion = y + rng.normal(scale=1.0, size=n)
    candidate = y + rng.normal(scale=1.0, size=n)  # same quality: any difference is noise
    if np.sqrt(np.mean((candidate - y) ** 2)) > np.sqrt(np.mean((champion - y) ** 2)):
        candidate, champion = champion, candidate  # make the candidate the (luckily) better one
    ctx = context(Table(candidate), Table(champion), data=data)
    plain = BeatsChampion("rmse").run(ctx)
    assert plain.passed  # without the interval the noise looks like an improvement
    assert plain.observed > 0
    judged = BeatsChampion("rmse", bootstrap=500, seed=1).run(ctx)
    assert not judged.passed
    assert judged.comparison is not None
    assert judged.comparison.ci_low is not None
    assert judged.comparison.ci_low < 0 < judged.comparison.ci_high  # type: ignore[operator]
    assert "may be noise" in judged.message
    real = context(Table(y + rng.normal(scale=0.5, size=n)), Table(champion), data=data)
    assert BeatsChampion("rmse", bootstrap=500, seed=1).run(real).passed


# -- DataQuality --------------------------------------------------------------------------------------


def test_data_quality_passes() -> None:
    check = DataQuality(schema={"x": "number", "y": "float"}, not_null=["x"], ranges={"x": (0, 3)}, min_rows=4)
    result = check.run(context(Table([0] * 4), data=EVAL))
    assert result.passed
    assert result.observed == {"rows": 4}
    assert result.message == "4 rows meet every rule"


def test_data_quality_reports_every_violation_with_exact_counts() -> None:
    frame = pd.DataFrame({"age": [20, None, 130, 40, None], "sex": ["m", "f", "f", "m", "x"], "y": [1.0] * 5})
    check = DataQuality(
        schema={"sex": "number", "bmi": "float"}, not_null=["age"], ranges={"age": (0, 120)}, min_rows=10
    )
    result = check.run(context(Table([0] * 5), data=frame))
    assert not result.passed
    assert result.observed == {
        "rows": 5,
        "missing_columns": ["bmi"],
        "schema": {"sex": f"expected number, got {frame['sex'].dtype}"},
        "nulls": {"age": 2},
        "out_of_range": {"age": 1},
    }
    assert result.message == (
        f"5 rows, fewer than 10; missing column(s) bmi; sex expected number, got {frame['sex'].dtype}; "
        "age has 2 missing value(s); "
        "age has 1 value(s) outside [0, 120]"
    )


# -- NoDrift ------------------------------------------------------------------------------------------


def _binned(shares: list[float], size: int = 1000) -> pd.DataFrame:
    values = np.concatenate([np.full(round(share * size), index + 0.5) for index, share in enumerate(shares)])
    return pd.DataFrame({"f": values, "y": np.zeros(values.size)})


def test_drift_detected_on_a_synthetic_shift_with_known_psi() -> None:
    reference = _binned([0.1] * 10)
    shifted = _binned([0.15] * 5 + [0.05] * 5)
    result = NoDrift(reference=reference, max_psi=0.2).run(context(Table(np.zeros(1000)), data=shifted))
    assert not result.passed
    (feature,) = result.drift
    assert feature.psi == pytest.approx(0.25 * math.log(3), abs=1e-12)  # 5*0.05*ln1.5 + 5*0.05*ln2
    assert feature.drifted
    assert feature.reason == "PSI 0.274653 > 0.2"
    assert result.observed == {"max_psi": pytest.approx(0.25 * math.log(3)), "drifted": ["f"]}


def test_no_drift_on_a_resample_of_the_same_distribution() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.exponential(size=3000), "y": 0.0})
    resample = reference.sample(n=2000, replace=True, random_state=4).reset_index(drop=True)
    result = NoDrift(reference=reference, max_psi=0.1, ks_pvalue=0.01).run(
        context(Table(np.zeros(2000)), data=resample)
    )
    assert result.passed, result.message
    assert [d.feature for d in result.drift] == ["a", "b"]
    assert all(d.psi < 0.02 and d.ks_pvalue > 0.01 for d in result.drift)  # type: ignore[operator]


def test_ks_and_categorical_drift() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"a": rng.normal(size=2000), "c": ["u"] * 1000 + ["v"] * 1000, "y": 0.0})
    current = pd.DataFrame({"a": rng.normal(loc=0.15, size=2000), "c": ["u"] * 1500 + ["v"] * 500, "y": 0.0})
    result = NoDrift(reference=reference, max_psi=0.2, ks_pvalue=0.01).run(context(Table(np.zeros(2000)), data=current))
    by_name = {d.feature: d for d in result.drift}
    assert by_name["a"].psi < 0.2
    assert by_name["a"].drifted  # small shift: PSI says stable, KS does not
    assert by_name["a"].reason is not None
    assert by_name["a"].reason.startswith("KS p-value")
    assert by_name["c"].kind == "categorical"
    assert by_name["c"].psi == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2))
    assert by_name["c"].drifted


def test_drift_features_missing_is_an_error() -> None:
    ctx = context(Table([0] * 4), data=EVAL)
    with pytest.raises(ConfigurationError, match="NoDrift features z are not in both datasets"):
        NoDrift(reference=EVAL, features=["z"]).prepare(ctx)
    with pytest.raises(ConfigurationError, match="NoDrift needs reference="):
        NoDrift(reference=None)


# -- SignatureCheck -----------------------------------------------------------------------------------


def test_signature_check_passes_and_fails() -> None:
    model = Linear({"x": 2.0})
    ok = SignatureCheck(sample=[{"x": 1.0}, {"x": 2.0}]).run(context(model))
    assert ok.passed
    assert ok.observed == {"rows": 2, "predictions": 2}
    missing = SignatureCheck(sample={"z": [1.0]}).run(context(model))
    assert not missing.passed
    assert missing.observed == {"missing_columns": ["x"]}
    nan = SignatureCheck().run(context(Table([1.0, math.nan, 2.0, 3.0]), data=EVAL))
    assert not nan.passed
    assert nan.observed == {"rows": 4, "predictions": 4, "non_finite": 1}


# -- running checks -----------------------------------------------------------------------------------


class Exploding:
    name = "explodes"

    def run(self, context: CheckContext) -> CheckResult:
        raise ZeroDivisionError("division by zero in my check")


class WrongAnswer:
    name = "wrong answer"

    def run(self, context: CheckContext) -> Any:
        return True


def test_a_check_that_raises_is_a_failed_check_not_a_crash() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 4.0]), data=EVAL)
    checks = [Exploding(), MetricThreshold("rmse", max=1), WrongAnswer(), MetricThreshold("mae", max=1)]
    results = run_checks(ctx, checks)
    assert [r.name for r in results] == ["explodes", "threshold:rmse", "wrong answer", "threshold:mae"]
    assert not results[0].passed
    assert results[0].error == "ZeroDivisionError: division by zero in my check"
    assert results[0].message == "the check raised ZeroDivisionError: division by zero in my check"
    assert results[1].passed
    assert results[2].error == "TypeError: run() returned bool, not CheckResult"
    assert decide_outcome(results) == "failed"


def test_bad_input_in_prepare_stops_before_any_check_runs() -> None:
    ran: list[str] = []

    class Recorder:
        name = "recorder"

        def run(self, context: CheckContext) -> CheckResult:
            ran.append("ran")
            return CheckResult(name=self.name, passed=True)

    with pytest.raises(ConfigurationError, match="unknown metric"):
        run_checks(context(Table([0] * 4), data=EVAL), [Recorder(), MetricThreshold("nope", max=1)])
    assert ran == []


def test_duplicate_names_and_non_checks() -> None:
    ctx = context(Table([1.0, 2.0, 3.0, 4.0]), data=EVAL)
    results = run_checks(ctx, [MetricThreshold("rmse", max=1), MetricThreshold("rmse", max=2)])
    assert [r.name for r in results] == ["threshold:rmse", "threshold:rmse#2"]
    with pytest.raises(ConfigurationError, match=r"checks\[0\] \(int\) is not a check"):
        run_checks(ctx, [3])


def test_outcome_rules() -> None:
    fail = CheckResult(name="a", passed=False)
    hold = CheckResult(name="b", passed=False, comparative=True)
    broken_hold = CheckResult(name="c", passed=False, comparative=True, error="ValueError: x")
    ok = CheckResult(name="d", passed=True)
    assert decide_outcome([ok]) == "promote"
    assert decide_outcome([ok, hold]) == "not_promoted"
    assert decide_outcome([hold, fail]) == "failed"
    assert decide_outcome([broken_hold]) == "failed"


def test_custom_metric() -> None:
    within = Metric("within_1", lambda t, p: float(np.mean(np.abs(t - p) <= 1.0)), greater_is_better=True)
    ctx = context(Table([1.0, 2.0, 3.0, 6.0]), Table([1.0, 2.0, 5.0, 6.0]), data=EVAL)
    assert MetricThreshold(within, min=0.75).run(ctx).observed == 0.75
    assert BeatsChampion(within).run(ctx).observed == 0.25


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"a": [1, "x", 2.5]}), "column 'a' mixes kinds of values"),
        (pd.DataFrame({"a": [[1], {"k": 1}]}), "column 'a' mixes kinds of values"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), r"names the column\(s\) \['a'\] more than once"),
    ],
)
def test_data_that_cannot_be_versioned_is_a_configuration_error_naming_the_column(
    frame: pd.DataFrame, message: str
) -> None:
    # pyarrow's ArrowInvalid / pandas' ValueError used to come out of the version computation
    with pytest.raises(ConfigurationError, match=f"^evaluation: .*{message}") as caught:
        load_dataset(frame, field="evaluation")
    assert caught.value.details["field"] == "evaluation"
    with pytest.raises(ConfigurationError, match=message):
        load_dataset(frame.to_dict(orient="records") if frame.columns.is_unique else frame, field="evaluation")
