"""Guardrail evaluation shared by every backend: the metrics capability a platform offers, and the verdict.

A platform that can watch live traffic implements :class:`GuardrailMetrics`: ``metrics_mark`` returns
a JSON marker of "now" (the local server's cumulative counters, or just a timestamp where the metrics
service answers time ranges, as Azure Monitor does) and ``observe`` measures the deployment's traffic
since such a marker. :func:`evaluate` turns an observation into a verdict against :class:`Guardrails`.
The histogram math (Prometheus-style quantiles, PSI, Jensen-Shannon) is here too, in plain Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mlops_sdk.models.guardrails import GuardrailObservation, Guardrails

__all__ = [
    "GuardrailMetrics",
    "Verdict",
    "evaluate",
    "histogram_quantile",
    "js_distance",
    "psi",
    "rebin",
]

_EPSILON = 1e-4
"""Share given to an empty bin so PSI and JS stay finite (the usual smoothing)."""
_PSI_BINS = 10


@runtime_checkable
class GuardrailMetrics(Protocol):
    """The optional platform capability the rollout engine uses to watch live traffic during bakes."""

    def unsupported_guardrails(self) -> dict[str, str]:
        """Guardrails this platform cannot measure, each with the reason."""
        ...

    def metrics_mark(self, endpoint: str, deployment: str, baseline: str | None) -> dict[str, Any]:
        """A JSON marker of the deployment's metrics now (``at``: ISO time, plus what ``observe`` needs)."""
        ...

    def observe(
        self,
        endpoint: str,
        deployment: str,
        since: Mapping[str, Any],
        *,
        baseline: str | None,
        shift_metric: str,
    ) -> tuple[dict[str, Any], GuardrailObservation]:
        """The deployment's traffic since ``since``: the marker of now and the observation of the window."""
        ...


@dataclass(frozen=True)
class Verdict:
    """The outcome of one evaluation.

    Attributes:
        breached: ``(guardrail, observed, threshold)`` of the first breached guardrail, else None.
        thin: Guardrails without enough traffic for a verdict: ``name -> (seen, needed)``.
    """

    breached: tuple[str, float, float] | None
    thin: dict[str, tuple[int, int]]


def evaluate(guardrails: Guardrails, observation: GuardrailObservation, *, skip: Sequence[str] = ()) -> Verdict:
    """Compare an observation with the thresholds; a guardrail below its minimum sample gives no verdict."""
    thin: dict[str, tuple[int, int]] = {}
    for name in guardrails.active:
        if name in skip:
            continue
        threshold = float(getattr(guardrails, name))
        if name == "prediction_shift":
            seen, needed = observation.predictions, guardrails.prediction_minimum
        else:
            seen, needed = observation.requests, guardrails.min_requests
        value = observation.values.get(name)
        if seen < needed or value is None:
            thin[name] = (seen, needed)
            continue
        if value > threshold:
            return Verdict((name, value, threshold), {})
    return Verdict(None, thin)


def histogram_quantile(quantile: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``quantile`` of a cumulative histogram ``[(upper_bound, count), ...]`` (``+inf`` last).

    Linear interpolation inside the bucket, as Prometheus' ``histogram_quantile``; a quantile in
    the ``+inf`` bucket is the largest finite bound. None without observations.
    """
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def rebin(reference: Sequence[float], other: Sequence[float], bins: int = _PSI_BINS) -> tuple[list[float], list[float]]:
    """Merge fine histogram bins (counts, same bounds) into about ``bins`` bins of equal reference mass.

    PSI over hundreds of sparse bins measures sampling noise more than shift; the usual practice
    is ~10 bins cut at the reference's quantiles, which this does on the fixed bucket grid.
    """
    total = sum(reference)
    if total <= 0:
        return list(reference), list(other)
    merged_ref: list[float] = []
    merged_other: list[float] = []
    ref_acc = other_acc = 0.0
    cut = total / bins
    seen = 0.0
    next_cut = cut
    for ref_count, other_count in zip(reference, other, strict=True):
        ref_acc += ref_count
        other_acc += other_count
        seen += ref_count
        if seen >= next_cut - 1e-9:
            merged_ref.append(ref_acc)
            merged_other.append(other_acc)
            ref_acc = other_acc = 0.0
            while next_cut <= seen + 1e-9:
                next_cut += cut
    if ref_acc or other_acc:
        if merged_ref:
            merged_ref[-1] += ref_acc
            merged_other[-1] += other_acc
        else:
            merged_ref.append(ref_acc)
            merged_other.append(other_acc)
    return merged_ref, merged_other


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    shares = [max(count / total, _EPSILON) if total else _EPSILON for count in counts]
    norm = sum(shares)
    return [share / norm for share in shares]


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins (counts)."""
    p, q = _shares(reference), _shares(current)
    return float(sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True)))


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2, 0..1) of two histograms over the same bins (counts)."""
    p, q = _shares(reference), _shares(current)
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(x: Sequence[float]) -> float:
        return sum(a * math.log2(a / c) for a, c in zip(x, m, strict=True) if a > 0)

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def shift(reference: Sequence[float], current: Sequence[float], metric: str) -> float:
    """PSI or JS distance between two fine histograms (merged to reference-quantile bins first)."""
    merged_ref, merged_cur = rebin(reference, current)
    return psi(merged_ref, merged_cur) if metric == "psi" else js_distance(merged_ref, merged_cur)
