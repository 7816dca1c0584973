"""Statistics behind the checks: PSI, two-sample KS, paired bootstrap of a metric difference."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["PSI_EPSILON", "improvement", "ks_test", "paired_bootstrap", "psi_categorical", "psi_numeric"]

PSI_EPSILON = 1e-4
"""Floor for a bin's share, so an empty bin contributes a large but finite term."""


def _psi(expected: Any, actual: Any) -> float:
    import numpy as np

    e = np.clip(np.asarray(expected, dtype=float), PSI_EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), PSI_EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_numeric(reference: Any, current: Any, *, bins: int = 10) -> float:
    """PSI with bins at the reference's quantiles (deciles by default); NaNs are ignored.

    A value equal to an edge falls in the upper bin. Ties in the reference merge bins, so a
    feature with few distinct values gets fewer, not empty, bins.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    return _psi(ref_counts / ref.size, cur_counts / cur.size)


def psi_categorical(reference: Any, current: Any) -> float:
    """PSI over the union of categories (missing values count as their own category)."""
    import pandas

    ref = pandas.Series(reference).astype("object").where(pandas.Series(reference).notna(), "<missing>")
    cur = pandas.Series(current).astype("object").where(pandas.Series(current).notna(), "<missing>")
    if ref.empty or cur.empty:
        return float("nan")
    ref_share = ref.value_counts(normalize=True)
    cur_share = cur.value_counts(normalize=True)
    categories = sorted(set(ref_share.index) | set(cur_share.index), key=str)
    return _psi([ref_share.get(c, 0.0) for c in categories], [cur_share.get(c, 0.0) for c in categories])


def ks_test(reference: Any, current: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov ``(statistic, p-value)``; NaNs are ignored."""
    import numpy as np
    from scipy import stats

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan"), float("nan")
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def improvement(candidate: float, champion: float, *, greater_is_better: bool, relative: bool) -> float:
    """Candidate's gain over the champion in the metric's good direction (a fraction when ``relative``)."""
    gain = candidate - champion if greater_is_better else champion - candidate
    if not relative:
        return gain
    if champion == 0:
        return math.inf if gain > 0 else (-math.inf if gain < 0 else 0.0)
    return gain / abs(champion)


def paired_bootstrap(
    y_true: Any,
    candidate: Any,
    champion: Any,
    metric: Callable[[Any, Any], float],
    *,
    greater_is_better: bool,
    relative: bool,
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of the improvement, resampling rows with replacement for BOTH models at once.

    Pairing (the same rows for candidate and champion in every resample) removes the variance the two
    models share, so the interval measures only how much the difference itself depends on the rows.
    """
    import numpy as np

    truth, cand, champ = np.asarray(y_true), np.asarray(candidate), np.asarray(champion)
    rng = np.random.default_rng(seed)
    size = truth.shape[0]
    gains = np.empty(resamples, dtype=float)
    for index in range(resamples):
        rows = rng.integers(0, size, size=size)
        gains[index] = improvement(
            metric(truth[rows], cand[rows]),
            metric(truth[rows], champ[rows]),
            greater_is_better=greater_is_better,
            relative=relative,
        )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(gains, [tail, 1.0 - tail])
    return float(low), float(high)
