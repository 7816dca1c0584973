"""``mlops models``: list and show registered models, move aliases, show alias history."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from mlops_sdk.cli.output import as_flags, pairs, state

app = typer.Typer(help="The model registry: versions, aliases, lineage.")


def _client() -> Any:
    from mlops_sdk.clients.models import ModelClient

    return ModelClient(state.target, profile=state.profile, config_file=state.config_file)


def _require_model(client: Any, name: str) -> None:
    """Raise ``ResourceNotFoundError`` unless model ``name`` has a version (listing the models there are).

    The registry answers an empty list for a name it does not know; at the command line that would
    hide a typo behind an empty table.
    """
    if next(iter(client.list_versions(name)), None) is not None:
        return
    from mlops_sdk.core.errors import ResourceNotFoundError

    known = sorted({version.name for version in client.list_models()})
    raise ResourceNotFoundError(
        f"no registered model {name!r}; models: {', '.join(known) or 'none'}", details={"field": "NAME", "name": name}
    )


def _render_version(version: Any) -> None:
    from rich.markup import escape

    console = state.console()
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    console.print(f"[bold]{escape(version.ref)}[/]" + escape(f"{aliases}  {version.uri}"))
    state.line(f"  registered {version.created_at} by {version.created_by or '-'} from run {version.run_id or '-'}")
    if version.source:
        state.line(f"  source: {version.source}")
    for key, value in sorted(version.tags.items()):
        state.line(f"  {key} = {value}")


@app.command("list")
def list_(
    name: Annotated[Optional[str], typer.Argument(help="Model name (all versions); omit for every model.")] = None,  # noqa: UP045
) -> None:
    """List the versions of a model, or the latest version of every model."""
    with as_flags(name="NAME"), _client() as client:
        versions = list(client.list_versions(name) if name is not None else client.list_models())
        if name is not None and not versions:
            _require_model(client, name)
    state.listing(
        "models",
        ["name", "version", "aliases", "run", "created"],
        versions,
        lambda v: (
            v.name,
            v.version,
            ", ".join(v.aliases),
            v.run_id or "",
            v.created_at.isoformat(timespec="seconds") if v.created_at else "",
        ),
    )


@app.command("register")
def register(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Training run id (as `mlops train runs` prints it).")],
    name: Annotated[str, typer.Option("--name", "-n", help="Registered model name.")],
    job_output: Annotated[str, typer.Option("--job-output", help="The job output holding the MLflow model.")] = "model",
    description: Annotated[Optional[str], typer.Option(help="Description of the version.")] = None,  # noqa: UP045
    tag: Annotated[
        Optional[list[str]], typer.Option("--tag", help="KEY=VALUE tag (repeatable).")  # noqa: UP045
    ] = None,
) -> None:
    """Register the MLflow model a finished training run wrote (again: the same version, not a new one)."""
    tags = pairs(tag, flag="--tag", shape="KEY=VALUE")
    flags = as_flags(name="--name", output="--job-output", run="RUN", tags="--tag", description="--description")
    with flags, _client() as client:
        version = client.register(run_id, name=name, output=job_output, description=description, tags=tags)
    state.emit(version, _render_version)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME:ALIAS, e.g. diabetes@3, diabetes:champion.")],
) -> None:
    """Show one version with its tags and lineage."""
    with as_flags(ref="REF"), _client() as client:
        version = client.resolve(ref)
    state.emit(version, _render_version)


@app.command("alias")
def alias(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias_name: Annotated[Optional[str], typer.Argument(metavar="ALIAS", help="Alias to set or remove.")] = None,  # noqa: UP045
    version: Annotated[Optional[str], typer.Argument(help="Version the alias should point at.")] = None,  # noqa: UP045
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias instead.")] = False,
) -> None:
    """Point ALIAS at VERSION (`mlops models alias diabetes champion 3`), remove it, or show the history."""
    with as_flags(name="NAME", alias="ALIAS", version="VERSION"), _client() as client:
        if alias_name is None:
            events = client.alias_history(name)
            if not events:
                _require_model(client, name)
            state.listing(
                f"alias history of {name}",
                ["at", "alias", "action", "from", "to", "by"],
                events,
                lambda e: (
                    e.at.isoformat(timespec="seconds"),
                    e.alias,
                    e.action,
                    e.previous_version or "",
                    e.version or "",
                    e.actor or "",
                ),
            )
            return
        if remove:
            _require_model(client, name)
            client.remove_alias(name, alias_name)
            state.emit(
                {"name": name, "alias": alias_name, "removed": True},
                lambda d: state.line(f"removed {name}:{alias_name}"),
            )
            return
        if version is None:
            state.emit(client.get_by_alias(name, alias_name), _render_version)
            return
        state.emit(client.set_alias(name, alias_name, version), _render_version)
