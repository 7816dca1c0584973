"""Entry point of the ``mlops`` console script: runs the app and maps errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mlops_sdk.cli.output import EXIT_ERROR, EXIT_GATE, EXIT_OK, state
from mlops_sdk.core.errors import GateError, MlopsError

__all__ = ["main", "run"]


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (used by tests and by :func:`main`).

    Usage errors exit 2 (typer/click's own handling); an :class:`MlopsError` is printed without a
    traceback and exits 1, a :class:`GateError` exits 3; commands set other codes with ``typer.Exit``.
    """
    from mlops_sdk.cli.app import app

    try:
        app(args=list(argv) if argv is not None else None, prog_name="mlops")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_ERROR)
    except GateError as error:
        state.error(error)
        return EXIT_GATE
    except MlopsError as error:
        state.error(error)
        return EXIT_ERROR
    return EXIT_OK


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
