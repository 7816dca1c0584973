"""``mlops validate MODEL[@version|:alias] --data ... --checks checks.toml [--report report.html]``.

Exit codes: 0 promote, 3 not_promoted (fine but not better than the champion), 1 failed (a check
failed or raised, or bad input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlops_sdk.cli.inputs import existing, readable, writable
from mlops_sdk.cli.output import EXIT_ERROR, EXIT_GATE, EXIT_OK, as_flags, state

__all__ = ["EXIT_CODES", "validate"]

EXIT_CODES = {"promote": EXIT_OK, "not_promoted": EXIT_GATE, "failed": EXIT_ERROR}


def validate(
    model: Annotated[str, typer.Argument(help="The model: NAME@VERSION (diabetes@3) or NAME:ALIAS (diabetes:latest).")],
    checks: Annotated[
        Path, typer.Option("--checks", "-c", help="TOML file declaring the checks (one checks table per check).")
    ],
    data: Annotated[
        Optional[str], typer.Option("--data", "-d", help="Evaluation data: a Parquet, CSV or JSON file.")  # noqa: UP045
    ] = None,
    target: Annotated[
        Optional[str], typer.Option(help="Label column of the data (overrides the checks file).")  # noqa: UP045
    ] = None,
    champion: Annotated[
        Optional[str], typer.Option(help="Alias of the version to beat (default: checks file, else champion).")  # noqa: UP045
    ] = None,
    report: Annotated[
        Optional[Path], typer.Option("--report", "-r", help="Write the report here (.html, .md or .json).")  # noqa: UP045
    ] = None,
    record: Annotated[bool, typer.Option(help="Record the report with the model version.")] = True,
) -> None:
    """Validate a registered model: exit 0 promote, 3 not promoted (not better than the champion), 1 failed."""
    from mlops_sdk.checks import load_checks
    from mlops_sdk.clients.validation import ValidationClient

    writable(report, flag="--report")  # before the work, not after it
    existing(data, flag="--data")
    with as_flags(checks="--checks"):
        declared = load_checks(readable(checks, flag="--checks", what="a checks file (TOML)"))
    flags = as_flags(data="--data", target="--target", champion="--champion", checks="--checks", model="MODEL")
    with flags, ValidationClient(state.target, profile=state.profile, config_file=state.config_file) as client:
        result = client.validate(
            model,
            data=data,
            checks=declared.checks,
            champion=champion or declared.champion or "champion",
            target=target or declared.target,
            record=record,
        )
    state.gate_report(result, report, exit_code=EXIT_CODES[result.outcome])
