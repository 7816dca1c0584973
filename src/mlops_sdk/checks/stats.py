"""Statistics behind the checks: PSI, two-sample KS, paired bootstrap of a metric difference."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "PSI_EPSILON",
    "NumericDrift",
    "category_counts",
    "chi2_counts",
    "improvement",
    "js_distance",
    "ks_test",
    "numeric_drift",
    "paired_bootstrap",
    "psi_categorical",
    "psi_from_shares",
    "psi_numeric",
]

PSI_EPSILON = 1e-4
"""Floor for a bin's share, so an empty bin contributes a large but finite term."""


def _psi(expected: Any, actual: Any) -> float:
    import numpy as np

    e = np.clip(np.asarray(expected, dtype=float), PSI_EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), PSI_EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_from_shares(expected: Any, actual: Any) -> float:
    """PSI of two distributions over the same bins (shares floored at :data:`PSI_EPSILON`)."""
    return _psi(expected, actual)


def js_distance(expected: Any, actual: Any) -> float:
    """Jensen-Shannon distance (base 2: 0 identical, 1 disjoint) of two distributions over the same bins.

    The same value as ``scipy.spatial.distance.jensenshannon(expected, actual, base=2)``.
    """
    import numpy as np

    p = np.asarray(expected, dtype=float)
    q = np.asarray(actual, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0

    def kl(a: Any) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2.0)))


class NumericDrift(tuple):  # type: ignore[type-arg]
    """``(psi, js, wasserstein_normalized, ks_statistic, ks_pvalue)`` of one numeric feature."""

    __slots__ = ()

    @property
    def psi(self) -> float:
        """Population stability index on the reference's quantile bins."""
        return float(self[0])

    @property
    def js(self) -> float:
        """Jensen-Shannon distance (base 2) on the same bins."""
        return float(self[1])

    @property
    def wasserstein(self) -> float:
        """Wasserstein-1 distance divided by the reference's standard deviation."""
        return float(self[2])

    @property
    def ks_statistic(self) -> float:
        """Two-sample Kolmogorov-Smirnov statistic."""
        return float(self[3])

    @property
    def ks_pvalue(self) -> float:
        """Asymptotic p-value of the KS statistic."""
        return float(self[4])


def numeric_drift(reference: Any, current: Any, *, bins: int = 10) -> NumericDrift:
    """PSI and Jensen-Shannon distance (reference deciles, as :func:`psi_numeric`), normalized
    Wasserstein-1 and two-sample KS of two samples, from one sort of each (NaNs ignored).

    Built for large samples (a million captured rows): every statistic comes from the two sorted
    arrays with ``searchsorted``; numpy releases the GIL, so features can run on threads.
    """
    import numpy as np
    from scipy.stats import kstwobign

    ref = np.sort(np.asarray(reference, dtype=float))
    cur = np.sort(np.asarray(current, dtype=float))
    ref = ref[: np.searchsorted(ref, np.nan)] if ref.size and np.isnan(ref[-1]) else ref
    cur = cur[: np.searchsorted(cur, np.nan)] if cur.size and np.isnan(cur[-1]) else cur
    n, m = ref.size, cur.size
    if n == 0 or m == 0:
        nan = float("nan")
        return NumericDrift((nan, nan, nan, nan, nan))
    quantiles = np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    edges = np.unique(quantiles)
    ref_counts = np.diff(np.concatenate(([0], np.searchsorted(ref, edges, side="left"), [n])))
    cur_counts = np.diff(np.concatenate(([0], np.searchsorted(cur, edges, side="left"), [m])))
    psi = _psi(ref_counts / n, cur_counts / m)
    js = js_distance(ref_counts, cur_counts)
    # ECDFs of both samples at every value of either (right-continuous): KS is their largest gap,
    # Wasserstein-1 the area between them.
    # Two sorted runs: the stable sort merges them in linear time. Gaps are read at the last value
    # of every run of ties (where both ECDFs have taken the step).
    merged = np.concatenate((ref, cur))
    order = np.argsort(merged, kind="stable")
    points = merged[order]
    f_ref = np.cumsum(order < n) / n
    f_cur = (np.arange(1, n + m + 1) - f_ref * n) / m
    gaps = np.abs(f_ref - f_cur)
    last_of_ties = np.append(points[1:] != points[:-1], True)
    ks = float(gaps[last_of_ties].max())
    wasserstein = float(np.sum(gaps[:-1] * np.diff(points)))
    spread = float(ref.std())
    normalized = wasserstein / spread if spread > 0 else (0.0 if wasserstein == 0 else float("inf"))
    pvalue = float(kstwobign.sf(ks * np.sqrt(n * m / (n + m))))
    return NumericDrift((psi, js, normalized, ks, min(1.0, max(0.0, pvalue))))


def category_counts(reference: Any, current: Any) -> tuple[list[str], Any, Any]:
    """Categories of both samples (missing values as ``<missing>``) and each sample's counts over them."""
    import numpy as np
    import pandas

    def counts(values: Any) -> Any:
        series = pandas.Series(values).astype("object")
        return series.where(series.notna(), "<missing>").astype(str).value_counts()

    ref, cur = counts(reference), counts(current)
    categories = sorted(set(ref.index) | set(cur.index))
    return (
        categories,
        np.array([ref.get(c, 0) for c in categories], dtype=float),
        np.array([cur.get(c, 0) for c in categories], dtype=float),
    )


def chi2_counts(reference_counts: Any, current_counts: Any) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors over the same categories ``(statistic, p)``."""
    import numpy as np
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = chi2_contingency(table, correction=False)
    return float(result[0]), float(result[1])


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
