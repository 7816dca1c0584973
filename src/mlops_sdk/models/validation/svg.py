"""Tiny inline SVG charts for the HTML report: no JavaScript, no fonts or styles from the network."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Bar", "BarGroup", "Interval", "grouped_bars", "interval_chart", "threshold_bars"]

_LABEL_W = 150
_BAR_W = 330
_VALUE_W = 90
_ROW_H = 22
_TOP = 26
_FONT = "font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;font-size:12px"


@dataclass(frozen=True)
class Bar:
    """One bar: its series label, value and colour."""

    series: str
    value: float | None
    color: str


@dataclass(frozen=True)
class BarGroup:
    """Bars drawn together on one row group (one metric: candidate and champion)."""

    label: str
    bars: Sequence[Bar]


@dataclass(frozen=True)
class Interval:
    """A point estimate with an optional confidence interval and its pass threshold."""

    label: str
    value: float
    low: float | None
    high: float | None
    threshold: float
    passed: bool


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def _svg(width: int, height: int, title: str, body: list[str], css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" style="{_FONT}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def grouped_bars(title: str, groups: Sequence[BarGroup]) -> str:
    """Horizontal bars, one group per metric, each group scaled to its own largest absolute value.

    Metrics live on different scales (RMSE in tens, R² below one): scaling per group keeps every
    comparison readable while the value labels carry the real numbers.
    """
    width = _LABEL_W + _BAR_W + _VALUE_W
    body: list[str] = []
    series: dict[str, str] = {}
    y = _TOP
    for group in groups:
        values = [abs(bar.value) for bar in group.bars if bar.value is not None and math.isfinite(bar.value)]
        scale = max(values) if values and max(values) > 0 else 1.0
        body.append(
            f'<text x="0" y="{y + _ROW_H * len(group.bars) / 2 + 4:.1f}" fill="#222">{escape(group.label)}</text>'
        )
        for bar in group.bars:
            series.setdefault(bar.series, bar.color)
            length = 0.0
            if bar.value is not None and math.isfinite(bar.value):
                length = max(abs(bar.value) / scale * (_BAR_W - 10), 1.0)
            body.append(
                f'<rect class="bar" data-series="{escape(bar.series)}" data-label="{escape(group.label)}" '
                f'x="{_LABEL_W}" y="{y + 3}" width="{length:.1f}" height="{_ROW_H - 6}" fill="{bar.color}">'
                f"<title>{escape(bar.series)} {escape(group.label)} = {_fmt(bar.value)}</title></rect>"
            )
            body.append(
                f'<text x="{_LABEL_W + length + 4:.1f}" y="{y + _ROW_H - 7}" fill="#333">{_fmt(bar.value)}</text>'
            )
            y += _ROW_H
        y += 8
    legend_x = _LABEL_W
    for name, color in series.items():
        body.append(f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{color}"/>')
        body.append(f'<text x="{legend_x + 16}" y="16" fill="#222">{escape(name)}</text>')
        legend_x += 16 + 8 * len(name) + 20
    return _svg(width, y + 4, title, body, "bars")


def threshold_bars(title: str, rows: Sequence[tuple[str, float, bool]], threshold: float | None, unit: str) -> str:
    """One bar per row (``label, value, bad``) with a dashed threshold line; bad rows are red."""
    width = _LABEL_W + _BAR_W + _VALUE_W
    finite = [value for _, value, _ in rows if math.isfinite(value)]
    top = max([*finite, threshold or 0.0, 1e-9]) * 1.1
    body: list[str] = []
    y = _TOP
    for label, value, bad in rows:
        length = max(min(value, top) / top * _BAR_W, 1.0) if math.isfinite(value) else _BAR_W
        color = "#d1495b" if bad else "#2a9d8f"
        body.append(f'<text x="0" y="{y + _ROW_H - 7}" fill="#222">{escape(label)}</text>')
        body.append(
            f'<rect class="bar{" bad" if bad else ""}" data-label="{escape(label)}" x="{_LABEL_W}" y="{y + 3}" '
            f'width="{length:.1f}" height="{_ROW_H - 6}" fill="{color}">'
            f"<title>{escape(label)}: {unit} {_fmt(value)}</title></rect>"
        )
        body.append(f'<text x="{_LABEL_W + length + 4:.1f}" y="{y + _ROW_H - 7}" fill="#333">{_fmt(value)}</text>')
        y += _ROW_H
    if threshold is not None and math.isfinite(threshold):
        x = _LABEL_W + threshold / top * _BAR_W
        body.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" y2="{y}" stroke="#444" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{_TOP - 8}" fill="#444">'
            f"max {unit} {_fmt(threshold)}</text>"
        )
    return _svg(width, y + 6, title, body, "threshold")


def interval_chart(title: str, intervals: Sequence[Interval]) -> str:
    """Improvements with their confidence intervals against the zero line and the required delta."""
    width = _LABEL_W + _BAR_W + _VALUE_W
    points = [
        value
        for item in intervals
        for value in (item.value, item.low, item.high, item.threshold, 0.0)
        if value is not None and math.isfinite(value)
    ]
    low, high = (min(points), max(points)) if points else (-1.0, 1.0)
    pad = (high - low) * 0.1 or 1.0
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return _LABEL_W + (value - low) / (high - low) * _BAR_W

    body: list[str] = [
        f'<line x1="{x(0.0):.1f}" y1="{_TOP - 6}" x2="{x(0.0):.1f}" y2="{_TOP + _ROW_H * len(intervals)}" '
        f'stroke="#999"/><text x="{x(0.0) + 3:.1f}" y="{_TOP - 10}" fill="#666">0</text>'
    ]
    y = _TOP
    for item in intervals:
        color = "#2a9d8f" if item.passed else "#d1495b"
        mid = y + _ROW_H / 2
        body.append(f'<text x="0" y="{mid + 4:.1f}" fill="#222">{escape(item.label)}</text>')
        body.append(
            f'<line x1="{x(item.threshold):.1f}" y1="{y + 2}" x2="{x(item.threshold):.1f}" y2="{y + _ROW_H - 2}" '
            f'stroke="#444" stroke-dasharray="3 2">'
            f"<title>required improvement &gt; {_fmt(item.threshold)}</title></line>"
        )
        if item.low is not None and item.high is not None:
            body.append(
                f'<line class="ci" x1="{x(item.low):.1f}" y1="{mid:.1f}" x2="{x(item.high):.1f}" y2="{mid:.1f}" '
                f'stroke="{color}" stroke-width="2"><title>CI [{_fmt(item.low)}, {_fmt(item.high)}]</title></line>'
            )
        body.append(
            f'<circle class="point" cx="{x(item.value):.1f}" cy="{mid:.1f}" r="5" fill="{color}">'
            f"<title>improvement {_fmt(item.value)}</title></circle>"
        )
        body.append(f'<text x="{_LABEL_W + _BAR_W + 6}" y="{mid + 4:.1f}" fill="#333">{_fmt(item.value)}</text>')
        y += _ROW_H
    return _svg(width, y + 6, title, body, "intervals")
