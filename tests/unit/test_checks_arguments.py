"""The built-in checks refuse bad constructor arguments with ConfigurationError, like every input spec.

Before, they were plain dataclasses: ``MetricThreshold("r2", min=float("nan"))`` built a check that
passed every value (every comparison with NaN is false), ``BeatsChampion("rmse",
greater_is_better="no")`` compared in the wrong direction (a non-empty string is true),
``min="high"`` failed only at run time inside a comparison, ``NoDrift(features="age")`` compared the
columns ``a``, ``g`` and ``e``, and a misspelled keyword was Python's ``TypeError``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift, SignatureCheck, load_checks
from mlops_sdk.checks.config import BUILTIN_CHECKS
from mlops_sdk.core.errors import ConfigurationError

MINIMAL: dict[type[Any], dict[str, Any]] = {
    MetricThreshold: {"metric": "r2", "min": 0.1},
    BeatsChampion: {"metric": "rmse"},
    DataQuality: {"min_rows": 1},
    NoDrift: {"reference": "train.parquet"},
    SignatureCheck: {},
}
WRONG_TYPE = {
    MetricThreshold: {"min": "high", "max": [1], "source": "everywhere", "name": 3, "metric": 5},
    BeatsChampion: {"greater_is_better": "maybe", "min_delta": "a lot", "bootstrap": "many", "seed": 1.5},
    DataQuality: {"schema": ["age"], "not_null": 7, "ranges": {"age": "0-10"}, "min_rows": "some"},
    NoDrift: {"max_psi": "low", "ks_pvalue": [0.05], "features": 3, "bins": "ten"},
    SignatureCheck: {"rows": "few", "name": ["x"]},
}


def test_every_built_in_check_is_covered() -> None:
    assert set(MINIMAL) == set(BUILTIN_CHECKS.values()) == set(WRONG_TYPE)


@pytest.mark.parametrize("cls", list(MINIMAL), ids=lambda cls: cls.__name__)
def test_a_misspelled_keyword_names_the_field_it_meant(cls: type[Any]) -> None:
    for field in dataclasses.fields(cls):
        typo = field.name[:-1] if len(field.name) > 3 else field.name + "s"
        with pytest.raises(ConfigurationError) as caught:
            cls(**{**MINIMAL[cls], typo: 1})
        assert f"invalid {cls.__name__}: {typo}:" in caught.value.message
        if len(field.name) > 3:
            assert f"did you mean `{field.name}`?" in caught.value.message


@pytest.mark.parametrize("cls", list(MINIMAL), ids=lambda cls: cls.__name__)
def test_a_value_of_the_wrong_type_names_its_field(cls: type[Any]) -> None:
    for name, value in WRONG_TYPE[cls].items():
        with pytest.raises(ConfigurationError) as caught:
            cls(**{**MINIMAL[cls], name: value})
        assert caught.value.message.startswith(f"invalid {cls.__name__}: {name}"), (name, caught.value.message)


@pytest.mark.parametrize(
    ("cls", "arguments"),
    [
        (MetricThreshold, {"metric": "r2", "min": math.nan}),
        (MetricThreshold, {"metric": "rmse", "max": math.nan}),
        (BeatsChampion, {"metric": "rmse", "min_delta": math.nan}),
        (BeatsChampion, {"metric": "rmse", "confidence": math.nan}),
        (DataQuality, {"ranges": {"age": (0, math.nan)}}),
        (NoDrift, {"reference": "train.parquet", "max_psi": math.nan}),
        (NoDrift, {"reference": "train.parquet", "ks_pvalue": math.nan}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "-".join(value),
)
def test_a_nan_bound_is_refused_because_it_would_decide_nothing(cls: type[Any], arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="not NaN"):
        cls(**arguments)


def test_values_are_read_as_their_declared_types() -> None:
    assert BeatsChampion("rmse", greater_is_better="no").greater_is_better is False
    assert BeatsChampion("rmse", bootstrap=1000.0).bootstrap == 1000
    threshold = MetricThreshold("r2", min="0.3", max=1)
    assert (threshold.min, threshold.max) == (0.3, 1.0)
    assert isinstance(threshold.max, float)
    assert MetricThreshold("r2", max=math.inf).max == math.inf  # an infinite bound is a bound


def test_one_column_name_is_one_column() -> None:
    assert DataQuality(not_null="age").not_null == ("age",)
    assert NoDrift(reference="train.parquet", features="age").features == ("age",)


def test_positional_arguments_are_checked_too() -> None:
    assert MetricThreshold("r2", 0.1, 0.9).max == 0.9
    with pytest.raises(ConfigurationError, match="at most 5 positional arguments"):
        MetricThreshold("r2", 0.1, 0.9, "auto", "name", "extra")
    with pytest.raises(ConfigurationError, match="two values for `metric`"):
        MetricThreshold("r2", metric="rmse", min=0.1)
    with pytest.raises(ConfigurationError, match="metric: Field required"):
        MetricThreshold(min=0.1)


@pytest.mark.parametrize("metric", ["", "  "])
def test_a_threshold_needs_a_metric_name(metric: str) -> None:
    with pytest.raises(ConfigurationError, match="needs a metric name"):
        MetricThreshold(metric, min=0.1)


def test_a_checks_file_value_of_the_wrong_type_names_file_entry_and_field(tmp_path: Path) -> None:
    file = tmp_path / "checks.toml"
    file.write_text(
        '[[checks]]\ntype = "MetricThreshold"\nmetric = "r2"\nmin = 0.1\n\n'
        '[[checks]]\ntype = "BeatsChampion"\nmetric = "rmse"\ngreater_is_better = "sometimes"\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        load_checks(file)
    assert str(file) in caught.value.message
    assert "checks[1]" in caught.value.message
    assert "greater_is_better" in caught.value.message
