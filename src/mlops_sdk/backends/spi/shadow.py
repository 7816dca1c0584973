"""Shadow comparison shared by the backends that can pair live and shadow answers.

A backend offering :class:`ShadowPairs` returns the mirrored requests it recorded (live and shadow
outputs of the same request, by correlation id); :func:`build_report` turns them into a
:class:`~mlops_sdk.models.shadow.ShadowReport` with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from mlops_sdk.models.shadow import LatencySummary, ShadowReport, ShadowSlice

__all__ = ["ShadowPairs", "build_report"]


@runtime_checkable
class ShadowPairs(Protocol):
    """The optional service capability behind ``DeploymentClient.shadow_report``."""

    def shadow_pairs(self, endpoint: str, deployment: str) -> list[dict[str, Any]]:
        """Recorded mirrored requests of ``deployment``: ``id``, ``live``, ``columns``, ``rows``,
        ``live_output``, ``live_ms``, ``shadow_output``, ``shadow_ms``, ``shadow_error``."""
        ...


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _outputs(value: Any, rows: int) -> list[Any] | None:
    """One output per row (a bare list, or ``{"predictions": [...]}``), else None."""
    if isinstance(value, dict):
        value = value.get("predictions")
    if isinstance(value, list) and len(value) == rows:
        return value
    return None


def _latency(values: Sequence[float]) -> LatencySummary:
    import numpy as np

    if not values:
        return LatencySummary()
    p50, p95, p99 = (float(x) for x in np.percentile(np.asarray(values, dtype=float), [50, 95, 99]))
    return LatencySummary(p50_ms=p50, p95_ms=p95, p99_ms=p99)


def build_report(
    endpoint: str, shadow: str, pairs: Sequence[dict[str, Any]], *, tolerance: float, slices: int
) -> ShadowReport:
    """Agreement, difference distribution, latency and errors, and per-feature slices of ``pairs``."""
    import numpy as np

    agree: list[bool] = []
    diffs: list[float | None] = []
    features: list[dict[str, float]] = []
    live_ms: list[float] = []
    shadow_ms: list[float] = []
    live_errors = shadow_errors = 0
    live_names: set[str] = set()
    for pair in pairs:
        live_names.add(str(pair.get("live")))
        rows = pair.get("rows") or []
        if pair.get("live_output") is None:
            live_errors += 1
        else:
            live_ms.append(float(pair["live_ms"]))
        if pair.get("shadow_error") is not None:
            shadow_errors += 1
        else:
            shadow_ms.append(float(pair["shadow_ms"]))
        live = _outputs(pair.get("live_output"), len(rows))
        mirrored = _outputs(pair.get("shadow_output"), len(rows))
        if live is None or mirrored is None:
            continue
        columns = pair.get("columns")
        for row, a, b in zip(rows, live, mirrored, strict=True):
            if _is_number(a) and _is_number(b):
                diff = float(b) - float(a)
                diffs.append(diff)
                agree.append(abs(diff) <= tolerance)
            else:
                diffs.append(None)
                agree.append(a == b)
            values = row if isinstance(row, list) else [row]
            names = columns if columns and len(columns) == len(values) else [f"x{i}" for i in range(len(values))]
            features.append({str(n): float(v) for n, v in zip(names, values, strict=True) if _is_number(v)})
    numeric = np.asarray([d for d in diffs if d is not None], dtype=float)
    difference: dict[str, float] = {}
    if numeric.size:
        absolute = np.abs(numeric)
        difference = {
            "mean": float(numeric.mean()),
            "mean_abs": float(absolute.mean()),
            "p50_abs": float(np.percentile(absolute, 50)),
            "p90_abs": float(np.percentile(absolute, 90)),
            "p99_abs": float(np.percentile(absolute, 99)),
            "max_abs": float(absolute.max()),
        }
    requests = len(pairs)
    return ShadowReport(
        endpoint=endpoint,
        shadow=shadow,
        live=sorted(live_names),
        requests=requests,
        rows=len(agree),
        tolerance=tolerance,
        agreement_rate=float(np.mean(agree)) if agree else None,
        difference=difference,
        live_latency=_latency(live_ms),
        shadow_latency=_latency(shadow_ms),
        live_errors=live_errors,
        shadow_errors=shadow_errors,
        live_error_rate=live_errors / requests if requests else None,
        shadow_error_rate=shadow_errors / requests if requests else None,
        slices=_slices(features, agree, diffs, slices),
    )


def _slices(
    features: list[dict[str, float]], agree: list[bool], diffs: list[float | None], count: int
) -> list[ShadowSlice]:
    """Agreement per quantile slice (``count`` bins of the observed values) of every numeric feature."""
    import numpy as np

    names = sorted({name for row in features for name in row})
    result: list[ShadowSlice] = []
    for name in names:
        indices = [i for i, row in enumerate(features) if name in row]
        values = np.asarray([features[i][name] for i in indices], dtype=float)
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, count + 1)[1:-1]))
        bins = np.searchsorted(edges, values, side="right")
        for number in range(len(edges) + 1):
            members = [indices[k] for k in np.flatnonzero(bins == number).tolist()]
            if not members:
                continue
            member_values = values[bins == number]
            numeric = [abs(d) for d in (diffs[i] for i in members) if d is not None]
            result.append(
                ShadowSlice(
                    feature=name,
                    low=float(member_values.min()),
                    high=float(member_values.max()),
                    rows=len(members),
                    agreement_rate=float(np.mean([agree[i] for i in members])),
                    mean_abs_difference=float(np.mean(numeric)) if numeric else None,
                )
            )
    return result
