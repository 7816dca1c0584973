"""The monitoring API attacked from its public docs: every odd input gives a ConfigurationError naming the
field (or a correct result), never a pandas / pyarrow / duckdb / pydantic traceback, never a half-written
label part; report numbers equal an independent numpy / scipy computation.

Property tests are derandomized (the same examples on every run), so CI is stable.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.monitoring import (
    DataBaseline,
    DataDrift,
    DataQuality,
    ModelPerformance,
    Monitor,
    MonitorReport,
    PredictionDrift,
    TimeWindow,
    WindowBaseline,
)

NOW = datetime.now(timezone.utc)
EP = "adv-ep"
PROPERTY = settings(
    derandomize=True, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def memory() -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", show_progress=False) as client:
        yield client


@pytest.fixture
def local(tmp_path: Path) -> Iterator[MLOpsClient]:
    with MLOpsClient(f"local://{tmp_path / '.mlops'}", show_progress=False) as client:
        yield client


def _monitor(**fields: Any) -> dict[str, Any]:
    return {"endpoint": EP, "window": "1h", "signals": [{"kind": "data_drift"}], **fields}


def _refused(call: Any, *needles: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as raised:
        call()
    for needle in needles:
        assert needle in str(raised.value), (needle, str(raised.value))
    return raised.value


# -- monitor definitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (_monitor(windw="6h"), ["windw", "Extra inputs"]),  # silently fell back to the 24 h default
        (_monitor(signals=[{"kind": "data_drift", "featurs": ["x"]}]), ["signals.0.data_drift.featurs"]),
        (_monitor(signals=[{"kind": "data_drift", "threshold": {"psi": 0.1}}]), ["threshold", "Extra inputs"]),
        (_monitor(baseline={"kind": "data", "pth": "train.parquet"}), ["baseline.data.pth"]),
        (_monitor(window={"last": "1h", "ned": "2026-01-01"}), ["window", "ned"]),
        (_monitor(signals=[{"kind": "drift"}]), ["signals.0", "data_drift"]),
        (_monitor(window="-5h"), ["window", "not a duration"]),
        (_monitor(window=0), ["window", "positive"]),
        (_monitor(window=float("inf")), ["window", "at most 100 years"]),
        (_monitor(window=float("nan")), ["window"]),
        (_monitor(window="100000000w"), ["window", "at most 100 years"]),
        (_monitor(window=(1, 2, 3)), ["window", "is not a window"]),
        (_monitor(window=True), ["window", "is not a window"]),
        (_monitor(thresholds={"data_drift.psi": -1}), ["psi", "can never decide"]),
        (_monitor(thresholds={"data_drift.psi": float("nan")}), ["psi", "can never decide"]),
        (_monitor(thresholds={"data_drift.js": 2}), ["js", "between 0 and 1"]),
        (_monitor(signals=[{"kind": "data_quality", "thresholds": {"null_rate": 5}}]), ["null_rate", "between 0"]),
        (
            _monitor(signals=[{"kind": "model_performance", "thresholds": {"accuracy": float("nan")}}]),
            ["accuracy", "can never decide"],
        ),
        (_monitor(thresholds={"model_performance.accuracy": 0.8}), ["names no signal"]),
        (_monitor(signals=[{"kind": "data_drift", "features": []}]), ["features", "watches nothing"]),
        (_monitor(signals=[{"kind": "data_drift", "features": ["x", "x"]}]), ["features", "repeat"]),
        (_monitor(signals=[{"kind": "data_drift", "features": ["x"], "categorical": ["y"]}]), ["categorical"]),
        (_monitor(endpoint="e"), ["endpoint name 'e' is invalid"]),
        (_monitor(endpoint="../x"), ["endpoint"]),
        (_monitor(deployment="../blue"), ["deployment name"]),
    ],
)
def test_monitor_definitions_that_cannot_work_are_refused_naming_the_field(
    data: dict[str, Any], needles: list[str]
) -> None:
    _refused(lambda: Monitor.from_dict(data), *needles)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: DataDrift(thresholds={"psy": 0.1}), "DataDrift.thresholds"),
        (lambda: ModelPerformance(thresholds={"roc_auc": 0.8}), "ModelPerformance.thresholds"),
        (lambda: DataQuality(thresholds={"null_rate": -0.1}), "DataQuality.thresholds"),
        (lambda: PredictionDrift(bins=1), "PredictionDrift.bins"),
        (lambda: TimeWindow(last=-1), "TimeWindow.last"),
        (lambda: WindowBaseline(window="soon"), "WindowBaseline.window"),
        (lambda: Monitor(endpoint=EP, signals=[DataDrift()], windw="1h"), "Monitor.windw"),
        (lambda: Monitor(endpoint=EP, signals=[DataDrift()], window=("a", "b")), "Monitor.window"),
        (lambda: Monitor(endpoint=EP, signals=[{"kind": "nope"}]), "Monitor.signals.0"),
    ],
)
def test_monitor_values_built_in_code_raise_configuration_errors_not_pydantic_ones(build: Any, field: str) -> None:
    error = _refused(build)
    assert error.details["field"] == field
    assert "errors.pydantic.dev" not in str(error)


def test_toml_problems_name_the_file_and_every_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(
        '[monitor]\nendpoint = "adv-ep"\nwindw = "6h"\n[[monitor.signals]]\nkind = "data_drift"\nthreshold = 0.1\n'
    )
    _refused(lambda: Monitor.from_toml(path), str(path), "windw", "signals.0.data_drift.threshold")
    path.write_bytes(b"\xff\xfe[monitor]")
    _refused(lambda: Monitor.from_toml(path), "cannot read monitor file", "utf-8")


_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@PROPERTY
@given(where=st.sampled_from(["monitor", "signal", "baseline", "window"]), key=_KEYS)
def test_an_unknown_key_anywhere_in_a_monitor_is_refused(where: str, key: str) -> None:
    data = _monitor(baseline={"kind": "data", "path": "x.parquet"}, window={"last": "1h"})
    known = {
        "monitor": set(Monitor.model_fields),
        "signal": set(DataDrift.model_fields),
        "baseline": set(DataBaseline.model_fields),
        "window": set(TimeWindow.model_fields),
    }[where]
    if key in known:
        return
    target = {
        "monitor": data,
        "signal": data["signals"][0],
        "baseline": data["baseline"],
        "window": data["window"],
    }[where]
    target[key] = 1
    _refused(lambda: Monitor.from_dict(data), key)


_WINDOWS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.builds(lambda n, u: f"{n}{u}", st.integers(-5, 10**9), st.sampled_from(["s", "m", "h", "d", "w", "y", ""])),
    st.text(max_size=8),
    st.tuples(st.integers(0, 4000), st.integers(0, 4000)).map(
        lambda pair: (datetime(2000, 1, 1) + timedelta(days=pair[0]), datetime(2000, 1, 1) + timedelta(days=pair[1]))
    ),
)


@PROPERTY
@given(window=_WINDOWS)
def test_every_window_is_a_usable_monitor_or_a_configuration_error(memory: MLOpsClient, window: Any) -> None:
    try:
        monitor = Monitor(endpoint=EP, window=window, baseline=DataBaseline(), signals=[DataDrift()])
    except ConfigurationError as error:
        assert error.details["field"] == "Monitor.window"
        return
    start, end = monitor.time_window.resolve(NOW)
    assert start < end
    report = memory.monitoring.run(monitor)  # no traffic: skipped, never a crash
    assert report.signals[0].skipped


# -- ground truth -------------------------------------------------------------------------------------

_GOOD_IDS = st.one_of(
    st.uuids().map(lambda u: u.hex),
    st.builds(lambda r, i: f"req-{r}:{i}", st.integers(0, 99), st.integers(0, 9)),  # rows of a batch
    st.text(min_size=1, max_size=20).filter(lambda t: t.strip() == t and t.strip()),  # unicode
    st.integers(0, 10**6),
)
_BAD_IDS = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.just(" padded"),
    st.just("x" * 1025),
    st.just(float("nan")),
    st.just(["nested"]),
)
_GOOD_NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans())
_BAD_LABELS = st.one_of(st.none(), st.just(float("nan")), st.just(float("inf")), st.just({"a": 1}), st.just([1]))


def _id_ok(item: Any) -> bool:
    if isinstance(item, int) and not isinstance(item, bool):
        return True
    return isinstance(item, str) and bool(item.strip()) and item == item.strip() and len(item) <= 1024


def _label_kind(item: Any) -> str | None:
    if isinstance(item, str):
        return "text"
    if isinstance(item, (bool, int)) or (isinstance(item, float) and math.isfinite(item)):
        return "number"
    return None


def _check_logged(client: MLOpsClient, ids: list[Any], labels: list[Any]) -> None:
    """Log; what must happen is decided independently of the SDK's code: refused naming the field with
    nothing stored, or stored with the last label of each id."""
    service = client.monitoring._svc()
    endpoint = f"adv-{uuid.uuid4().hex[:8]}"  # examples share the client: one endpoint each
    before = service.read_labels(endpoint).num_rows
    kinds = {_label_kind(item) for item in labels}
    valid = (
        bool(ids) and len(ids) == len(labels) and all(_id_ok(i) for i in ids) and len(kinds) == 1 and None not in kinds
    )
    if not valid:
        error = _refused(lambda: client.monitoring.log_ground_truth(endpoint, ids, labels))
        assert error.details["field"] in ("ids", "labels")
        assert service.read_labels(endpoint).num_rows == before  # nothing half-written
        return
    latest = {str(i): label for i, label in zip(ids, labels, strict=True)}  # a repeated id: the last label wins
    assert client.monitoring.log_ground_truth(endpoint, ids, labels) == len(latest)
    stored = service.read_labels(endpoint)
    got = dict(zip(stored.column("_id").to_pylist(), stored.column("label").to_pylist(), strict=True))
    expected = {key: (value if isinstance(value, str) else float(value)) for key, value in latest.items()}
    assert got == expected


@settings(PROPERTY, max_examples=60)
@given(ids=st.lists(st.one_of(_GOOD_IDS, _GOOD_IDS, _BAD_IDS), min_size=1, max_size=6), data=st.data())
def test_log_ground_truth_takes_exactly_the_correlation_ids_the_docs_allow(
    memory: MLOpsClient, ids: list[Any], data: st.DataObject
) -> None:
    labels = data.draw(st.lists(st.integers(0, 3), min_size=len(ids), max_size=len(ids)))
    _check_logged(memory, ids, labels)


@settings(PROPERTY, max_examples=60)
@given(
    labels=st.one_of(
        st.lists(st.one_of(_GOOD_NUMBERS, _GOOD_NUMBERS, _BAD_LABELS), min_size=1, max_size=6),
        st.lists(st.text(max_size=5), min_size=1, max_size=6),
        st.lists(st.one_of(_GOOD_NUMBERS, st.text(max_size=3)), min_size=1, max_size=6),
    ),
    data=st.data(),
)
def test_log_ground_truth_takes_exactly_the_labels_the_docs_allow(
    memory: MLOpsClient, labels: list[Any], data: st.DataObject
) -> None:
    ids = data.draw(
        st.lists(st.sampled_from(["a", "b", "c", "b:0", "b:1"]), min_size=len(labels), max_size=len(labels))
    )
    _check_logged(memory, ids, labels)


@pytest.mark.parametrize(
    ("ids", "labels", "field", "needle"),
    [
        ("abc", [1, 2, 3], "ids", "must be a list"),  # a string is not three ids
        (["a"], 1, "labels", "must be a list"),
        (["a", "b"], [1, None], "labels", "labels[1] is missing"),
        (["a", "b"], [1, "yes"], "labels", "mix numbers and text"),
        (["a", "b"], [datetime(2026, 1, 1), datetime(2026, 1, 2)], "labels", "is a datetime"),
        ([None], [1], "ids", "ids[0] = None"),
        (["x" * 5000], [1], "ids", "(5000 chars)"),
        ([], [], "ids", "no labels given"),
    ],
)
def test_log_ground_truth_refusals_name_the_field_and_write_nothing(
    local: MLOpsClient, ids: Any, labels: Any, field: str, needle: str
) -> None:
    error = _refused(lambda: local.monitoring.log_ground_truth(EP, ids, labels), needle)
    assert error.details["field"] == field
    assert not list((local.monitoring._svc()._labels(EP)).glob("*"))  # type: ignore[attr-defined]


def test_repeated_ids_keep_their_last_label_and_batch_rows_join_by_index(local: MLOpsClient) -> None:
    frame = pd.DataFrame({"x": np.arange(6.0)})
    ids = [f"order-7:{i}" for i in range(6)]  # what the server gives the rows of one batch
    local.monitoring.log_inferences(EP, frame, predictions=[0, 1, 0, 1, 0, 1], ids=ids, at=NOW - timedelta(minutes=1))
    local.monitoring.log_ground_truth(EP, [*ids, "order-7:0", "order-7:1"], [1, 1, 0, 1, 1, 0, 0, 1])
    local.monitoring.log_ground_truth(EP, ["never-scored", "order-7:5"], [1, 0])  # unknown ids join nothing
    report = local.monitoring.run(
        Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.1})])
    )
    truth = {0: 0, 1: 1, 2: 0, 3: 1, 4: 1, 5: 0}  # order-7:0/1 corrected in the same call, :5 in a later one
    predicted = [0, 1, 0, 1, 0, 1]
    accuracy = sum(truth[i] == predicted[i] for i in range(6)) / 6
    metric = report.signal("model_performance").metrics[0]
    assert (metric.value, metric.labeled_rows) == (pytest.approx(accuracy), 6)


@pytest.mark.parametrize("backend", ["memory", "local"])
def test_labels_of_another_kind_than_the_predictions_are_a_typed_error(
    backend: str, memory: MLOpsClient, local: MLOpsClient
) -> None:
    client = memory if backend == "memory" else local
    ids = client.monitoring.log_inferences(
        EP, pd.DataFrame({"x": np.arange(4.0)}), predictions=[0, 1, 0, 1], at=NOW - timedelta(minutes=1)
    )
    client.monitoring.log_ground_truth(EP, ids[:2], [0, 1])
    client.monitoring.log_ground_truth(EP, ids[2:], ["no", "yes"])  # another part, another kind
    monitor = Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.5})])
    _refused(lambda: client.monitoring.run(monitor), "labels are text", "but the predictions are numbers")


def test_rows_without_a_prediction_are_not_scored_and_metric_failures_are_typed(memory: MLOpsClient) -> None:
    ids = memory.monitoring.log_inferences(
        EP, pd.DataFrame({"x": np.arange(4.0)}), predictions=[1.0, None, float("nan"), 3.0], at=NOW - timedelta(1e-3)
    )
    memory.monitoring.log_ground_truth(EP, ids, [1.0, 2.0, 3.0, 5.0])
    report = memory.monitoring.run(
        Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"rmse": 1.0})])
    )
    metric = report.signal("model_performance").metrics[0]
    assert (metric.labeled_rows, metric.value) == (2, pytest.approx(math.sqrt((0 + 4) / 2)))
    assert report.alerts == ("model_performance: rmse 1.414 > 1",)
    other = "adv-text"
    ids = memory.monitoring.log_inferences(other, pd.DataFrame({"x": [1, 2]}), predictions=["a", "b"])
    memory.monitoring.log_ground_truth(other, ids, ["a", "a"])
    _refused(
        lambda: memory.monitoring.run(
            Monitor(endpoint=other, window="1h", signals=[ModelPerformance(thresholds={"rmse": 1.0})])
        ),
        "rmse cannot be computed",
    )
    nested = "adv-nested"
    ids = memory.monitoring.log_inferences(nested, pd.DataFrame({"x": [1, 2]}), predictions=[[0.2, 0.8], [0.9, 0.1]])
    memory.monitoring.log_ground_truth(nested, ids, [1, 0])
    _refused(
        lambda: memory.monitoring.run(
            Monitor(endpoint=nested, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.5})])
        ),
        "the predictions are",
    )


# -- capture folders ----------------------------------------------------------------------------------


def _one_hour(local: MLOpsClient, rows: int = 40) -> tuple[Path, list[str]]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=rows)})
    ids = local.monitoring.log_inferences(EP, frame, predictions=[1] * rows, at=NOW - timedelta(minutes=1))
    folder = local.monitoring._svc()._endpoint(EP) / "capture" / "external"  # type: ignore[attr-defined]
    return next(folder.glob("*/*")), ids


def _foreign(hour: Path) -> str:
    (hour / "part-foreign.parquet").write_bytes(b"this is not parquet")
    return "part-foreign.parquet"


def _truncated(hour: Path) -> str:
    whole = next(hour.glob("part-*.parquet")).read_bytes()
    (hour / "part-truncated.parquet").write_bytes(whole[: len(whole) // 2])
    return "part-truncated.parquet"


def _empty(hour: Path) -> str:
    (hour / "part-empty.parquet").write_bytes(b"")
    return "part-empty.parquet"


def _naive_time(hour: Path) -> str:
    stamp = pa.array([NOW.replace(tzinfo=None)], pa.timestamp("ns"))
    pq.write_table(pa.table({"_id": ["old"], "_ts": stamp, "x": [1.0]}), hour / "part-naive.parquet")
    return "part-naive.parquet"


def _integer_time(hour: Path) -> str:
    pq.write_table(pa.table({"_id": ["old"], "_ts": [1], "x": [1.0]}), hour / "part-int.parquet")
    return "part-int.parquet"


@pytest.mark.parametrize("damage", [_foreign, _truncated, _empty, _naive_time, _integer_time])
def test_a_damaged_or_foreign_capture_file_is_named_in_a_configuration_error(local: MLOpsClient, damage: Any) -> None:
    hour, _ = _one_hour(local)
    name = damage(hour)
    monitor = Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=[DataDrift()])
    error = _refused(
        lambda: local.monitoring.run(monitor, baseline_data=pd.DataFrame({"x": [0.0, 1.0]})), name, "move them out"
    )
    assert error.details["field"] == "capture"


def test_empty_hour_folders_and_an_older_schema_file_read_correctly(local: MLOpsClient) -> None:
    hour, _ = _one_hour(local, rows=40)
    (hour.parent / "23").mkdir(exist_ok=True)
    (hour.parent.parent / "2000-01-01" / "00").mkdir(parents=True)
    older = pa.table(  # written before _request_id / _row / _model existed
        {"_id": ["old-1"], "_ts": pa.array([NOW - timedelta(minutes=2)], pa.timestamp("us", tz="UTC")), "x": [0.5]}
    )
    pq.write_table(older, hour / "part-0-older.parquet")
    captured = local.monitoring.read_captures(EP, window="1h")
    assert len(captured) == 41
    assert captured["_request_id"].isna().sum() == 1


def test_a_foreign_label_file_is_named_in_a_configuration_error(local: MLOpsClient) -> None:
    _, ids = _one_hour(local)
    local.monitoring.log_ground_truth(EP, ids, [1] * len(ids))
    folder = local.monitoring._svc()._labels(EP)  # type: ignore[attr-defined]
    pq.write_table(pa.table({"_id": ["a"], "lbl": [1]}), folder / "part-foreign.parquet")
    monitor = Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.5})])
    error = _refused(lambda: local.monitoring.run(monitor), "part-foreign.parquet", "has no column label")
    assert error.details["field"] == "labels"


# -- baselines and inputs -----------------------------------------------------------------------------


def _run(client: MLOpsClient, current: pd.DataFrame, baseline: pd.DataFrame, *signals: Any) -> Any:
    client.monitoring.log_inferences(EP, current, at=NOW - timedelta(minutes=1))
    monitor = Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=list(signals))
    return client.monitoring.run(monitor, baseline_data=baseline)


def test_a_baseline_without_rows_is_refused(memory: MLOpsClient) -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype=float), "c": pd.Series([], dtype=object)})
    current = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    error = _refused(lambda: _run(memory, current, empty, DataDrift(), DataQuality()), "has no rows")
    assert error.details["field"] == "baseline"


def test_a_baseline_column_without_values_is_reported_not_compared(memory: MLOpsClient) -> None:
    baseline = pd.DataFrame({"x": [None] * 20, "y": np.arange(20.0), "c": [None] * 20})
    current = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(0, 20, 2.0), "c": ["a"] * 10})
    report = _run(memory, current, baseline, DataDrift(), DataQuality())
    drift = report.signal("data_drift")
    assert "not compared" in drift.message
    assert "x" in drift.message
    assert drift.feature("x").psi is None
    assert drift.feature("y").psi is not None
    quality = report.signal("data_quality")
    assert (quality.feature("c").out_of_range_rate, quality.feature("c").type_error_rate) == (None, None)
    assert quality.feature("y").out_of_range_rate == pytest.approx(0.0)
    assert report.passed, report.alerts
    only_nulls = _run(memory, current.assign(y=None), pd.DataFrame({"y": [None] * 5}), DataDrift(features=["y"]))
    assert only_nulls.signal("data_drift").skipped


def test_unseen_categories_constant_columns_and_missing_features(memory: MLOpsClient) -> None:
    baseline = pd.DataFrame({"c": ["a", "b"] * 50, "k": [3.0] * 100})
    current = pd.DataFrame({"c": ["a"] * 6 + ["zz"] * 4, "k": [3.0] * 10})
    report = _run(memory, current, baseline, DataDrift(), DataQuality())
    assert report.signal("data_quality").feature("c").out_of_range_rate == pytest.approx(0.4)
    assert report.signal("data_quality").feature("k").out_of_range_rate == 0.0
    assert not report.signal("data_drift").feature("k").alert  # identical constant columns do not drift
    assert report.drifted_features() == ("c",)
    _refused(
        lambda: memory.monitoring.run(
            Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=[DataDrift(features=["c", "nope"])]),
            baseline_data=baseline,
        ),
        "['nope']",
    )
    _refused(
        lambda: memory.monitoring.run(
            Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=[DataDrift(categorical=["kk"])]),
            baseline_data=baseline,
        ),
        "categorical names ['kk']",
    )


def test_a_report_with_an_unbounded_statistic_reads_back(memory: MLOpsClient, recwarn: pytest.WarningsRecorder) -> None:
    current = pd.DataFrame({"x": [1.0, 2.0, np.inf, 4.0, 5.0]})
    report = _run(memory, current, pd.DataFrame({"x": [3.0] * 10}), DataDrift(thresholds={"wasserstein": 1.0}))
    x = report.signal("data_drift").feature("x")
    assert x.wasserstein is None  # over a constant baseline (std 0) it is infinite: JSON cannot hold that
    assert report.alerts == ("data_drift: x: wasserstein inf > 1",)
    assert MonitorReport.from_json(report.to_json()) == report  # was refused as "edited"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_prediction_drift_against_an_incomparable_baseline_is_skipped_not_passed(memory: MLOpsClient) -> None:
    memory.monitoring.log_inferences(
        EP, pd.DataFrame({"x": np.arange(10.0)}), predictions=["yes"] * 10, at=NOW - timedelta(minutes=1)
    )
    report = memory.monitoring.run(
        Monitor(endpoint=EP, window="1h", baseline=DataBaseline(target="y"), signals=[PredictionDrift()]),
        baseline_data=pd.DataFrame({"x": np.arange(10.0), "y": [0, 1] * 5}),
    )
    result = report.signal("prediction_drift")
    assert result.skipped
    assert "categorical=True" in result.message


def test_log_inferences_odd_inputs(memory: MLOpsClient) -> None:
    mixed = pd.DataFrame({"age": [35, "abc", 40, None]})  # pandas takes it, Arrow did not
    ids = memory.monitoring.log_inferences(EP, mixed, predictions=[1, "two", 3, 4], at=NOW - timedelta(minutes=1))
    assert len(ids) == 4
    report = memory.monitoring.run(
        Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=[DataQuality()]),
        baseline_data=pd.DataFrame({"age": [20.0, 60.0]}),
    )
    age = report.signal("data_quality").feature("age")
    assert (age.type_error_rate, age.null_rate) == (pytest.approx(0.25), pytest.approx(0.25))
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, ids=["a", "a"]), "ids repeat")
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, ids=[None, "b"]), "ids[0] = None")
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, predictions=5), "predictions must be a list")
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, predictions=[1]), "one value per row")
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, at="2026-01-01"), "at must be a datetime")
    _refused(lambda: memory.monitoring.log_inferences(EP, frame, deployment="../x"), "deployment name")
    repeated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    _refused(lambda: memory.monitoring.log_inferences(EP, repeated), "repeated column names ['a']")
    assert len(memory.monitoring.log_inferences(EP, pd.DataFrame(index=range(3)), predictions=[1, 2, 3])) == 3


def test_endpoint_names_follow_one_rule_on_every_backend(memory: MLOpsClient, local: MLOpsClient) -> None:
    for client in (memory, local):
        _refused(lambda client=client: client.monitoring.log_ground_truth("ep", ["a"], [1]), "endpoint name 'ep'")
        _refused(lambda client=client: client.monitoring.read_captures("bad/ep"), "endpoint name")


# -- numbers ------------------------------------------------------------------------------------------


def _psi_js(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    p = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
    q = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1)
    p_share = np.clip(p / p.sum(), 1e-4, None)
    q_share = np.clip(q / q.sum(), 1e-4, None)
    return float(np.sum((q_share - p_share) * np.log(q_share / p_share))), float(jensenshannon(p, q, base=2))


@settings(PROPERTY, max_examples=12)
@given(
    seed=st.integers(0, 2**31),
    rows=st.integers(50, 600),
    shift=st.floats(0.0, 3.0),
    scale=st.floats(0.5, 2.0),
    null_share=st.floats(0.0, 0.3),
)
def test_drift_and_quality_equal_an_independent_computation(
    seed: int, rows: int, shift: float, scale: float, null_share: float
) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=800)
    current = rng.normal(shift, scale, size=rows)
    nulls = rng.random(rows) < null_share
    captured = np.where(nulls, np.nan, current)
    with MLOpsClient("memory://", show_progress=False) as client:
        report = _run(
            client,
            pd.DataFrame({"x": captured}),
            pd.DataFrame({"x": reference}),
            DataDrift(thresholds={"psi": 0.2, "ks": 0.3}),
            DataQuality(),
        )
    x = report.signal("data_drift").feature("x")
    valid = current[~nulls]
    psi, js = _psi_js(reference, valid)
    assert x.psi == pytest.approx(psi, rel=1e-9, abs=1e-12)
    assert x.js == pytest.approx(js, rel=1e-9, abs=1e-12)
    assert x.ks_statistic == pytest.approx(stats.ks_2samp(reference, valid).statistic, abs=1e-12)
    assert x.wasserstein == pytest.approx(stats.wasserstein_distance(reference, valid) / reference.std(), rel=1e-9)
    assert x.rows == valid.size
    quality = report.signal("data_quality").feature("x")
    assert quality.null_rate == pytest.approx(nulls.mean())
    outside = np.count_nonzero((valid < reference.min()) | (valid > reference.max()))
    assert quality.out_of_range_rate == pytest.approx(outside / rows)
    assert x.alert == (psi > 0.2 or x.ks_statistic > 0.3)


@settings(PROPERTY, max_examples=10)
@given(seed=st.integers(0, 2**31), shifted=st.sampled_from(["a", "b", "c", "d"]), size=st.integers(300, 800))
def test_identical_data_never_alerts_and_a_shifted_feature_alone_alerts(seed: int, shifted: str, size: int) -> None:
    rng = np.random.default_rng(seed)
    baseline = pd.DataFrame(
        {
            "a": rng.normal(size=size),
            "b": rng.exponential(size=size),
            "c": rng.choice(["x", "y", "z"], size=size),
            "d": rng.integers(0, 5, size=size).astype(float),
        }
    )
    signals = [DataDrift(thresholds={"psi": 0.2, "js": 0.2}), DataQuality()]
    with MLOpsClient("memory://", show_progress=False) as client:
        same = _run(client, baseline, baseline, *signals)
    assert same.passed, same.alerts
    assert all(f.psi == pytest.approx(0.0, abs=1e-12) for f in same.signal("data_drift").features)
    moved = baseline.copy()
    if shifted == "c":
        moved["c"] = rng.choice(["x", "y", "z"], size=size, p=[0.8, 0.1, 0.1])
    elif shifted == "d":
        moved["d"] = moved["d"] + 2
    else:
        moved[shifted] = moved[shifted] + 2 * baseline[shifted].std()
    with MLOpsClient("memory://", show_progress=False) as client:
        report = _run(client, moved, baseline, DataDrift(thresholds={"psi": 0.2, "js": 0.2}))
    assert report.drifted_features() == (shifted,), report.alerts


# -- the CLI ------------------------------------------------------------------------------------------


def test_cli_reports_bad_monitor_files_and_labels_as_typed_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from mlops_sdk.cli.main import run as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo.toml").write_text(
        f'[monitor]\nendpoint = "{EP}"\nwindw = "1h"\n[[monitor.signals]]\nkind = "data_drift"\n'
    )
    (tmp_path / "labels.csv").write_text("correlation_id,label\norder-1,1\norder-2,\n")  # an unknown outcome
    target = f"local://{tmp_path / '.mlops'}"
    assert cli(["-t", target, "-o", "json", "monitor", "run", "typo.toml"]) == 1
    printed = json.loads(capfd.readouterr().out)["error"]
    assert (printed["type"], printed["details"]["errors"]) == (
        "ConfigurationError",
        ["windw: Extra inputs are not permitted; did you mean `window`?"],
    )
    assert cli(["-t", target, "-o", "json", "monitor", "labels", EP, "labels.csv"]) == 1
    captured = capfd.readouterr()
    printed = json.loads(captured.out)["error"]
    assert (printed["type"], printed["details"]["field"], printed["details"]["index"]) == (
        "ConfigurationError",
        "labels",
        1,
    )
    assert "Traceback" not in captured.err
    assert not (tmp_path / ".mlops" / "monitoring").exists()  # nothing stored


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_label_files_keep_ids_that_look_like_numbers_as_text(memory: MLOpsClient, tmp_path: Path, suffix: str) -> None:
    ids = ["00042", "1e5", "7"]  # pandas reads these as 42, 100000.0 and 7 unless told otherwise
    memory.monitoring.log_inferences(EP, pd.DataFrame({"x": [1.0, 2.0, 3.0]}), predictions=[1, 0, 1], ids=ids)
    path = tmp_path / f"labels{suffix}"
    if suffix == ".csv":
        path.write_text("correlation_id,label\n00042,1\n1e5,0\n7,0\n")
    else:
        path.write_text(json.dumps([{"correlation_id": i, "label": v} for i, v in zip(ids, [1, 0, 0], strict=True)]))
    assert memory.monitoring.log_ground_truth(EP, data=path) == 3
    report = memory.monitoring.run(
        Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.5})])
    )
    metric = report.signal("model_performance").metrics[0]
    assert (metric.labeled_rows, metric.value) == (3, pytest.approx(2 / 3))


def test_azure_collector_files_with_a_bad_line_an_unfinished_line_or_mixed_types() -> None:
    from mlops_sdk.backends.azure.monitoring import _captured_table

    now = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def line(correlation: str, data: Any) -> str:
        return json.dumps({"time": stamp, "correlationid": correlation, "data": [data]}) + "\n"

    inputs = (line("r1", {"x": 1.0}) + line("r2", {"x": "abc"}) + '{"time": "' + stamp).encode()  # being appended
    outputs = (line("r1", 0.5) + line("r2", 0.7)).encode()
    files = [("blue", "model_inputs", inputs, "a.jsonl"), ("blue", "model_outputs", outputs, "b.jsonl")]
    table = _captured_table(files, now - timedelta(hours=1), now + timedelta(hours=1))
    assert table is not None
    assert table.column("_id").to_pylist() == ["r1", "r2"]
    assert table.column("x").to_pylist() == ["1.0", "abc"]  # values sharing no type: text, as on disk locally
    assert table.column("_prediction").to_pylist() == [0.5, 0.7]
    broken = [("blue", "model_inputs", b"not json\n" + line("r3", {"x": 2.0}).encode(), "c/d.jsonl")]
    _refused(lambda: _captured_table(broken, now - timedelta(hours=1), now + timedelta(hours=1)), "c/d.jsonl line 1")


@pytest.mark.parametrize("backend", ["memory", "local"])
def test_an_id_captured_twice_is_scored_once_with_its_latest_answer(
    backend: str, memory: MLOpsClient, local: MLOpsClient
) -> None:
    client = memory if backend == "memory" else local
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    client.monitoring.log_inferences(EP, frame, predictions=[0, 0], ids=["a", "b"], at=NOW - timedelta(minutes=9))
    # the job is retried (or a caller resends its own correlation id): "a" is captured again, answered 1
    client.monitoring.log_inferences(EP, frame.iloc[:1], predictions=[1], ids=["a"], at=NOW - timedelta(minutes=2))
    client.monitoring.log_ground_truth(EP, ["a", "b"], [1, 1])
    report = client.monitoring.run(
        Monitor(endpoint=EP, window="1h", signals=[ModelPerformance(thresholds={"accuracy": 0.1})])
    )
    metric = report.signal("model_performance").metrics[0]
    assert (metric.labeled_rows, metric.value) == (2, pytest.approx(0.5))


def test_a_monitor_edited_with_model_copy_is_checked_again(memory: MLOpsClient) -> None:
    monitor = Monitor(endpoint=EP, window="1h", baseline=DataBaseline(), signals=[DataDrift()])
    memory.monitoring.log_inferences(EP, pd.DataFrame({"x": [1.0, 2.0]}), at=NOW - timedelta(minutes=90))
    wider = monitor.model_copy(update={"window": "2h"})  # pydantic does not validate updates
    assert memory.monitoring.run(wider, baseline_data=pd.DataFrame({"x": [1.0, 2.0]})).rows == 2
    _refused(lambda: memory.monitoring.run(monitor.model_copy(update={"window": "soon"})), "not a duration")
    _refused(lambda: memory.monitoring.run(monitor.model_copy(update={"endpoint": "e"})), "endpoint name 'e'")


_CELLS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.text(max_size=4),
    st.sampled_from(["a", "b", "c"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
)
_COLUMNS = st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3, unique=True)


def _frame(draw: Any, columns: list[str], rows: int) -> pd.DataFrame:
    kinds = {name: draw(st.sampled_from(["number", "text", "any"])) for name in columns}
    cell = {"number": st.floats(-5, 5), "text": st.sampled_from(["a", "b", "c", None]), "any": _CELLS}
    return pd.DataFrame({name: [draw(cell[kinds[name]]) for _ in range(rows)] for name in columns})


@pytest.mark.parametrize("backend", ["memory", "local"])
@settings(PROPERTY, max_examples=25)
@given(data=st.data(), columns=_COLUMNS, rows=st.integers(1, 12), base_rows=st.integers(1, 12))
def test_any_data_gives_a_report_that_reads_back_or_a_configuration_error(
    tmp_path_factory: pytest.TempPathFactory,
    backend: str,
    data: st.DataObject,
    columns: list[str],
    rows: int,
    base_rows: int,
) -> None:
    current = _frame(data.draw, columns, rows)
    baseline = _frame(data.draw, data.draw(_COLUMNS), base_rows)
    predictions = data.draw(st.lists(_CELLS, min_size=rows, max_size=rows))
    labels = data.draw(st.lists(st.one_of(st.integers(0, 2), st.floats(-2, 2)), min_size=rows, max_size=rows))
    baseline["target"] = data.draw(st.lists(st.integers(0, 2), min_size=base_rows, max_size=base_rows))
    signals = [
        DataDrift(thresholds={"psi": 0.2, "js": 0.2, "wasserstein": 1.0, "ks": 0.5, "chi2_pvalue": 0.01}),
        PredictionDrift(),
        DataQuality(),
        ModelPerformance(thresholds={"accuracy": 0.5}),
    ]
    target = "memory://" if backend == "memory" else f"local://{tmp_path_factory.mktemp('fuzz') / '.mlops'}"
    with MLOpsClient(target, show_progress=False) as client:
        try:
            ids = client.monitoring.log_inferences(EP, current, predictions=predictions, at=NOW - timedelta(minutes=1))
            client.monitoring.log_ground_truth(EP, ids, labels)
            report = client.monitoring.run(
                Monitor(endpoint=EP, window="1h", baseline=DataBaseline(target="target"), signals=signals),
                baseline_data=baseline,
            )
        except ConfigurationError as error:
            assert error.details.get("field"), error
            return
    assert MonitorReport.from_json(report.to_json()) == report
    assert report.to_html().startswith("<!DOCTYPE html>")
    assert report.rows == rows


def test_training_baseline_and_deployment_filters_name_what_is_wrong(memory: MLOpsClient) -> None:
    memory.monitoring.log_inferences(EP, pd.DataFrame({"x": [1.0]}), model="m@1", at=NOW - timedelta(minutes=1))
    monitor = Monitor(
        endpoint=EP, window="1h", baseline={"kind": "training", "model": "not a model ref"}, signals=[DataDrift()]
    )
    error = _refused(lambda: memory.monitoring.run(monitor), "baseline.model 'not a model ref' is not a registered")
    assert error.details["field"] == "baseline.model"
    _refused(lambda: memory.monitoring.read_captures(EP, deployment="../x"), "deployment name '../x'")
