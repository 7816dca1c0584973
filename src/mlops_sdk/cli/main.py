"""Entry point of the ``mlops`` console script: runs the app and maps errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mlops_sdk.cli.output import EXIT_ERROR, EXIT_GATE, EXIT_OK, state
from mlops_sdk.core.errors import GateError, MlopsError

__all__ = ["hoist_output", "main", "run"]


_OUTPUT_FORMATS = ("text", "json")


def hoist_output(argv: Sequence[str]) -> list[str]:
    """Move ``-o/--output FORMAT`` given after the subcommand to the front, where the global option lives.

    ``mlops models list -o json`` then means ``mlops -o json models list``. Only a known format is
    moved (``-o json``, ``--output=text``), so an option value that happens to be ``-o`` stays put.
    """
    args = list(argv)
    moved: list[str] = []
    index = 1
    while index < len(args):
        word = args[index]
        if word == "--":
            break
        if word in ("-o", "--output") and index + 1 < len(args) and args[index + 1].lower() in _OUTPUT_FORMATS:
            moved += args[index : index + 2]
            del args[index : index + 2]
            continue
        if word.startswith("--output=") and word.split("=", 1)[1].lower() in _OUTPUT_FORMATS:
            moved.append(word)
            del args[index]
            continue
        index += 1
    return moved + args


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (used by tests and by :func:`main`).

    ``-o/--output`` is accepted after the subcommand too (see :func:`hoist_output`).
    Usage errors exit 2 (typer/click's own handling); an :class:`MlopsError` is printed without a
    traceback and exits 1, a :class:`GateError` exits 3; commands set other codes with ``typer.Exit``.
    """
    from mlops_sdk.cli.app import app

    try:
        app(args=hoist_output(sys.argv[1:] if argv is None else argv), prog_name="mlops")
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
