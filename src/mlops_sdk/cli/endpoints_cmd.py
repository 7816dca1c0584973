"""``mlops endpoints create/list/show/invoke/logs/history/stop/start/delete``, ``mlops deploy`` / ``mlops rollback``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer

from mlops_sdk.cli.inputs import finite_seconds, json_value
from mlops_sdk.cli.output import EXIT_ERROR, as_flags, state

app = typer.Typer(help="Online endpoints: create, list, show, invoke, keys, logs, history, stop.")


def _client() -> Any:
    from mlops_sdk.clients.deployments import DeploymentClient

    return DeploymentClient(state.target, profile=state.profile, config_file=state.config_file)


NAME_MAX = 255
"""The longest file name (in bytes) the usual file systems accept."""

MAX_LINES = 1_000_000
"""The most log lines ``mlops endpoints logs --lines`` asks for."""

KEY_VARIABLE = "MLOPS_ENDPOINT_KEY"
"""Shell variable the printed ``curl`` line reads the key from (the key itself is never printed there)."""


def curl_line(scoring_uri: str, payload: str = "@sample-request.json") -> str:
    """A ready-to-paste ``curl`` scoring call; the key comes from ``$MLOPS_ENDPOINT_KEY``."""
    return (
        f'curl -sS {scoring_uri} -H "Authorization: Bearer ${KEY_VARIABLE}" '
        f"-H 'Content-Type: application/json' -d {payload}"
    )


def key_hint(endpoint: str) -> str:
    """How to put the endpoint's key into ``$MLOPS_ENDPOINT_KEY``."""
    return f"{KEY_VARIABLE}=$(mlops endpoints keys {endpoint} --primary)"


def _render_endpoint(endpoint: Any) -> None:
    from rich.markup import escape

    console = state.console()
    console.print(
        f"[bold]{escape(endpoint.name)}[/]"
        + escape(f" ({endpoint.backend}) {endpoint.state}  {endpoint.scoring_uri or '-'}")
    )
    for deployment in endpoint.deployments:
        share = endpoint.traffic.get(deployment.name, 0)
        mirror = endpoint.mirror.get(deployment.name)
        extra = f", mirror {mirror}%" if mirror else ""
        state.line(f"  {deployment.name:<24} {share:>3}%{extra}  {deployment.model or deployment.model_uri or '-'}")
    if endpoint.scoring_uri:
        state.line("score it:")
        state.line(f"  export {key_hint(endpoint.name)}")
        state.line(f"  {curl_line(endpoint.scoring_uri)}")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Endpoint name (3-32 letters, digits, '-').")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the endpoint is ready.")] = True,
) -> None:
    """Create an endpoint ahead of its first deployment (nothing is created when it exists)."""
    with _client() as client:
        operation = client.begin_create_endpoint(name)
        if not wait:
            state.emit(
                {"endpoint": name, "continuation_token": operation.continuation_token()},
                lambda data: state.console().print(
                    f"creating {name}\nwait for it with: mlops resume '{data['continuation_token']}'"
                ),
            )
            return
        endpoint = operation.result()
    state.emit(endpoint, _render_endpoint)


@app.command("list")
def list_() -> None:
    """List endpoints with their traffic."""
    with _client() as client:
        endpoints = client.list_endpoints()
    state.listing(
        "endpoints",
        ["name", "backend", "state", "traffic", "scoring_uri"],
        endpoints,
        lambda e: (
            e.name,
            e.backend,
            e.state,
            ", ".join(f"{k}={v}" for k, v in e.traffic.items() if v),
            e.scoring_uri or "",
        ),
    )


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Show one endpoint's deployments and traffic."""
    with _client() as client:
        endpoint = client.get_endpoint(name)
    state.emit(endpoint, _render_endpoint)


@app.command("invoke")
def invoke(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    data: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--data", "-d", help="JSON body, @file.json, or - for stdin ({'input_data': ...} or MLflow)."),
    ] = None,
    deployment: Annotated[
        Optional[str], typer.Option("--deployment", help="Send to this deployment regardless of traffic.")  # noqa: UP045
    ] = None,
) -> None:
    """Score a JSON payload and print the predictions."""
    payload = json_value(data if data is not None else "-", flag="--data")
    with _client() as client:
        predictions = client.invoke(name, payload, deployment=deployment)
    sys.stdout.write(json.dumps(predictions) + "\n")


@app.command("logs")
def logs(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    deployment: Annotated[Optional[str], typer.Option("--deployment", help="Deployment (Azure).")] = None,  # noqa: UP045
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from the end.", min=1, max=MAX_LINES)] = 50,
) -> None:
    """Print the tail of the endpoint's (or a deployment's) log."""
    with _client() as client:
        text = client.get_logs(name, deployment=deployment, lines=lines)
    if state.json:
        state.emit({"endpoint": name, "log": text})
    else:
        sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))


@app.command("keys")
def keys(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    primary: Annotated[
        bool, typer.Option("--primary", help="Print only the primary key (for $(...) in a shell).")
    ] = False,
    regenerate: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--regenerate", help="Replace this key first: primary or secondary."),
    ] = None,
) -> None:
    """Print the endpoint's scoring keys (you asked for them: they are printed in clear)."""
    if regenerate is not None and regenerate not in ("primary", "secondary"):
        raise typer.BadParameter("use primary or secondary", param_hint="--regenerate")
    with _client() as client:
        found = client.regenerate_keys(name, key=regenerate) if regenerate else client.get_keys(name)
    primary_key = found.primary_key.get_secret_value()
    secondary_key = found.secondary_key.get_secret_value() if found.secondary_key else None
    if state.json:  # one JSON document, --primary or not
        shown = {"endpoint": name, "primary_key": primary_key}
        state.emit(shown if primary else {**shown, "secondary_key": secondary_key})
        return
    if primary:
        sys.stdout.write(primary_key + "\n")
        return
    state.line(f"primary_key    {primary_key}")
    if secondary_key:
        state.line(f"secondary_key  {secondary_key}")


