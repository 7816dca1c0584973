"""``mlops train``: submit a training spec, list runs, show or cancel one."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from mlops_sdk.cli import train_pipeline_cmd
from mlops_sdk.cli.inputs import MAX_LIMIT, finite_seconds, readable
from mlops_sdk.cli.output import as_flags, pairs, state

app = typer.Typer(help="Training runs (local subprocesses or Azure ML jobs).")
app.add_typer(train_pipeline_cmd.app, name="pipeline")


def _client() -> Any:
    from mlops_sdk.clients.training import TrainingClient

    return TrainingClient(state.target, profile=state.profile, config_file=state.config_file)


def _render_run(run: Any) -> None:
    from rich.markup import escape

    console = state.console()
    console.print(
        f"[bold]{escape(run.id)}[/]"
        + escape(f" {run.status.value} ({run.native_status or '-'}) experiment={run.experiment}")
    )
    for key, value in sorted(run.metrics.items()):
        state.line(f"  metric {key} = {value:.6g}")
    for key, value in sorted(run.outputs.items()):
        state.line(f"  output {key}: {value}")
    if run.log_location:
        state.line(f"  logs: {run.log_location}")
    if run.error:
        console.print(f"[red]{escape(run.error)}[/]")


def _literal(name: str, text: str, declared: Any) -> Any:
    """``text`` as a value of the declared literal's type (``alpha=0.25`` for ``alpha: 0.5``)."""
    import math

    from mlops_sdk.models.training import TrainingInput

    value: Any = text
    try:
        if isinstance(declared, bool):
            if text.strip().lower() not in ("true", "false"):
                raise ValueError(text)
            value = text.strip().lower() == "true"
        elif isinstance(declared, int):
            value = int(text)
        elif isinstance(declared, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
    except ValueError:
        kind = "true or false" if isinstance(declared, bool) else f"a finite {type(declared).__name__}"
        raise typer.BadParameter(
            f"{name}={text!r}: the spec declares {name} as a literal {declared!r}; give {kind}", param_hint="--input"
        ) from None
    return TrainingInput(value=value, type="literal")


def _overrides(job: Any, given: dict[str, str]) -> dict[str, Any]:
    """``--input NAME=VALUE`` as inputs: a path (data), or a value of the type the spec gives a literal input.

    A NAME the spec does not declare is refused (with the closest one): it would replace nothing, and the
    run would silently train on the spec's own data.
    """
    import difflib

    for name in given:
        if name not in job.inputs:
            close = difflib.get_close_matches(name, list(job.inputs), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(job.inputs)) or "none"
            raise typer.BadParameter(
                f"the spec has no input {name!r} to replace (its inputs: {known}){hint}", param_hint="--input"
            )
    declared = {name: item.value for name, item in job.inputs.items() if item.is_literal}
    return {name: _literal(name, text, declared[name]) if name in declared else text for name, text in given.items()}


@app.command("submit")
def submit(
    spec: Annotated[str, typer.Argument(help="Training spec (YAML): code, command, inputs, outputs, ...")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run to finish.")] = False,
    key: Annotated[
        Optional[str], typer.Option("--key", help="Idempotency key: re-running re-attaches instead of starting again.")  # noqa: UP045
    ] = None,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Stop waiting after this many seconds (the run keeps going).", callback=finite_seconds),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Print the script's output (local runs).")
    ] = True,
    inputs: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--input",
            "-i",
            help="NAME=VALUE replacing an input of the spec, e.g. data=<snapshot path>; a literal input "
            "(alpha: 0.5) takes a value of its type (alpha=0.25).",
        ),
    ] = None,
) -> None:
    """Submit a training job; print its id and continuation token (or its result with --wait)."""
    from mlops_sdk.models.training import TrainingJob

    job = TrainingJob.from_yaml(readable(spec, flag="SPEC", what="a training spec (YAML)"))
    overrides = _overrides(job, pairs(inputs, flag="--input"))
    if overrides:
        job = job.with_inputs(**overrides)
    on_log = (lambda line: typer.echo(line, err=True)) if wait and stream and not state.json else None
    with as_flags(idempotency_key="--key"), _client() as client:
        operation = client.begin_train(job, idempotency_key=key, on_log=on_log)
        if not wait:
            state.started(operation)
            return
        run = operation.result(timeout=timeout)
    state.emit(run, _render_run)


@app.command("runs")
def runs(
    experiment: Annotated[Optional[str], typer.Option(help="Only runs of this experiment.")] = None,  # noqa: UP045
    limit: Annotated[int, typer.Option(help="How many runs to show.", min=1, max=MAX_LIMIT)] = 20,
) -> None:
    """List recent training runs, newest first."""
    with as_flags(experiment="--experiment", limit="--limit"), _client() as client:
        found = client.list_runs(experiment=experiment, limit=limit)
    state.listing(
        "training runs",
        ["id", "status", "experiment", "metrics", "created"],
        found,
        lambda r: (
            r.id,
            r.status.value,
            r.experiment or "",
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())),
            r.created_at.isoformat(timespec="seconds") if r.created_at else "",
        ),
    )


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="Run id (local) or job name (Azure ML).")]) -> None:
    """Show one run: status, metrics, outputs, logs, error."""
    with _client() as client:
        run = client.get_run(run_id)
    state.emit(run, _render_run)


@app.command("cancel")
def cancel(run_id: Annotated[str, typer.Argument(help="Run id (local) or job name (Azure ML).")]) -> None:
    """Ask a run to stop."""
    with _client() as client:
        client.cancel(run_id)
    state.cancel_requested(run_id)
