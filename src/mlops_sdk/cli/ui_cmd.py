"""``mlops ui``: the MLflow UI on the local store's runs and registry, bound to 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_sdk.cli.output import state
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.user_files import is_existing_path

__all__ = ["ui", "ui_command"]


def ui_command(folder: Path, *, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow ui`` command line for the store in ``folder`` (run with this Python)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--host",
        host,
        "--port",
        str(port),
    ]


def _store_folder() -> Path:
    from mlops_sdk.core.config import load_config
    from mlops_sdk.core.targets import LocalTarget, split_scheme

    config = load_config({"target": state.target}, profile=state.profile, config_file=state.config_file)
    target = config.settings.target
    if split_scheme(target) != "local":
        raise ConfigurationError(
            f"mlops ui shows a local store; the target is {target}. On Azure, open the workspace in Azure ML studio "
            "(https://ml.azure.com), which shows the same runs and models",
            details={"field": "--target"},
        )
    return LocalTarget.parse(target).resolved(config.base_dir).folder


def ui(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.", min=1, max=65535)] = 5000,
    print_command: Annotated[
        bool, typer.Option("--print-command", help="Print the mlflow command instead of running it.")
    ] = False,
) -> None:
    """Open the MLflow UI on the local store (runs, metrics, registered models); Ctrl-C stops it."""
    folder = _store_folder()
    if not is_existing_path(folder / "mlflow.db"):  # False too for a folder no file system can hold
        raise ConfigurationError(
            f"no MLflow store in {folder} yet: train a model first (mlops train submit job.yaml --wait)",
            details={"field": "--target", "folder": str(folder)},
        )
    command = ui_command(folder, port=port)
    if print_command or state.json:
        state.emit({"command": command, "url": f"http://127.0.0.1:{port}"}, lambda data: state.line(" ".join(command)))
        return
    state.line(f"MLflow UI on http://127.0.0.1:{port} (store {folder}); Ctrl-C stops it")
    try:
        code = subprocess.call(command)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
