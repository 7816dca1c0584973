"""``mlops train pipeline``: submit a training pipeline spec, show a run's steps, resume a failed run."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from mlops_sdk.cli.inputs import MAX_LIMIT, finite_seconds, readable
from mlops_sdk.cli.output import state

app = typer.Typer(help="Training pipelines (a local DAG of training runs, or an Azure ML pipeline job).")


def _client() -> Any:
    from mlops_sdk.clients.training import TrainingClient

    return TrainingClient(state.target, profile=state.profile, config_file=state.config_file)


def _flag(step: Any) -> str:
    return "cached" if step.cached else "reused" if step.reused else ""


def _render(run: Any) -> None:
    from rich.markup import escape

    console = state.console()
    resumed = f" resumed from {run.resumed_from}" if run.resumed_from else ""
    console.print(f"[bold]{escape(run.id)}[/]" + escape(f" {run.name} {run.status.value}{resumed}"))
    rows = [
        (
            name,
            step.status.value,
            _flag(step),
            step.run.id if step.run else "",
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(step.metrics.items())),
        )
        for name, step in run.steps.items()
    ]
    state.table("steps", ["step", "status", "cache", "run", "metrics"], rows)
    for key, value in sorted(run.outputs.items()):
        state.line(f"  output {key}: {value}")
    if run.error:
        console.print(f"[red]{escape(run.error)}[/]")


def _started(operation: Any, wait: bool, timeout: float | None) -> None:
    if not wait:
        state.started(operation)
        return
    state.emit(operation.result(timeout=timeout), _render)


@app.command("submit")
def submit(
    spec: Annotated[str, typer.Argument(help="Pipeline spec (Azure ML pipeline job YAML: type: pipeline, jobs: ...).")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run to finish.")] = False,
    key: Annotated[
        Optional[str], typer.Option("--key", help="Idempotency key: re-running re-attaches instead of starting again.")  # noqa: UP045
    ] = None,
    max_parallel: Annotated[int, typer.Option(help="Steps running at once (local).", min=1, max=256)] = 4,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Stop waiting after this many seconds (the run keeps going).", callback=finite_seconds),
    ] = None,
) -> None:
    """Run a pipeline; unchanged steps are taken from the cache. Prints its id and token, or its steps with --wait."""
    with _client() as client:
        spec_file = readable(spec, flag="SPEC", what="a pipeline spec (YAML)")
        operation = client.begin_pipeline(spec_file, idempotency_key=key, max_parallel=max_parallel)
        _started(operation, wait, timeout)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Pipeline run id (local) or pipeline job name (Azure ML).")],
) -> None:
    """Show a pipeline run: each step's status, whether it was cached or reused, its run and metrics."""
    with _client() as client:
        run = client.get_pipeline_run(run_id)
    state.emit(run, _render)


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(help="The failed or canceled pipeline run.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run to finish.")] = False,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key of the resumption.")] = None,  # noqa: UP045
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Stop waiting after this many seconds (the run keeps going).", callback=finite_seconds),
    ] = None,
) -> None:
    """Run a failed pipeline again from its failed step, keeping the steps that succeeded."""
    with _client() as client:
        operation = client.begin_resume_pipeline(run_id, idempotency_key=key)
        _started(operation, wait, timeout)


@app.command("runs")
def runs(
    name: Annotated[Optional[str], typer.Option(help="Only runs of this pipeline.")] = None,  # noqa: UP045
    limit: Annotated[int, typer.Option(help="How many runs to show.", min=1, max=MAX_LIMIT)] = 20,
) -> None:
    """List recent pipeline runs, newest first."""
    with _client() as client:
        found = client.list_pipeline_runs(name=name, limit=limit)
    state.listing(
        "pipeline runs",
        ["id", "pipeline", "status", "steps", "created"],
        found,
        lambda r: (
            r.id,
            r.name,
            r.status.value,
            ", ".join(f"{n}:{_flag(s) or s.status.value}" for n, s in r.steps.items()),
            r.created_at.isoformat(timespec="seconds") if r.created_at else "",
        ),
    )


@app.command("cancel")
def cancel(run_id: Annotated[str, typer.Argument(help="Pipeline run id or pipeline job name.")]) -> None:
    """Ask every running step of a pipeline run to stop."""
    with _client() as client:
        client.cancel_pipeline(run_id)
    state.cancel_requested(run_id)
