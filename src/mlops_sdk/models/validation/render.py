"""Markdown and self-contained HTML renderings of a :class:`ValidationReport`."""

from __future__ import annotations

import json
import math
from html import escape
from typing import TYPE_CHECKING, Any

from mlops_sdk.core.redaction import redact
from mlops_sdk.models.validation.svg import Bar, BarGroup, Interval, grouped_bars, interval_chart, threshold_bars

if TYPE_CHECKING:
    from mlops_sdk.models.validation.report import CheckResult, ValidationReport

__all__ = ["format_value", "md_cell", "report_html", "to_html", "to_markdown"]

_ICON = {"promote": "✅", "not_promoted": "⏸️", "failed": "❌"}
_WORD = {"promote": "promote", "not_promoted": "not promoted (not better than the champion)", "failed": "failed"}
_CANDIDATE, _CHAMPION = "#3d5a80", "#98a6b5"


def format_value(value: Any) -> str:
    """A short human form of an observed/expected value (numbers to 4 significant digits)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(item) for item in value) or "-"
    return json.dumps(value, default=str)


def md_cell(text: str) -> str:
    """``text`` fit for one Markdown table cell (secrets masked, pipes escaped, one line)."""
    return redact(text).replace("|", "\\|").replace("\n", " ")


def report_html(parts: list[str], *, digest: str, title: str, fragment: bool) -> str:
    """A report's HTML: ``parts`` (opening the report's ``div``), its digest, then the page around them.

    ``fragment=True`` returns the report's ``div`` alone (what a notebook shows).
    """
    parts = [*parts, f'<p class="muted">report digest <code>{escape(digest)}</code></p></div>']
    body = "".join(parts)
    if fragment:
        return body
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def to_markdown(report: ValidationReport) -> str:
    """Markdown fitting an Azure DevOps / GitHub step summary: verdict, checks table, data, digest."""
    champion = f"`{report.champion.ref}` (alias `{report.champion_alias}`)" if report.champion else "none (first model)"
    lines = [
        f"### {_ICON[report.outcome]} Validation of `{report.model.ref}`: **{_WORD[report.outcome]}**",
        "",
        f"Champion: {champion} · {len(report.checks)} checks, {len(report.failed_checks)} failed",
        "",
        "| | Check | Observed | Expected | Message |",
        "|---|---|---|---|---|",
    ]
    for check in report.checks:
        icon = "✅" if check.passed else ("⏸️" if check.comparative and check.error is None else "❌")
        lines.append(
            f"| {icon} | {md_cell(check.name)} | {md_cell(format_value(check.observed))} | "
            f"{md_cell(format_value(check.expected))} | {md_cell(check.error or check.message)} |"
        )
    if report.metrics:
        lines += ["", "| Metric (evaluation data) | Candidate | Champion |", "|---|---|---|"]
        for name, value in report.metrics.items():
            lines.append(
                f"| {md_cell(name)} | {format_value(value)} | {format_value(report.champion_metrics.get(name))} |"
            )
    drifted = [f"`{d.feature}` (PSI {d.psi:.3g})" for check in report.checks for d in check.drift if d.drifted]
    if drifted:
        lines += ["", f"Drifted features: {', '.join(drifted)}"]
    if report.data_versions:
        versions = ", ".join(f"{name} `{version}`" for name, version in sorted(report.data_versions.items()))
        lines += ["", f"Data: {versions}"]
    lines += ["", f"Report digest: `{report.digest}`", ""]
    return "\n".join(lines)


_CSS = """
.mlops-report{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;max-width:980px}
.mlops-report h1{font-size:20px;margin:0 0 4px}.mlops-report h2{font-size:16px;margin:22px 0 6px}
.mlops-report .verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.mlops-report .promote{background:#2a9d8f}.mlops-report .not_promoted{background:#e9a23b}
.mlops-report .failed{background:#d1495b}.mlops-report table{border-collapse:collapse;margin:6px 0;width:100%}
.mlops-report td,.mlops-report th{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px;
vertical-align:top}.mlops-report th{background:#f4f5f7}.mlops-report tr.fail td{background:#fdf0f1}
.mlops-report tr.hold td{background:#fff7e8}.mlops-report code{font-size:12px}
.mlops-report .muted{color:#666;font-size:12px}.mlops-report svg.chart{display:block;margin:6px 0}
"""


def _status(check: CheckResult) -> tuple[str, str]:
    if check.passed:
        return "pass", "passed"
    if check.comparative and check.error is None:
        return "hold", "not better"
    return "fail", "error" if check.error else "failed"


def _metric_chart(report: ValidationReport) -> str | None:
    names = list(report.metrics)
    if not names:
        return None
    groups = []
    for name in names:
        bars = [Bar("candidate " + report.model.ref, report.metrics[name], _CANDIDATE)]
        if report.champion is not None:
            bars.append(Bar("champion " + report.champion.ref, report.champion_metrics.get(name), _CHAMPION))
        groups.append(BarGroup(name, bars))
    return grouped_bars("candidate vs champion metrics on the evaluation data", groups)


def _interval_chart(report: ValidationReport) -> str | None:
    items = []
    for check in report.checks:
        comparison = check.comparison
        if comparison is None or comparison.improvement is None:
            continue
        items.append(
            Interval(
                label=check.name,
                value=comparison.improvement,
                low=comparison.ci_low,
                high=comparison.ci_high,
                threshold=comparison.min_delta,
                passed=check.passed,
            )
        )
    return interval_chart("improvement over the champion (with bootstrap interval)", items) if items else None


def _drift_charts(report: ValidationReport) -> list[str]:
    charts = []
    for check in report.checks:
        if not check.drift:
            continue
        threshold = check.expected.get("max_psi") if isinstance(check.expected, dict) else None
        rows = [(d.feature, d.psi, d.drifted) for d in check.drift]
        charts.append(
            threshold_bars(
                f"{check.name}: PSI per feature",
                rows,
                float(threshold) if isinstance(threshold, (int, float)) else None,
                "PSI",
            )
        )
    return charts


def _quality_rows(check: CheckResult) -> list[tuple[str, float, bool]]:
    """Per rule and column, the share of evaluation rows meeting it (``label, percent, bad``)."""
    observed, expected = check.observed, check.expected
    if not isinstance(observed, dict) or not isinstance(expected, dict):
        return []
    rows = observed.get("rows")
    if not isinstance(rows, int) or rows <= 0:
        return []
    missing = set(observed.get("missing_columns") or ())
    bars: list[tuple[str, float, bool]] = []
    min_rows = expected.get("min_rows")
    if isinstance(min_rows, int) and min_rows > 0:
        bars.append((f"rows (min {min_rows})", min(100.0, 100.0 * rows / min_rows), rows < min_rows))
    for rule, label, counts in (
        ("not_null", "not null", observed.get("nulls") or {}),
        ("ranges", "in range", observed.get("out_of_range") or {}),
    ):
        for column in expected.get(rule) or ():
            bad = rows if column in missing else int(counts.get(column, 0))
            bars.append((f"{column} {label}", 100.0 * (rows - bad) / rows, bad > 0))
    wrong = observed.get("schema") or {}
    for column in expected.get("schema") or {}:
        broken = column in wrong or column in missing
        bars.append((f"{column} type", 0.0 if broken else 100.0, broken))
    return bars


def _quality_charts(report: ValidationReport) -> list[tuple[CheckResult, str]]:
    charts = []
    for check in report.checks:
        rows = _quality_rows(check) if check.kind == "DataQuality" else []
        if rows:
            charts.append((check, threshold_bars(f"{check.name}: % of rows meeting each rule", rows, None, "%")))
    return charts


def _drift_table(check: CheckResult) -> str:
    rows = "".join(
        f'<tr class="{"fail" if d.drifted else ""}"><td>{escape(d.feature)}</td><td>{d.kind}</td>'
        f"<td>{d.psi:.4g}</td><td>{'' if d.ks_statistic is None else f'{d.ks_statistic:.4g}'}</td>"
        f"<td>{'' if d.ks_pvalue is None else f'{d.ks_pvalue:.3g}'}</td>"
        f"<td>{'drifted: ' + escape(d.reason or '') if d.drifted else 'stable'}</td></tr>"
        for d in check.drift
    )
    return (
        f'<table class="drift"><tr><th>feature</th><th>kind</th><th>PSI</th><th>KS</th><th>KS p-value</th>'
        f"<th></th></tr>{rows}</table>"
    )


def to_html(report: ValidationReport, *, fragment: bool = False) -> str:
    """The report as HTML with inline CSS and SVG plots; ``fragment=True`` omits the page wrapper."""
    champion = (
        f"<code>{escape(report.champion.ref)}</code> (alias <code>{escape(report.champion_alias)}</code>)"
        if report.champion
        else "none yet (first model)"
    )
    parts = [
        f'<div class="mlops-report"><style>{_CSS}</style>',
        f"<h1>Validation of <code>{escape(report.model.ref)}</code> "
        f'<span class="verdict {report.outcome}">{escape(_WORD[report.outcome])}</span></h1>',
        f'<div class="muted">champion: {champion} · backend {escape(report.backend or "-")} · '
        f"{escape(report.created_at.isoformat(timespec='seconds'))}</div>",
        "<h2>Checks</h2><table><tr><th></th><th>check</th><th>observed</th><th>expected</th><th>message</th></tr>",
    ]
    for check in report.checks:
        css, word = _status(check)
        parts.append(
            f'<tr class="{css}"><td>{word}</td><td>{escape(check.name)}<br><span class="muted">'
            f"{escape(check.kind)}</span></td><td>{escape(redact(format_value(check.observed)))}</td>"
            f"<td>{escape(redact(format_value(check.expected)))}</td>"
            f"<td>{escape(redact(check.error or check.message))}</td></tr>"
        )
    parts.append("</table>")
    metric_chart = _metric_chart(report)
    if metric_chart:
        parts += ["<h2>Candidate vs champion</h2>", metric_chart]
    intervals = _interval_chart(report)
    if intervals:
        parts.append(intervals)
    for check, chart in zip([c for c in report.checks if c.drift], _drift_charts(report), strict=True):
        parts += [f"<h2>Drift: {escape(check.name)}</h2>", chart, _drift_table(check)]
    for check, chart in _quality_charts(report):
        parts += [f"<h2>Data quality: {escape(check.name)}</h2>", chart]
    if report.data_versions:
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td><code>{escape(version)}</code></td></tr>"
            for name, version in sorted(report.data_versions.items())
        )
        parts.append(f"<h2>Data</h2><table><tr><th>data</th><th>version</th></tr>{rows}</table>")
    lineage = {key: value for key, value in report.lineage.model_dump().items() if value not in (None, {}, "")}
    if lineage:
        rows = "".join(
            f"<tr><td>{escape(key)}</td><td>{escape(redact(format_value(value)))}</td></tr>"
            for key, value in lineage.items()
        )
        parts.append(f"<h2>Lineage</h2><table>{rows}</table>")
    title = f"Validation of {report.model.ref}: {report.outcome}"
    return report_html(parts, digest=report.digest, title=title, fragment=fragment)
