"""Printing for the CLI: rich text for people, ``--output json`` for scripts; exit codes."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mlops_sdk.core.errors import MlopsError
from mlops_sdk.core.paging import ItemPaged

__all__ = [
    "EXIT_ERROR",
    "EXIT_GATE",
    "EXIT_OK",
    "EXIT_USAGE",
    "ID_COLUMNS",
    "CliState",
    "as_flags",
    "pairs",
    "state",
    "write_report",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_GATE = 3

_MIN_FOLDED = 2
"""The narrowest a column that is not an id gets (its values fold to fit), however narrow the terminal: a
cell shows at least the start of its value, and an 80-column terminal still holds an 8-column table."""

ID_COLUMNS = ("id", "run", "uri", "scoring_uri")
"""Table columns that hold ids or paths: printed whole so they can be pasted back into a command."""


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, ItemPaged)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass
class CliState:
    """Global options of one ``mlops`` invocation."""

    output: str = "text"
    target: str | None = None
    profile: str | None = None
    config_file: str | None = None

    def reset(self, *, output: str = "text") -> None:
        """Start an invocation: ``output`` as detected on the command line, nothing else carried over."""
        self.output, self.target, self.profile, self.config_file = output, None, None, None

    @property
    def json(self) -> bool:
        """True when ``--output json`` was given."""
        return self.output == "json"

    def console(self, *, stderr: bool = False) -> Any:
        """A rich console on stdout (or stderr).

        Emoji codes are off: user data (a reason ``"LGTM :smile:"``, a model description) is printed as
        written, as the audit log keeps it.
        """
        from rich.console import Console

        return Console(stderr=stderr, soft_wrap=True, emoji=False)

    def emit(self, data: Any, render: Callable[[Any], None] | None = None) -> None:
        """Print ``data`` as JSON (``--output json``) or through ``render`` (default: pretty repr)."""
        if self.json:
            sys.stdout.write(json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n")
        elif render is not None:
            render(data)
        else:
            self.console().print(data)

    def table(
        self,
        title: str | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        whole: Sequence[str] = ID_COLUMNS,
    ) -> None:
        """Print rows as a table (text mode) or a list of objects (JSON mode).

        Cells are plain text (never rich markup). Columns named in ``whole`` (ids by default) are
        never wrapped or cut, so every id printed can be copied back into a command; other columns
        fold instead of being cut with an ellipsis.
        """
        if self.json:
            self.emit([dict(zip(columns, row, strict=True)) for row in rows])
            return
        from rich.table import Table
        from rich.text import Text

        cells = [[str(cell) for cell in row] for row in rows]
        table = Table(title=title)
        console = self.console()
        if not console.is_terminal:  # piped or captured: no terminal width to fit, keep rows on one line
            console.width = max(console.width, 1000)
        for index, column in enumerate(columns):
            if column in whole:
                widest = max([len(column), *(len(row[index]) for row in cells)])
                table.add_column(column, no_wrap=True, min_width=widest)
            else:  # never squeezed to nothing by a narrow terminal: long values fold onto more lines
                widest = max([len(column), *(len(row[index]) for row in cells)])
                table.add_column(column, overflow="fold", min_width=min(widest, _MIN_FOLDED))
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)

    def listing(
        self, title: str, columns: Sequence[str], items: Iterable[Any], row: Callable[[Any], Sequence[Any]]
    ) -> None:
        """``items`` as JSON (``--output json``), else as a table with the cells ``row(item)`` of each item."""
        if self.json:
            self.emit(items)
            return
        self.table(title, columns, [row(item) for item in items])

    def started(self, operation: Any) -> None:
        """A submitted operation not waited for: its id, status and the command that waits for it."""
        self.emit(
            {"id": operation.id, "status": operation.status().value, "token": operation.continuation_token()},
            lambda data: self.console().print(
                f"submitted {data['id']} ({data['status']}); wait with: mlops resume '{data['token']}'"
            ),
        )

    def cancel_requested(self, run_id: str) -> None:
        """Confirm that a run was asked to stop."""
        self.emit({"id": run_id, "cancel_requested": True}, lambda d: self.line(f"cancel requested for {run_id}"))

    def gate_report(self, result: Any, path: Path | None, *, exit_code: int) -> NoReturn:
        """Write a gate's report to ``path`` (when given), print it and exit with ``exit_code``.

        ``result`` renders itself (``to_markdown``/``to_html``/``to_json``): JSON on stdout with
        ``--output json``, else the Markdown and where the report was written.
        """
        import typer

        if path is not None:
            write_report(result, path)
        if self.json:
            self.emit(result)
        else:
            from rich.markdown import Markdown

            self.console().print(Markdown(result.to_markdown()))
            if path is not None:
                self.line(f"report written to {path}")
        raise typer.Exit(exit_code)

    def ask(self, question: str) -> bool:
        """Ask a yes/no question on stderr and read the answer from stdin (no answer, end of input: no).

        Never on stdout, which carries only the command's result (click's prompt writes there).
        """
        sys.stderr.write(f"{question} [y/N]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
        if not answer.endswith("\n"):
            sys.stderr.write("\n")
        return answer.strip().lower() in ("y", "yes")

    def line(self, text: str) -> None:
        """Print one line of plain text (user data inside is never read as rich markup)."""
        self.console().print(text, markup=False, highlight=False)

    def emit_error(self, kind: str, message: str, details: Mapping[str, Any], *, usage: bool = False) -> None:
        """Report an error that is not an :class:`MlopsError` (a usage error, a bug) the same way.

        JSON mode: ``{"error": {...}}`` on stdout with the keys of ``MlopsError.to_dict()``; text mode:
        ``error: message`` on stderr (after the usage line when ``usage``). Secrets are masked.
        """
        from mlops_sdk.core.redaction import redact

        text = redact(message)
        if self.json:
            payload = {
                "type": kind,
                "message": text,
                "backend": None,
                "operation_id": None,
                "status_code": None,
                "request_id": None,
                "details": {key: redact(str(value)) for key, value in details.items()},
            }
            sys.stdout.write(json.dumps({"error": payload}, indent=2, sort_keys=True) + "\n")
            return
        if usage and "usage" in details:
            sys.stderr.write(f"{details['usage']}\nTry 'mlops --help' for help.\n")
        sys.stderr.write(f"error: {text}\n")

    def error(self, error: Exception) -> None:
        """Report an error: JSON on stdout in JSON mode, a red line on stderr otherwise."""
        to_dict = getattr(error, "to_dict", None)
        if self.json:
            payload = to_dict() if callable(to_dict) else {"type": type(error).__name__, "message": str(error)}
            sys.stdout.write(json.dumps({"error": payload}, indent=2, sort_keys=True, default=str) + "\n")
        else:
            from rich.markup import escape

            self.console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}")


def write_report(report: Any, path: Path) -> None:
    """Write ``report`` as HTML (``.html``/``.htm``), JSON (``.json``) or Markdown, replacing ``path`` whole.

    Raises:
        ConfigurationError: the file cannot be written (naming ``--report``); no partial file is left.
    """
    suffix = path.suffix.lower()
    text = (
        report.to_html()
        if suffix in (".html", ".htm")
        else (report.to_json() if suffix == ".json" else report.to_markdown())
    )
    from mlops_sdk.core.errors import ConfigurationError
    from mlops_sdk.core.files import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, mode=0o644) as temporary:  # a killed command leaves the old report or the new one
            temporary.write_text(text, encoding="utf-8")
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        raise ConfigurationError(
            f"--report {path}: cannot be written ({error.strerror or error})", details={"field": "--report"}
        ) from None


def pairs(items: Sequence[str] | None, *, flag: str, shape: str = "NAME=VALUE") -> dict[str, str]:
    """``NAME=VALUE`` options as a mapping (names stripped); a malformed one is a usage error naming ``flag``."""
    import typer

    parsed: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{item!r} is not {shape}", param_hint=flag)
        parsed[name.strip()] = value
    return parsed


@contextmanager
def as_flags(**flags: str) -> Iterator[None]:
    """Re-word errors about a Python argument as the command's flag: ``pass data=`` -> ``pass --data``.

    Clients name their keyword arguments (``data=``, ``comment``) in errors; at the command line the
    user typed flags. ``flags`` maps an argument name to its flag; errors whose ``details["field"]``
    is one of them get the argument's mentions (``data=``, a leading ``data:`` or ``data``, the argument
    checker's ``Client.method: data``) replaced by the flag.
    """
    try:
        yield
    except MlopsError as error:
        field = error.details.get("field")
        if not isinstance(field, str) or field not in flags:
            raise
        flag = flags[field]
        message = re.sub(rf"(?<![\w.-]){re.escape(field)}=", flag, error.message)
        # The argument checker's "Client.method: field must ...", a constructor's "Client: field must ...",
        # and a leading "field: " / "field 'x' ...".
        # Not a file named like the argument (`checks.toml ...`, `data/x.csv ...`), nor a message naming the
        # thing itself ("endpoint name 'x' is invalid").
        message = re.sub(rf"^(?:\w+(?:\.\w+)?: )?{re.escape(field)}(?![\w./-]| name\b)(:?)", rf"{flag}\1", message)
        error.message = message
        error.details["flag"] = flag
        error.args = (error.message,)
        raise


state = CliState()
