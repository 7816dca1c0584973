"""The typer application: global options and the command groups.

Every command imports the clients it needs inside its body, so ``mlops --help`` never imports
Azure, MLflow or DuckDB.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mlops_sdk._version import __version__
from mlops_sdk.cli import (
    approvals_cmd,
    config_cmd,
    data_cmd,
    doctor_cmd,
    endpoints_cmd,
    init_cmd,
    models_cmd,
    monitor_cmd,
    resume_cmd,
    train_cmd,
    ui_cmd,
    validate_cmd,
)
from mlops_sdk.cli.output import state

app = typer.Typer(
    name="mlops",
    help="Drive the MLOps loop (refresh, train, register, validate, approve, deploy) on Azure or locally.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    """``--version``: the version line, or ``{"name": "mlops-sdk", "version": ...}`` with ``-o json``."""
    if value:
        if state.json:  # -o json is known before parsing (main.run), even when --version comes first
            state.emit({"name": "mlops-sdk", "version": __version__})
        else:
            typer.echo(f"mlops-sdk {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output format: text or json.", case_sensitive=False)
    ] = "text",
    target: Annotated[
        Optional[str], typer.Option("--target", "-t", help="Target URI (overrides config).")  # noqa: UP045
    ] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="Config profile.")] = None,  # noqa: UP045
    config_file: Annotated[
        Optional[str], typer.Option("--config", help="Config file instead of mlops.toml / pyproject.toml.")  # noqa: UP045
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if output.lower() not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--output")
    if profile is not None and not profile.strip():
        raise typer.BadParameter("give a profile name, or leave --profile out", param_hint="--profile")
    if config_file is not None:
        from mlops_sdk.cli.inputs import readable

        readable(config_file, flag="--config", what="a config file (mlops.toml or pyproject.toml)")
    state.output = output.lower()
    state.target = target
    state.profile = profile
    state.config_file = config_file


app.command("init")(init_cmd.init)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data_cmd.app, name="data")
app.add_typer(approvals_cmd.app, name="approvals")
app.add_typer(train_cmd.app, name="train")
app.add_typer(models_cmd.app, name="models")
app.command("doctor")(doctor_cmd.doctor)
app.command("resume")(resume_cmd.resume)
app.command("validate")(validate_cmd.validate)
app.add_typer(endpoints_cmd.app, name="endpoints")
app.add_typer(monitor_cmd.app, name="monitor")
app.command("deploy")(endpoints_cmd.deploy)
app.command("rollback")(endpoints_cmd.rollback)
app.command("ui")(ui_cmd.ui)
