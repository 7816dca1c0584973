"""The serving fast paths give the estimator's own answers: linear models from their coefficients,
orjson parsing with the standard parser for what orjson refuses, numpy answers written by orjson."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops_sdk.backends.local.serving.app import _dumps
from mlops_sdk.backends.local.serving.models import SklearnModel, _linear_kernel
from mlops_sdk.backends.local.serving.payloads import Batch, parse_json_body
from mlops_sdk.backends.local.serving.schema import plain_numbers

COLUMNS = ["a", "b", "c"]


def _fit(kind: Any) -> Any:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    return kind().fit(x, x @ np.array([1.5, -2.0, 0.5]) + 3.0)


@pytest.mark.parametrize(
    ("kind_name", "kernel"), [("LinearRegression", True), ("Ridge", True), ("Lasso", False), ("ElasticNet", False)]
)
def test_linear_kernel_answers_exactly_what_predict_answers(kind_name: str, kernel: bool) -> None:
    """Lasso and ElasticNet have their own decision function: they keep the estimator's predict."""
    import sklearn.linear_model

    estimator = _fit(getattr(sklearn.linear_model, kind_name))
    model = SklearnModel(Path("."), estimator, COLUMNS, ["double"] * 3)
    assert (model._linear is not None) is kernel
    rows = np.random.default_rng(9).normal(size=(100, 3)).tolist()
    served = model.predict_raw(Batch(rows=rows, columns=COLUMNS))
    assert served == pytest.approx(estimator.predict(np.asarray(rows)), rel=1e-12, abs=1e-12)


def test_a_linear_subclass_that_changes_its_answers_keeps_its_own_predict() -> None:
    from sklearn.linear_model import LinearRegression

    class Clipped(LinearRegression):
        def predict(self, X: Any) -> Any:  # noqa: N803 - scikit-learn's own argument name
            return np.clip(super().predict(X), 0, 1)

    estimator = _fit(Clipped)
    assert _linear_kernel(estimator, 3) is None
    model = SklearnModel(Path("."), estimator, COLUMNS, ["double"] * 3)
    assert model.predict(Batch(rows=[[10.0, 0.0, 0.0]], columns=COLUMNS)) == [1.0]


def test_a_classifier_is_not_evaluated_as_a_linear_regressor() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 3))
    estimator = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    assert _linear_kernel(estimator, 3) is None


def test_json_numbers_orjson_refuses_are_parsed_by_the_standard_parser() -> None:
    batch = parse_json_body(b'{"input_data": [[NaN, 2, 123456789012345678901234567890]]}', protocol="azureml")
    assert np.isnan(batch.rows[0][0])
    assert batch.rows[0][2] == 123456789012345678901234567890


def test_plain_numbers_refuses_booleans_strings_and_lists() -> None:
    assert plain_numbers([[1.0, 2, None]])
    assert not plain_numbers([[1.0, True]])
    assert not plain_numbers([[1.0, "2"]])
    assert not plain_numbers([[1.0, [2]]])


def test_answers_are_the_same_json_whatever_writes_them() -> None:
    array = np.array([1.5, -2.25, 1e-7])
    assert json.loads(_dumps(array)) == array.tolist()
    assert json.loads(_dumps({"predictions": array[::2]})) == {"predictions": array[::2].tolist()}  # not contiguous
    assert json.loads(_dumps([np.float32(0.5), "label"])) == [0.5, "label"]
