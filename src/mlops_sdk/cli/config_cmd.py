"""``mlops config show``: the effective configuration and where each value came from."""

from __future__ import annotations

import typer

from mlops_sdk.cli.output import state

app = typer.Typer(help="Inspect configuration.")


@app.command("show")
def show() -> None:
    """Print every setting, its value (secrets masked) and its source."""
    from mlops_sdk.core.config import load_config

    config = load_config({"target": state.target}, profile=state.profile, config_file=state.config_file)
    rows = config.describe()
    if state.json:
        state.emit(
            {
                "file": str(config.file) if config.file else None,
                "settings": {name: {"value": value, "source": source} for name, value, source in rows},
            }
        )
        return
    title = f"configuration ({config.file})" if config.file else "configuration (no config file found)"
    state.table(title, ["setting", "value", "source"], rows)