@app.command("history")
def history(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Who moved which model version to what traffic, when."""
    with _client() as client:
        entries = client.history(name)
        if not entries:
            client.get_endpoint(name)  # an endpoint that never existed is an error, not an empty history
    state.listing(
        f"history of {name}",
        ["at", "action", "deployment", "model", "traffic", "by", "reason"],
        entries,
        lambda e: (
            e.at.isoformat(timespec="seconds"),
            e.action,
            e.deployment or "",
            e.model or "",
            ", ".join(f"{k}={v}" for k, v in e.traffic.items() if v),
            e.by or "",
            e.reason or "",
        ),
    )


@app.command("stop")
def stop(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Stop a local endpoint's server (its deployments and traffic come back on the next start)."""
    with _client() as client:
        stopped = client.stop_endpoint(name)
    state.emit(
        {"endpoint": name, "stopped": stopped},
        lambda data: state.line(f"stopped {name}" if data["stopped"] else f"{name} was not running"),
    )


@app.command("start")
def start(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Start a stopped local endpoint's server."""
    with _client() as client:
        endpoint = client.start_endpoint(name)
    state.emit(endpoint, _render_endpoint)


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an endpoint and its deployments."""
    if not yes and state.json:
        raise typer.BadParameter("-o json never asks; pass --yes to delete", param_hint="--yes")
    if not yes and not state.ask(f"Delete endpoint {name} and all its deployments?"):
        raise typer.Exit(EXIT_ERROR)
    with _client() as client:
        client.delete_endpoint(name)
    state.emit({"endpoint": name, "deleted": True}, lambda data: state.line(f"deleted {name}"))


def _render_result(result: Any) -> None:
    from rich.markup import escape

    console = state.console()
    if result.succeeded:
        verdict = "[green]succeeded[/]" if result.changed else "[green]unchanged[/] (already deployed)"
    elif result.rolled_back:
        verdict = "[red]rolled back[/]"
    else:
        verdict = "[red]failed[/]"
    console.print(escape(f"{result.strategy} of {result.model or result.deployment} to {result.endpoint}: ") + verdict)
    for step in result.steps:
        smoke = ""
        if step.smoke:
            smoke = f"smoke {'ok' if step.smoke.passed else 'FAILED'} ({(step.smoke.latency or 0) * 1000:.1f} ms)"
        state.line(f"  {step.percent:>3}%  {dict(step.traffic)}  {smoke}")
    if result.reason:
        state.line(f"  reason: {result.reason}")
    state.line(f"  traffic now: {dict(result.traffic)}")


def deploy(
    model: Annotated[str, typer.Argument(help="NAME@VERSION, NAME:ALIAS, a model URI or an MLflow model folder.")],
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="Endpoint name (created if missing).")],
    deployment: Annotated[
        Optional[str], typer.Option("--deployment", help="Deployment name (default: from the model).")  # noqa: UP045
    ] = None,
    steps: Annotated[str, typer.Option("--steps", help="Traffic steps in percent, ending at 100.")] = "10,50,100",
    bake: Annotated[
        float, typer.Option("--bake", help="Seconds to wait after each step.", callback=finite_seconds)
    ] = 0.0,
    smoke: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--smoke", help="Smoke test (JSON or @file): {payload, expected|shape|dtype, latency_budget}."),
    ] = None,
    no_rollback: Annotated[bool, typer.Option("--no-rollback", help="Fail instead of rolling back.")] = False,
) -> None:
    """Roll a model out blue/green (10 -> 50 -> 100 by default), smoke-testing before every step."""
    if any(len(part.encode()) > NAME_MAX for part in model.split("/")):
        # The client looks MODEL up as a folder first, and the OS refuses such a name with an OSError.
        raise typer.BadParameter(
            f"too long for a model reference or a folder (at most {NAME_MAX} bytes between slashes)",
            param_hint="MODEL",
        )
    try:
        percents = [int(part) for part in steps.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("use comma-separated integers, e.g. 10,50,100", param_hint="--steps") from None
    strategy: dict[str, Any] = {
        "kind": "blue_green",
        "steps": percents,
        "bake_time": bake,
        "rollback_on_failure": not no_rollback,
    }
    if smoke:
        strategy["smoke_test"] = json_value(smoke, flag="--smoke")
    with as_flags(endpoint="--endpoint", deployment="--deployment", model="MODEL"), _client() as client:
        result = client.begin_deploy(model, endpoint=endpoint, deployment=deployment, strategy=strategy).result()
        scoring_uri = client.get_endpoint(endpoint).scoring_uri if result.succeeded else None

    def render(data: Any) -> None:
        _render_result(data)
        if scoring_uri:
            state.line("score it:")
            state.line(f"  export {key_hint(endpoint)}")
            state.line(f"  {curl_line(scoring_uri)}")

    state.emit(result, render)
    if not result.succeeded:
        raise typer.Exit(EXIT_ERROR)


def rollback(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    to: Annotated[
        Optional[str], typer.Option("--to", help="Deployment to restore (default: previous production).")  # noqa: UP045
    ] = None,
) -> None:
    """Put the previous production deployment back to 100 % in one traffic change."""
    with _client() as client:
        result = client.begin_rollback(endpoint, to=to).result()
    state.emit(result, _render_result)
