"""Entry point of the ``mlops`` console script: runs the app and maps errors to exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from typing import Any

from mlops_sdk.cli.output import EXIT_ERROR, EXIT_GATE, EXIT_OK, EXIT_USAGE, as_flags, state
from mlops_sdk.core.errors import GateError, MlopsError
from mlops_sdk.core.interrupts import interrupt_guard
from mlops_sdk.core.logging import get_logger

__all__ = ["hoist_output", "main", "run"]

_log = get_logger("mlops_sdk.cli")  # redacted: unexpected errors are logged with their traceback

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


_ALIASES = {"idempotency_key": "key", "endpoint": "name"}
"""Client arguments a command names differently (``--key``, the endpoint as ``NAME``)."""


def _display(param: Any) -> str:
    """How the user writes ``param``: its longest option (``--on-behalf-of``), or an argument's metavar."""
    if param.param_type_name == "argument":
        return str(param.metavar or param.name.upper())
    return str(max(param.opts, key=len))


def _name_flags(command: Any, inherited: dict[str, str]) -> None:
    """Make every command's errors name what the user typed, not the client argument behind it.

    A client refuses a bad value naming its method and argument (``TrainingClient.get_run: run_id must not
    be empty``); at the command line the user typed ``RUN_ID`` or ``--key``. Each command's callback runs
    inside :func:`~mlops_sdk.cli.output.as_flags` with its own parameters, the global options, and the
    client arguments a command spells differently (:data:`_ALIASES`).
    """
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for sub in subcommands.values():
            _name_flags(sub, inherited)
        return
    callback = command.callback
    if callback is None:
        return
    flags = {**inherited, **{param.name: _display(param) for param in command.params if param.name}}
    for client_name, cli_name in _ALIASES.items():
        if client_name not in flags and cli_name in flags:
            flags[client_name] = flags[cli_name]

    @functools.wraps(callback)
    def named(*args: Any, **kwargs: Any) -> Any:
        with as_flags(**flags):
            return callback(*args, **kwargs)

    command.callback = named


@functools.cache
def _command() -> Any:
    """The click command typer builds from the app (built once: it reads every command's signature)."""
    import typer

    from mlops_sdk.cli.app import app

    command = typer.main.get_command(app)
    globals_ = {p.name: _display(p) for p in command.params if p.name and p.name not in ("output", "version")}
    _name_flags(command, globals_)
    return command


def _wants_json(args: Sequence[str]) -> bool:
    """Whether ``-o json`` was given (after :func:`hoist_output`, so among the global options in front)."""
    for index, word in enumerate(args):
        if word in ("-o", "--output") and index + 1 < len(args):
            return args[index + 1].lower() == "json"
        if word.startswith("--output="):
            return word.split("=", 1)[1].lower() == "json"
        if not word.startswith("-"):
            return False
    return False


def _undecodable(args: Sequence[str]) -> str | None:
    """The first word of the command line holding bytes that are not UTF-8 (Python keeps them as surrogates)."""
    for word in args:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            return word
    return None


def _usage_error(error: Any) -> None:
    """Report a click usage error: as JSON on stdout with ``-o json``, else typer's usage lines on stderr."""
    ctx = getattr(error, "ctx", None)
    usage = ctx.get_usage() if ctx is not None else "Usage: mlops [OPTIONS] COMMAND [ARGS]..."
    if state.json:
        details: dict[str, Any] = {"usage": usage}
        hint = getattr(error, "param_hint", None)
        param = getattr(error, "param", None)
        if hint is None and param is not None:
            hint = param.get_error_hint()
        if hint is not None:
            details["param"] = (hint if isinstance(hint, str) else " / ".join(hint)).replace("'", "")
        state.emit_error("UsageError", error.format_message(), details)
        return
    from typer import rich_utils

    rich_utils.rich_format_error(error)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (used by tests and by :func:`main`).

    ``-o/--output`` is accepted after the subcommand too (see :func:`hoist_output`).
    Usage errors exit 2 (with ``-o json`` they are printed as ``{"error": {"type": "UsageError", ...}}``);
    an :class:`MlopsError` is printed without a traceback and exits 1, a :class:`GateError` exits 3;
    commands set other codes with ``typer.Exit``. Any other exception is a bug: it is reported in one
    line (secrets masked), logged with its traceback on the ``mlops_sdk.cli`` logger, and exits 1.
    """
    from typer import Abort
    from typer._click.exceptions import ClickException  # typer's vendored click: usage errors

    args = hoist_output(sys.argv[1:] if argv is None else argv)
    state.reset(output="json" if _wants_json(args) else "text")
    try:
        bad = _undecodable(args)
        if bad is not None:
            state.emit_error(
                "UsageError",
                f"'{bad.encode('utf-8', 'backslashreplace').decode()}' is not valid UTF-8; "
                "pass names, ids and paths as UTF-8 text",
                {"usage": "Usage: mlops [OPTIONS] COMMAND [ARGS]..."},
                usage=True,
            )
            return EXIT_USAGE
        with interrupt_guard():  # a Ctrl-C the interpreter swallowed is raised at the next poll of a wait
            code = _command().main(args=args, prog_name="mlops", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_ERROR)
    except ClickException as error:
        _usage_error(error)
        return error.exit_code
    except Abort:
        state.emit_error("Aborted", "aborted before anything was changed", {})
        return EXIT_ERROR
    except GateError as error:
        state.error(error)
        return EXIT_GATE
    except MlopsError as error:
        state.error(error)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback for whoever debugs it
        _log.debug("unexpected error in mlops %s", " ".join(args[:3]), exc_info=True)
        state.emit_error(
            "InternalError",
            f"unexpected {type(error).__name__}: {error}. This is a bug in mlops-sdk; please report it",
            {},
        )
        return EXIT_ERROR


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
