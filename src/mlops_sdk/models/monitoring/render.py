"""Markdown and self-contained HTML renderings of a :class:`MonitorReport` (the validation report's
pieces: value formatting, CSS and inline SVG bars)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from mlops_sdk.core.redaction import redact
from mlops_sdk.models.validation.render import _CSS, format_value, md_cell, report_html
from mlops_sdk.models.validation.svg import threshold_bars

if TYPE_CHECKING:
    from mlops_sdk.models.monitoring.report import FeatureStats, MonitorReport, SignalResult

__all__ = ["to_html", "to_markdown"]

_ICON = {"passed": "✅", "alert": "🚨", "no_data": "⚠️"}
_COLUMNS = (
    ("psi", "PSI"),
    ("js", "JS"),
    ("wasserstein", "Wasserstein (norm.)"),
    ("ks_statistic", "KS"),
    ("chi2_pvalue", "χ² p"),
    ("null_rate", "nulls"),
    ("type_error_rate", "type errors"),
    ("out_of_range_rate", "out of range"),
)


def _used(signal: SignalResult) -> list[tuple[str, str]]:
    return [(key, label) for key, label in _COLUMNS if any(getattr(f, key) is not None for f in signal.features)]


def _state(signal: SignalResult) -> str:
    return "skipped" if signal.skipped else ("passed" if signal.passed else "alert")


def to_markdown(report: MonitorReport) -> str:
    """Verdict, window, one table per signal, capture losses, digest."""
    window = f"{report.window_start.isoformat(timespec='seconds')} → {report.window_end.isoformat(timespec='seconds')}"
    baseline = ", ".join(f"{k} `{v}`" for k, v in report.baseline.items() if v not in (None, ""))
    lines = [
        f"### {_ICON[report.outcome]} Monitor `{report.monitor}` on `{report.endpoint}`: **{report.outcome}**",
        "",
        f"Window {window} · {report.rows} rows, {report.labeled_rows} labelled · baseline: {baseline or '-'}",
    ]
    if report.capture is not None and report.capture.lost:
        lines += [
            "",
            f"Capture lost {report.capture.lost} rows ({report.capture.dropped} dropped, "
            f"{report.capture.failed} failed to write)",
        ]
    for signal in report.signals:
        lines += ["", f"#### {signal.name} ({signal.kind}): {_state(signal)}", ""]
        if signal.message:
            lines += [md_cell(signal.message), ""]
        if signal.features:
            used = _used(signal)
            lines.append("| | Feature | " + " | ".join(label for _, label in used) + " | Alert |")
            lines.append("|---" * (len(used) + 3) + "|")
            for item in signal.features:
                values = " | ".join(format_value(getattr(item, key)) for key, _ in used)
                icon, reasons = "🚨" if item.alert else "✅", md_cell("; ".join(item.alerts))
                lines.append(f"| {icon} | {md_cell(item.feature)} | {values} | {reasons} |")
        if signal.metrics:
            lines += ["| | Metric | Value | Bound | Labelled rows |", "|---|---|---|---|---|"]
            for metric in signal.metrics:
                bound = f"{'≥' if metric.greater_is_better else '≤'} {format_value(metric.threshold)}"
                lines.append(
                    f"| {'🚨' if metric.alert else '✅'} | {md_cell(metric.metric)} | {format_value(metric.value)} | "
                    f"{bound} | {metric.labeled_rows} |"
                )
    lines += ["", f"Report digest: `{report.digest}`", ""]
    return "\n".join(lines)


def _feature_row(item: FeatureStats, used: list[tuple[str, str]]) -> str:
    cells = "".join(f"<td>{escape(format_value(getattr(item, key)))}</td>" for key, _ in used)
    return (
        f'<tr class="{"fail" if item.alert else ""}"><td>{escape(item.feature)}</td><td>{item.kind}</td>'
        f"<td>{item.rows}</td>{cells}<td>{escape(redact('; '.join(item.alerts)) or 'fine')}</td></tr>"
    )


def _signal_html(signal: SignalResult) -> list[str]:
    parts = [f'<h2>{escape(signal.name)} <span class="muted">{escape(signal.kind)} · {_state(signal)}</span></h2>']
    if signal.message:
        parts.append(f"<p>{escape(redact(signal.message))}</p>")
    if signal.features:
        chart_stat = next((k for k in ("psi", "null_rate", "type_error_rate") if k in signal.thresholds), None)
        if chart_stat is not None:
            rows = [
                (f.feature, float(getattr(f, chart_stat)), f.alert)
                for f in signal.features
                if getattr(f, chart_stat) is not None
            ]
            if rows:
                parts.append(
                    threshold_bars(
                        f"{signal.name}: {chart_stat} per feature", rows, signal.thresholds[chart_stat], chart_stat
                    )
                )
        used = _used(signal)
        header = "".join(f"<th>{escape(label)}</th>" for _, label in used)
        body = "".join(_feature_row(item, used) for item in signal.features)
        parts.append(f"<table><tr><th>feature</th><th>kind</th><th>rows</th>{header}<th></th></tr>{body}</table>")
    if signal.metrics:
        body = "".join(
            f'<tr class="{"fail" if m.alert else ""}"><td>{escape(m.metric)}</td>'
            f"<td>{escape(format_value(m.value))}</td>"
            f"<td>{'≥' if m.greater_is_better else '≤'} {escape(format_value(m.threshold))}</td>"
            f"<td>{m.labeled_rows}</td></tr>"
            for m in signal.metrics
        )
        parts.append(f"<table><tr><th>metric</th><th>value</th><th>bound</th><th>labelled rows</th></tr>{body}</table>")
    return parts


def to_html(report: MonitorReport, *, fragment: bool = False) -> str:
    """The report as HTML with inline CSS and SVG bars; ``fragment=True`` omits the page wrapper."""
    verdict = "promote" if report.passed else "failed"  # the validation report's colours
    baseline = ", ".join(f"{k} {v}" for k, v in report.baseline.items() if v not in (None, ""))
    parts = [
        f'<div class="mlops-report"><style>{_CSS}</style>',
        f"<h1>Monitor <code>{escape(report.monitor)}</code> on <code>{escape(report.endpoint)}</code> "
        f'<span class="verdict {verdict}">{escape(report.outcome)}</span></h1>',
        f'<div class="muted">window {escape(report.window_start.isoformat(timespec="seconds"))} → '
        f"{escape(report.window_end.isoformat(timespec='seconds'))} · {report.rows} rows, "
        f"{report.labeled_rows} labelled · baseline {escape(baseline or '-')} · "
        f"backend {escape(report.backend or '-')}</div>",
    ]
    if report.capture is not None and report.capture.lost:
        parts.append(
            f"<p>Capture lost {report.capture.lost} rows ({report.capture.dropped} dropped, "
            f"{report.capture.failed} failed to write).</p>"
        )
    for signal in report.signals:
        parts += _signal_html(signal)
    title = f"Monitor {report.monitor}: {report.outcome}"
    return report_html(parts, digest=report.digest, title=title, fragment=fragment)
