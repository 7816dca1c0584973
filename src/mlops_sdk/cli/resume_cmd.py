"""``mlops resume TOKEN``: wait for an operation started elsewhere (a crashed script, a CI step)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mlops_sdk.cli.inputs import finite_seconds
from mlops_sdk.cli.output import EXIT_GATE, state


def resume(
    token: Annotated[str, typer.Argument(help="The continuation token an operation printed or returned.")],
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Give up waiting after this many seconds (the work keeps running).", callback=finite_seconds),
    ] = None,
) -> None:
    """Re-attach to an operation by its continuation token and wait for its result.

    Exits 3 when the operation was a gate that did not pass (an approval wait that ended rejected or timed
    out), like ``mlops validate`` for a model that is not promoted. The client is the token's
    target; when that is the configured target, the configured client (a
    relative ``local://`` folder resolves against the config file's folder, as everywhere).
    """
    from mlops_sdk.clients.hub import MLOpsClient
    from mlops_sdk.core.config import load_config
    from mlops_sdk.core.operation import decode_token

    target = state.target or decode_token(token).target
    if (
        state.target is None
        and target == load_config(profile=state.profile, config_file=state.config_file).settings.target
    ):
        # The configured target itself: let the config resolve it (a relative local:// folder is the
        # project's, found from any sub-folder), as every other command does.
        target = None
    with MLOpsClient(target, profile=state.profile, config_file=state.config_file) as client:
        result = client.resume_operation(token).result(timeout=timeout)
    state.emit(result)
    if getattr(result, "approved", True) is False or getattr(result, "passed", True) is False:
        raise typer.Exit(EXIT_GATE)  # a gate's outcome (an approval rejected, timed out) is a value
