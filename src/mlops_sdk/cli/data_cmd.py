"""``mlops data``: start, watch, list and cancel data refreshes (Azure Data Factory or the local engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from mlops_sdk.cli.inputs import MAX_LIMIT, finite_seconds
from mlops_sdk.cli.output import as_flags, pairs, state
from mlops_sdk.core.status import Status

if TYPE_CHECKING:
    from mlops_sdk.clients.data_factory import DataFactoryClient
    from mlops_sdk.models.data_factory import RefreshRun

app = typer.Typer(help="Data refreshes (Azure Data Factory pipelines or local refresh pipelines).")


def _client() -> DataFactoryClient:
    from mlops_sdk.clients.data_factory import DataFactoryClient

    return DataFactoryClient(state.target, profile=state.profile, config_file=state.config_file)


def _show_run(run: RefreshRun) -> None:
    from rich.markup import escape

    console = state.console()
    times = f"  {run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else ""
    console.print(
        f"[bold]{escape(run.pipeline)}[/]"
        + escape(f" run {run.run_id}: {run.status.value} ({run.native_status}){times}")
    )
    if run.message:
        state.line(f"  {run.message}")
    if run.activities:
        state.table(
            None,
            ["activity", "type", "status", "error"],
            [
                (a.name, a.type, a.native_status or a.status.value, a.error.message if a.error else "")
                for a in run.activities
            ],
        )
    if run.outputs:
        state.table(
            None,
            ["output", "version", "rows", "uri"],
            [(o.name, o.version, "" if o.row_count is None else o.row_count, o.uri) for o in run.outputs.values()],
        )


@app.command("refresh")
def refresh(
    pipeline: Annotated[str, typer.Argument(help="Pipeline name.")],
    param: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--param", "-P", help="Parameter NAME=VALUE (repeatable); converted to the declared type."),
    ] = None,
    key: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--key", help="Idempotency key: a run started with the same key is re-attached."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run to finish.")] = False,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="With --wait: give up waiting after this many seconds.", callback=finite_seconds),
    ] = None,
) -> None:
    """Start a refresh of PIPELINE; with --wait, wait and show its activities and outputs."""
    with as_flags(pipeline="PIPELINE", idempotency_key="--key", parameters="--param"), _client() as client:
        operation = client.begin_refresh(
            pipeline, parameters=pairs(param, flag="--param"), idempotency_key=key, coerce_strings=True
        )
        if not wait:
            state.emit(
                {"run_id": operation.id, "pipeline": pipeline, "continuation_token": operation.continuation_token()},
                lambda data: state.console().print(
                    f"started {pipeline} run {data['run_id']}\n"
                    f"wait for it with: mlops resume '{data['continuation_token']}'"
                ),
            )
            return
        run = operation.result(timeout=timeout)
        state.emit(run, _show_run)


@app.command("runs")
def runs(
    pipeline: Annotated[Optional[str], typer.Option("--pipeline", help="Only this pipeline.")] = None,  # noqa: UP045
    status: Annotated[
        Optional[Status],  # noqa: UP045
        typer.Option("--status", help="NotStarted, Running, Succeeded, Failed or Canceled."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1, max=MAX_LIMIT)] = 20,
) -> None:
    """List refresh runs, newest first."""
    with as_flags(pipeline="--pipeline", status="--status"), _client() as client:
        found = client.list_runs(pipeline, status=status)[:limit]
    state.listing(
        "refresh runs",
        ["run", "pipeline", "status", "native", "started", "ended"],
        found,
        lambda run: (
            run.run_id,
            run.pipeline,
            run.status.value,
            run.native_status or "",
            f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else "",
            f"{run.ended_at:%Y-%m-%d %H:%M:%S}" if run.ended_at else "",
        ),
    )


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Show one run with its activities and outputs."""
    with _client() as client:
        run = client.get_run(run_id)
    state.emit(run, _show_run)


@app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Also cancel child pipelines (Azure).")
    ] = True,
) -> None:
    """Ask for cancellation of a run (it ends as Cancelled shortly after)."""
    with _client() as client:
        client.cancel(run_id, recursive=recursive)
        run = client.get_run(run_id)
    state.emit(
        {"run_id": run_id, "status": run.status.value, "native_status": run.native_status},
        lambda data: state.line(f"cancel requested for {run_id}: now {data['native_status']}"),
    )
