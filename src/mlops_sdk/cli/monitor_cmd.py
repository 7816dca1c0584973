"""``mlops monitor``: run a monitor, log ground truth, show capture counters.

``mlops monitor run monitor.toml`` exits 0 when no signal alerted, 3 when one did or when every signal was
skipped for lack of data (outcome ``no_data``; a gate outcome, like
``mlops validate``'s "not promoted"), 1 on errors, so a scheduled CI job can branch on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlops_sdk.cli.inputs import existing, readable, writable
from mlops_sdk.cli.output import EXIT_GATE, EXIT_OK, as_flags, state

app = typer.Typer(help="Production monitoring: monitors, ground truth, capture counters.")


def _client() -> Any:
    from mlops_sdk.clients.monitoring import MonitoringClient

    return MonitoringClient(state.target, profile=state.profile, config_file=state.config_file)


@app.command("run")
def run(
    monitor: Annotated[Path, typer.Argument(help="TOML file with a [monitor] table and [[monitor.signals]].")],
    baseline_data: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--baseline-data", "-b", help="Baseline rows (Parquet/CSV/JSON) instead of the monitor's."),
    ] = None,
    report: Annotated[
        Optional[Path], typer.Option("--report", "-r", help="Write the report here (.html, .md or .json).")  # noqa: UP045
    ] = None,
) -> None:
    """Run a monitor: exit 0 when no signal alerted, 3 when one did, 1 on errors."""
    from mlops_sdk.models.monitoring import Monitor

    writable(report, flag="--report")  # before the work, not after it
    existing(baseline_data, flag="--baseline-data")  # the baseline is read only when there are rows
    with as_flags(monitor="MONITOR"):
        spec = Monitor.from_toml(readable(monitor, flag="MONITOR", what="a monitor file (TOML)"))
    with as_flags(baseline_data="--baseline-data", monitor="MONITOR"), _client() as client:
        result = client.run(spec, baseline_data=baseline_data)
    state.gate_report(result, report, exit_code=EXIT_OK if result.passed else EXIT_GATE)


@app.command("labels")
def labels(
    endpoint: Annotated[str, typer.Argument(help="The endpoint that scored the rows.")],
    data: Annotated[str, typer.Argument(help="Parquet/CSV/JSON file with the correlation ids and labels.")],
    id_column: Annotated[str, typer.Option(help="Column with the correlation ids.")] = "correlation_id",
    label_column: Annotated[str, typer.Option(help="Column with the labels.")] = "label",
) -> None:
    """Log ground truth for scored rows (joined to their predictions by correlation id)."""
    existing(data, flag="DATA")
    with as_flags(data="DATA", id_column="--id-column", label_column="--label-column"), _client() as client:
        count = client.log_ground_truth(endpoint, data=data, id_column=id_column, label_column=label_column)
    state.emit({"endpoint": endpoint, "labels": count}, lambda _: state.line(f"{count} labels logged for {endpoint}"))


@app.command("stats")
def stats(endpoint: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Capture counters: rows captured, written, dropped (queue full), failed (write errors), sampled out."""
    with _client() as client:
        counters = client.capture_stats(endpoint)

    def render(_: Any) -> None:
        state.line(
            f"{endpoint}: {counters.captured} captured, {counters.written} written, {counters.dropped} dropped, "
            f"{counters.failed} failed, {counters.sampled_out} sampled out"
        )

    state.emit(counters, render)
