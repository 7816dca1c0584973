"""The endpoint server's per-deployment metrics count exactly what was recorded.

Recording is deferred (answers wait in a deque and are counted in vectorized flushes), so these
tests compare the counters with an independent per-answer computation (``bisect`` over the bounds)
for arbitrary answers, across flush boundaries, after ``forget``, and with threads recording while
others read.
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_sdk.backends.local.serving.metrics import LATENCY_BOUNDS, PREDICTION_BOUNDS, EndpointMetrics

finite = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
value = st.one_of(finite, st.just(math.nan), st.just(math.inf), st.just(-math.inf))
predictions = st.one_of(
    st.none(),
    st.lists(value, min_size=1, max_size=5).map(lambda items: np.asarray(items, dtype=np.float64)),
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=3).map(lambda items: np.asarray(items, dtype=np.int64)),
    st.lists(finite, min_size=1, max_size=3).map(lambda items: np.asarray(items).reshape(-1, 1)),
    st.lists(value, min_size=1, max_size=3),  # JSON-ready list (the pyfunc path)
    st.lists(st.lists(finite, min_size=2, max_size=2), min_size=1, max_size=2),  # rows of several outputs
    st.just(["a", "b"]),  # non-numeric answers are not histogrammed
    st.just(np.asarray(["x"])),
    st.just({"predictions": [1.0, 2.0]}),
)
answer = st.tuples(
    st.sampled_from(["blue", "green"]),
    st.sampled_from(["live", "mirror"]),
    st.sampled_from([200, 400, 500]),
    st.floats(min_value=0.0, max_value=20.0, allow_nan=False),
    predictions,
)


def _numbers(item: Any) -> list[float]:
    """The finite numbers of one answer, computed independently of the module under test."""
    if item is None:
        return []
    if isinstance(item, np.ndarray):
        return [float(x) for x in item.ravel() if item.dtype.kind in "fiu" and math.isfinite(float(x))]
    if isinstance(item, dict):
        item = item["predictions"]
    flat: list[Any] = []
    for element in item:
        flat.extend(element if isinstance(element, list) else [element])
    return [float(x) for x in flat if isinstance(x, (int, float)) and math.isfinite(float(x))]


def _expected(answers: list[tuple[str, str, int, float, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for deployment, source, status, seconds, output in answers:
        series = expected.setdefault(
            (deployment, source),
            {
                "statuses": {},
                "latency": [0] * (len(LATENCY_BOUNDS) + 1),
                "latency_sum": 0.0,
                "predictions": [0] * (len(PREDICTION_BOUNDS) + 1),
                "prediction_sum": 0.0,
            },
        )
        series["statuses"][status] = series["statuses"].get(status, 0) + 1
        series["latency"][bisect.bisect_left(LATENCY_BOUNDS, seconds)] += 1
        series["latency_sum"] += seconds
        for number in _numbers(output):
            series["predictions"][bisect.bisect_left(PREDICTION_BOUNDS, number)] += 1
            series["prediction_sum"] += number
    return expected


def _as_dict(metrics: EndpointMetrics) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (deployment, source): {
            "statuses": statuses,
            "latency": latency,
            "latency_sum": latency_sum,
            "predictions": preds,
            "prediction_sum": pred_sum,
        }
        for deployment, source, statuses, latency, latency_sum, preds, pred_sum in metrics.snapshot()
    }


def _assert_equal(actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    assert set(actual) == set(expected)
    for key, series in expected.items():
        got = actual[key]
        assert got["statuses"] == series["statuses"], key
        assert got["latency"] == series["latency"], key
        assert got["predictions"] == series["predictions"], key
        assert math.isclose(got["latency_sum"], series["latency_sum"], rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(got["prediction_sum"], series["prediction_sum"], rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(answer, max_size=60), st.integers(0, 60))
def test_counters_equal_an_independent_count(answers: list[Any], read_at: int) -> None:
    metrics = EndpointMetrics()
    for index, item in enumerate(answers):
        if index == read_at:  # a read in the middle flushes: later answers must add to it, not replace it
            metrics.snapshot()
        metrics.record(item[0], item[2], item[3], item[4], source=item[1])
    _assert_equal(_as_dict(metrics), _expected(answers))


def test_counts_survive_many_automatic_flushes() -> None:
    rng = np.random.default_rng(7)
    answers = [
        ("blue", "live", int(rng.choice([200, 200, 200, 500])), float(rng.exponential(0.01)), rng.normal(size=1) * 50)
        for _ in range(5_000)
    ]
    metrics = EndpointMetrics()
    for deployment, source, status, seconds, output in answers:
        metrics.record(deployment, status, seconds, output, source=source)
    _assert_equal(_as_dict(metrics), _expected(answers))


def test_forget_drops_the_counters_of_answers_still_pending() -> None:
    metrics = EndpointMetrics()
    metrics.record("blue", 200, 0.001, np.asarray([1.0]))
    metrics.record("green", 200, 0.002, np.asarray([2.0]))
    metrics.forget("blue")  # a new model under this name starts from zero, pending answers included
    metrics.record("blue", 500, 0.003)
    snapshot = _as_dict(metrics)
    assert snapshot[("blue", "live")]["statuses"] == {500: 1}
    assert sum(snapshot[("blue", "live")]["predictions"]) == 0
    assert snapshot[("green", "live")]["statuses"] == {200: 1}


def test_threads_recording_while_others_read_lose_nothing() -> None:
    metrics = EndpointMetrics()
    per_thread, threads = 3_000, 4
    start = threading.Barrier(threads + 1)

    def record(number: int) -> None:
        start.wait()
        for index in range(per_thread):
            metrics.record("blue", 200, 0.001, np.asarray([float(index)]), source="mirror" if number % 2 else "live")

    workers = [threading.Thread(target=record, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers):
        metrics.snapshot()  # reads (and flushes) while the threads append
    for worker in workers:
        worker.join()
    snapshot = _as_dict(metrics)
    for source in ("live", "mirror"):
        series = snapshot[("blue", source)]
        assert series["statuses"] == {200: per_thread * threads // 2}
        assert sum(series["predictions"]) == per_thread * threads // 2
        assert math.isclose(series["prediction_sum"], threads // 2 * sum(range(per_thread)))
