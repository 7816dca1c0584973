"""The ``mlops`` command line driven the way an outside tester drives it, across every command.

The commands are enumerated from the typer app itself (``typer.main.get_command(app)``, walking the
groups), so a command added later is swept too; :data:`SHAPES` says how each one is fed, and
``test_every_command_has_a_shape`` fails until a new command is classified there.

For every command, on a ``local://`` store (and ``memory://`` for the lookups of unknown names):

- ``--help`` exits 0 and names every option; a missing argument or option exits 2 with a usage line;
- bad values (missing files, a folder where a file is expected, empty, binary and non-UTF-8 files,
  wrong-typed, huge and negative numbers, names with spaces, unicode, undecodable bytes, path
  traversal) end with exit 1 or 2 and one message naming the parameter or the value;
- never a traceback, never a Python repr of internals;
- with ``-o json``, stdout is exactly one JSON document, success or failure; a failure's document is
  ``{"error": {...}}`` whose ``type`` is one of the documented error classes (``UsageError`` for exit 2);
- a failed command leaves no temporary or partial file in the working folder or the store.

The secret canary test puts a canary wherever a user can put a secret (``MLOPS_*`` secret settings,
the Azure client secret, the selected and an unselected profile of ``mlops.toml``, the keys of a real
local endpoint) and searches every command's output and every file the commands wrote.

Values are fuzzed with hypothesis, derandomized (a fixed sequence in CI); ``-m soak`` runs many more
examples and every case in both output modes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_sdk.cli.app import app
from mlops_sdk.cli.main import run
from mlops_sdk.core import errors as sdk_errors
from tests.local.test_secret_canary import Canaries

# --------------------------------------------------------------------------------------------------
# The commands, from the app itself.


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in sorted(subcommands.items()):
        yield from _walk(sub, (*path, name))


def _groups(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        yield path
        for name, sub in sorted(subcommands.items()):
            yield from _groups(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS: dict[tuple[str, ...], Any] = dict(_walk(ROOT))
GROUPS = [path for path in _groups(ROOT) if path]

# --------------------------------------------------------------------------------------------------
# How each command is fed.

ENDPOINT = "no-such-endpoint"
MODEL = "no-such-model"
RUN_ID = "no-such-run"


@dataclass(frozen=True)
class Shape:
    """How the sweep drives one command.

    ``values`` gives each required parameter (and any flag the command needs to stay harmless) a value
    that is well formed but names nothing in an empty store; ``True`` gives a flag. ``files`` read a file
    the user names (``prefix`` is put before the path, ``@`` for ``--data @file``); ``outputs`` write one;
    ``folders`` are folders the command writes into. ``names`` name something in the store, so a value
    naming nothing is an error. ``late`` files (data) are read only after store lookups, or only when
    there are rows to compare, so only a missing one must fail at once, naming the flag (the CLI checks
    that it exists); the others must merely not crash.
    ``empty_ok``: the baseline call succeeds on an empty store. ``creates``: the baseline call creates
    something (not run by the value sweeps, which only run values that must fail). ``serves``: it runs
    until stopped, so it is driven in a child process with values that must fail.
    """

    values: dict[str, str | bool | list[str]] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    prefix: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    late: tuple[str, ...] = ()
    empty_ok: bool = False
    creates: bool = False
    serves: bool = False


VOTE = Shape({"request_id": "no-such-request", "comment": "reviewed"}, names=("request_id",))
BY_ENDPOINT = Shape({"name": ENDPOINT}, names=("name",))
BY_RUN = Shape({"run_id": RUN_ID}, names=("run_id",))

SHAPES: dict[tuple[str, ...], Shape] = {
    ("approvals", "approve"): VOTE,
    ("approvals", "invite"): Shape(
        {"request_id": "no-such-request", "to": "dana@contoso.com"}, names=("request_id", "expires")
    ),
    ("approvals", "list"): Shape(names=("status",), empty_ok=True),
    ("approvals", "reject"): VOTE,
    ("approvals", "serve"): Shape(files=("tls_cert", "tls_key"), names=("host",), serves=True),
    ("approvals", "show"): Shape({"request_id": "no-such-request"}, names=("request_id",)),
    ("approvals", "verify"): Shape(empty_ok=True),
    ("config", "show"): Shape(empty_ok=True),
    ("data", "cancel"): BY_RUN,
    ("data", "refresh"): Shape({"pipeline": "no-such-pipeline"}, names=("pipeline",)),
    ("data", "runs"): Shape(names=("status",), empty_ok=True),
    ("data", "show"): BY_RUN,
    ("deploy",): Shape(
        {"model": f"{MODEL}@1", "endpoint": ENDPOINT},
        files=("smoke",),
        prefix={"smoke": "@"},
        names=("model", "endpoint"),
    ),
    ("doctor",): Shape(empty_ok=True),
    ("endpoints", "create"): Shape({"name": "made-by-sweep"}, names=("name",), creates=True),
    ("endpoints", "delete"): Shape({"name": ENDPOINT, "yes": True}, names=("name",)),
    ("endpoints", "history"): BY_ENDPOINT,
    ("endpoints", "invoke"): Shape(
        {"name": ENDPOINT, "data": '{"input_data": [[1.0]]}'}, files=("data",), prefix={"data": "@"}, names=("name",)
    ),
    ("endpoints", "keys"): Shape({"name": ENDPOINT}, names=("name", "regenerate")),
    ("endpoints", "list"): Shape(empty_ok=True),
    ("endpoints", "logs"): BY_ENDPOINT,
    ("endpoints", "show"): BY_ENDPOINT,
    ("endpoints", "start"): BY_ENDPOINT,
    ("endpoints", "stop"): BY_ENDPOINT,
    ("init",): Shape({"folder": "proj"}, folders=("folder",), names=("from_example",), creates=True),
    ("models", "alias"): Shape({"name": MODEL}, names=("name",)),
    ("models", "list"): Shape({"name": MODEL}, names=("name",)),
    ("models", "register"): Shape({"run_id": RUN_ID, "name": "sweep-model"}, names=("run_id",)),
    ("models", "show"): Shape({"ref": f"{MODEL}@1"}, names=("ref",)),
    # Monitoring answers for any endpoint name (a model served elsewhere logs its inferences), so an
    # unknown endpoint is not an error for these three (docs/monitoring.md).
    ("monitor", "labels"): Shape(
        {"endpoint": ENDPOINT, "data": "labels.csv"}, files=("data",), late=("data",), empty_ok=True
    ),
    ("monitor", "run"): Shape(
        {"monitor": "monitor.toml"},
        files=("monitor", "baseline_data"),
        outputs=("report",),
        late=("baseline_data",),
        empty_ok=True,
    ),
    ("monitor", "stats"): Shape({"endpoint": ENDPOINT}, empty_ok=True),
    ("resume",): Shape({"token": "not-a-token"}, names=("token",)),
    ("rollback",): Shape({"endpoint": ENDPOINT}, names=("endpoint",)),
    ("train", "cancel"): BY_RUN,
    ("train", "pipeline", "cancel"): BY_RUN,
    ("train", "pipeline", "resume"): BY_RUN,
    ("train", "pipeline", "runs"): Shape(empty_ok=True),
    ("train", "pipeline", "show"): BY_RUN,
    ("train", "pipeline", "submit"): Shape({"spec": "pipeline.yaml"}, files=("spec",)),
    ("train", "runs"): Shape(empty_ok=True),
    ("train", "show"): BY_RUN,
    ("train", "submit"): Shape({"spec": "job.yaml"}, files=("spec",)),
    # --print-command: the sweep never starts the MLflow UI.
    ("ui",): Shape({"print_command": True}),
    ("validate",): Shape(
        {"model": f"{MODEL}@1", "checks": "checks.toml"},
        files=("checks", "data"),
        outputs=("report",),
        names=("model",),
        late=("data",),
    ),
}

GLOBAL_OPTIONS = ("config_file", "profile", "target")
"""The root's options that take a value; swept on ``endpoints list``."""


def _param(path: tuple[str, ...], name: str) -> Any:
    command = ROOT if not path else COMMANDS[path]
    return next(param for param in command.params if param.name == name)


def _flag(param: Any) -> str:
    """How messages may name the parameter: its longest option, or its metavar / name for an argument."""
    if param.param_type_name == "argument":
        return str(param.metavar or param.name)
    return str(max(param.opts, key=len))


def argv_for(path: tuple[str, ...], values: dict[str, Any]) -> list[str]:
    """The words that call ``path`` with ``values`` (arguments after ``--`` when one starts with ``-``)."""
    options: list[str] = []
    positional: list[str] = []
    for param in COMMANDS[path].params:
        if param.name not in values:
            continue
        value = values[param.name]
        if param.param_type_name == "argument":
            positional.append(value)
        elif value is True:
            options.append(param.opts[0])
        else:
            for item in value if isinstance(value, list) else [value]:
                options += [param.opts[0], item]
    dash = ["--"] if any(word.startswith("-") for word in positional) else []
    return [*path, *options, *dash, *positional]


# --------------------------------------------------------------------------------------------------
# Running a command and judging what it did.

TYPED_ERRORS = {name for name in dir(sdk_errors) if name.endswith("Error")} | {"MlopsError", "UsageError"}
INTERNALS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>"),
    re.compile(r'File "[^"]+\.py", line \d+'),
    re.compile(r"\b(?:Errno \d+|UnicodeDecodeError|OverflowError|IsADirectoryError|FileNotFoundError)\b"),
)
LEFTOVER = re.compile(r"(\.tmp|\.partial)$|^\.partial-")


@dataclass
class Outcome:
    """What one ``mlops`` call did."""

    argv: list[str]
    json_mode: bool
    code: int | None
    out: str
    err: str
    raised: BaseException | None = None

    @property
    def message(self) -> str:
        """The error message a user reads (JSON ``error.message`` or stderr), box drawing removed."""
        text = self.err
        if self.json_mode:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                text = json.loads(self.out)["error"]["message"]
        return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def invoke(argv: Sequence[str], *, target: str | None = None, json_mode: bool = False) -> Outcome:
    """Run ``mlops [-o json] [-t target] ARGV`` in this process with an empty stdin."""
    full = [*(["-o", "json"] if json_mode else []), *(["-t", target] if target else []), *argv]
    out, err = io.StringIO(), io.StringIO()
    stdin, sys.stdin = sys.stdin, io.StringIO("")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(full)
        return Outcome(full, json_mode, code, out.getvalue(), err.getvalue())
    except BaseException as error:  # what would be a traceback in a real process
        return Outcome(full, json_mode, None, out.getvalue(), err.getvalue(), raised=error)
    finally:
        sys.stdin = stdin


def problems(outcome: Outcome, *, fail: bool = False, codes: Sequence[int] = (0, 1, 2, 3)) -> list[str]:
    """Every broken promise of one call (empty when it behaved)."""
    where = "mlops " + " ".join(outcome.argv)
    if outcome.raised is not None:
        return [f"{where}: raised {type(outcome.raised).__name__}: {str(outcome.raised)[:200]}"]
    found: list[str] = []
    allowed = [code for code in codes if code != 0] if fail else list(codes)
    if outcome.code not in allowed:
        found.append(f"{where}: exit {outcome.code}, expected one of {allowed}")
    for pattern in INTERNALS:
        if pattern.search(outcome.out + outcome.err):
            found.append(f"{where}: shows internals ({pattern.pattern}): {(outcome.out + outcome.err)[:300]!r}")
    if outcome.json_mode:
        found += _json_problems(where, outcome)
    elif outcome.code == 2 and "Usage: mlops" not in outcome.err:
        found.append(f"{where}: exit 2 without a usage line on stderr: {outcome.err[:200]!r}")
    elif outcome.code == 1 and not outcome.err.strip() and not outcome.out.strip():
        found.append(f"{where}: exit 1 without a message")
    return found


def _json_problems(where: str, outcome: Outcome) -> list[str]:
    text = outcome.out.strip()
    if not text:
        return [] if outcome.code in (0, 3) else [f"{where}: exit {outcome.code} with nothing on stdout"]
    try:
        document = json.loads(text)
    except ValueError:
        return [f"{where}: stdout is not one JSON document: {text[:300]!r}"]
    if outcome.code == 2 and not (isinstance(document, dict) and "error" in document):
        return [f"{where}: a usage error printed no JSON error: {text[:200]!r}"]
    if not (isinstance(document, dict) and set(document) == {"error"}):
        return []
    error = document["error"]
    found = []
    if error.get("type") not in TYPED_ERRORS:
        found.append(f"{where}: untyped error {error.get('type')!r}: {error.get('message')!r}")
    if not str(error.get("message") or "").strip():
        found.append(f"{where}: error without a message")
    if outcome.code == 2 and error.get("type") != "UsageError":
        found.append(f"{where}: exit 2 with error type {error.get('type')!r}")
    return found


def leftovers(*folders: Path) -> list[str]:
    """Temporary or partial files (``*.tmp``, ``*.partial``, ``.partial-*``) under ``folders``."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [str(path) for path in folder.rglob("*") if LEFTOVER.search(path.name)]
    return found


# --------------------------------------------------------------------------------------------------
# The files a user may hand over by mistake.

HOSTILE_NAMES = {
    "traversal": "../x",
    "spaces": "a b",
    "unicode": "ünï-cødé-名前",
    "undecodable": "\udcff\udcfe",  # what Python makes of invalid UTF-8 bytes in argv
    "long": "x" * 300,
    "markup": "[red]x[/red]",
    "empty": "",
}
CI_HOSTILE = ("traversal", "unicode", "empty", "long", "spaces", "undecodable")
"""The hostile names CI tries, two per parameter in rotation; ``-m soak`` tries all of them everywhere."""
NUMBERS = {"int": ("-1", "0", "9" * 25, "-" + "9" * 25), "float": ("-1", "nan", "inf", "1e999")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The working folder: a config on a local store, well-formed inputs, and bad files of every kind."""
    return make_project(tmp_path)


def make_project(tmp_path: Path) -> Path:
    """Fill ``tmp_path`` as :func:`project` describes."""
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\n')
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "folder").mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (bad / "latin1.txt").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    (bad / "a-file").write_text("not a folder\n")
    # Well-formed inputs, so a bad value of another parameter is what the command trips on. The job and
    # the pipeline point at a code folder that does not exist: submitting them fails, starting nothing.
    (tmp_path / "job.yaml").write_text("code: no-such-code\ncommand: python train.py\n")
    (tmp_path / "pipeline.yaml").write_text(
        "type: pipeline\njobs:\n  only:\n    code: no-such-code\n    command: python step.py\n"
    )
    (tmp_path / "checks.toml").write_text('[[checks]]\ntype = "MetricThreshold"\nmetric = "r2"\nmin = 0.1\n')
    (tmp_path / "monitor.toml").write_text(
        f'[monitor]\nendpoint = "{ENDPOINT}"\nwindow = "1h"\n[[monitor.signals]]\nkind = "data_drift"\n'
    )
    (tmp_path / "labels.csv").write_text("correlation_id,label\nabc,1\n")
    return tmp_path


FILE_KINDS = {
    "missing": "bad/missing.file",
    "folder": "bad/folder",
    "binary": "bad/binary.bin",
    "not-utf8": "bad/latin1.txt",
}
"""Inputs that can never be read as a spec, a table of rows, a JSON body or a PEM file."""

OUTPUT_KINDS = {"folder": "bad/folder", "under-a-file": "bad/a-file/report.html"}
FOLDER_KINDS = {"a-file": "bad/a-file", "under-a-file": "bad/a-file/project"}


@dataclass(frozen=True)
class Case:
    """One call of the sweep: ``param`` set to ``value`` (``kind`` says why), the rest from the shape."""

    path: tuple[str, ...]
    param: str | None
    kind: str
    value: str | None
    fail: bool
    named: bool = False

    @property
    def id(self) -> str:
        return f"{' '.join(self.path) or 'mlops'}:{self.param or '-'}:{self.kind}"

    def argv(self) -> list[str]:
        if not self.path:  # a global option, on a command that reads the config and the store
            return [_flag(_param((), self.param or "")), self.value or "", "endpoints", "list"]
        shape = SHAPES[self.path]
        values: dict[str, Any] = dict(shape.values)
        if self.param is not None:
            value = self.value
            if self.kind.startswith("file:") and self.param in shape.prefix:
                value = shape.prefix[self.param] + str(value)
            values[self.param] = value
            if self.path == ("approvals", "serve") and self.param in ("tls_cert", "tls_key"):
                values["tls_cert"] = values["tls_key"] = value
        return argv_for(self.path, values)


def _rotation(values: Any, keys: Sequence[Any], index: int, count: int) -> Any:
    """``count`` of ``keys`` starting at ``index`` (wrapping): CI tries a different pair on each parameter."""
    chosen = [keys[(index + step) % len(keys)] for step in range(count)]
    return {key: values[key] for key in chosen} if isinstance(values, dict) else tuple(chosen)


def cases_for(path: tuple[str, ...], *, soak: bool = False) -> list[Case]:
    """Every value case of one command, derived from its parameters' types and its shape."""
    shape = SHAPES.get(path, Shape())
    params = [_param((), name) for name in GLOBAL_OPTIONS] if not path else COMMANDS[path].params
    found: list[Case] = []
    if path and not (shape.creates or shape.serves):
        found.append(Case(path, None, "baseline", None, fail=not shape.empty_ok))
    for index, param in enumerate(params):
        hostile = HOSTILE_NAMES if soak else _rotation(HOSTILE_NAMES, CI_HOSTILE, index, 2)
        numbers = NUMBERS if soak else {kind: _rotation(NUMBERS[kind], NUMBERS[kind], index, 2) for kind in NUMBERS}
        annotation = param.type_descriptor.annotation
        name = param.name
        if getattr(param, "is_flag", False) or name in ("help", "version", "output"):
            continue
        if name in shape.files or (not path and name == "config_file"):
            for kind, value in FILE_KINDS.items():
                early = kind == "missing" or name not in shape.late
                found.append(Case(path, name, f"file:{kind}", value, fail=early, named=early))
            empty_fails = name != "config_file" and name not in shape.late
            found.append(Case(path, name, "file:empty", "bad/empty.txt", fail=empty_fails))
            continue
        if name in shape.outputs:
            found += [Case(path, name, f"output:{kind}", value, True, True) for kind, value in OUTPUT_KINDS.items()]
            continue
        if name in shape.folders:
            found += [Case(path, name, f"folder:{kind}", value, True, True) for kind, value in FOLDER_KINDS.items()]
            continue
        if annotation in (int, float):
            found.append(Case(path, name, "type:word", "abc", fail=True, named=True))
            found += [Case(path, name, f"number:{value}", value, fail=False) for value in numbers[annotation.__name__]]
            continue
        must_fail = name in shape.names or (not path and name in ("profile", "target"))
        if getattr(param, "multiple", False):
            found.append(Case(path, name, "pair:no-equals", "novalue", fail=True, named=True))
        for kind, value in hostile.items():
            found.append(Case(path, name, f"name:{kind}", value, fail=must_fail))
    if shape.creates or shape.serves:
        found = [case for case in found if case.fail]
    return found


def _check(case: Case, outcome: Outcome, project: Path) -> list[str]:
    found = problems(outcome, fail=case.fail)
    if case.named and outcome.code in (1, 2) and case.param is not None:
        flag = _flag(_param(case.path, case.param))
        message = outcome.message
        if flag.lower() not in message.lower() and str(case.value) not in message:
            found.append(f"mlops {' '.join(outcome.argv)}: the message names neither {flag} nor the value: {message!r}")
    if outcome.code != 0:
        found += [f"mlops {' '.join(outcome.argv)}: left {path}" for path in leftovers(project)]
    return found


def sweep(cases: Sequence[Case], project: Path, *, both_modes: bool) -> list[str]:
    """Run the cases in-process (alternating text and JSON output, or both) and collect broken promises."""
    found: list[str] = []
    for index, case in enumerate(cases):
        modes = (False, True) if both_modes else (index % 2 == 1,)
        for json_mode in modes:
            found += _check(case, invoke(case.argv(), json_mode=json_mode), project)
    return found


_SERVING_DRIVER = """
import contextlib, io, json, sys
from mlops_sdk.cli.main import run
results = []
for argv in json.loads(sys.argv[1]):
    print(json.dumps(argv), file=sys.__stderr__, flush=True)  # names the call, should it never return
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(argv)
    except BaseException as error:
        code, err = None, io.StringIO(f"raised {type(error).__name__}: {error}")
    results.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def sweep_serving(cases: Sequence[Case], project: Path) -> list[str]:
    """Run a command that serves until stopped, in one child process: every case must return on its own."""
    calls = [[*(["-o", "json"] if index % 2 else []), *case.argv()] for index, case in enumerate(cases)]
    try:
        child = subprocess.run(
            [sys.executable, "-c", _SERVING_DRIVER, json.dumps(calls)],
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as timeout:
        started = (timeout.stderr or b"").decode(errors="replace").strip().splitlines()
        return [f"still serving after {started[-1] if started else '?'}: it should have refused the value"]
    if child.returncode != 0:
        return [f"the driver failed: {child.stderr[-2000:]}"]
    found: list[str] = []
    for case, argv, (code, out, err) in zip(cases, calls, json.loads(child.stdout), strict=True):
        outcome = Outcome(argv, argv[:2] == ["-o", "json"], code, out, err)
        if code is None:
            outcome.raised = RuntimeError(err)
        found += _check(case, outcome, project)
    return found


# --------------------------------------------------------------------------------------------------
# The tests.


def test_every_command_has_a_shape() -> None:
    """A command added to the app is swept only once it says how it is fed: fail until it does."""
    assert sorted(set(COMMANDS) - set(SHAPES)) == []
    assert sorted(set(SHAPES) - set(COMMANDS)) == []
    for path, shape in SHAPES.items():
        declared = {*shape.values, *shape.files, *shape.outputs, *shape.folders, *shape.names, *shape.late}
        assert declared <= {param.name for param in COMMANDS[path].params}, path
    assert len(COMMANDS) >= 45  # the walk found the nested groups (train pipeline ...)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_names_every_option(path: tuple[str, ...]) -> None:
    outcome = invoke([*path, "--help"])
    assert problems(outcome, codes=(0,)) == []
    text = outcome.out
    assert f"Usage: mlops {' '.join(path)}" in text
    for param in COMMANDS[path].params:
        for opt in (*param.opts, *getattr(param, "secondary_opts", ())):
            if opt.startswith("-"):
                assert opt in text, f"{opt} missing from mlops {' '.join(path)} --help"


@pytest.mark.parametrize(
    "path", sorted(p for p, c in COMMANDS.items() if any(x.required for x in c.params)), ids=" ".join
)
@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_missing_required_values_are_usage_errors(path: tuple[str, ...], json_mode: bool) -> None:
    outcome = invoke(list(path), json_mode=json_mode)
    assert outcome.code == 2
    assert problems(outcome, fail=True) == []
    usage = outcome.err if not json_mode else json.loads(outcome.out)["error"]["details"]["usage"]
    assert f"Usage: mlops {' '.join(path)}" in usage
    assert "Missing" in outcome.message


@pytest.mark.parametrize("path", GROUPS, ids=" ".join)
@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_a_group_without_a_command_is_a_usage_error(path: tuple[str, ...], json_mode: bool) -> None:
    outcome = invoke(list(path), json_mode=json_mode)
    assert outcome.code == 2
    assert problems(outcome, fail=True) == []


@pytest.mark.parametrize("path", [(), *sorted(COMMANDS)], ids=lambda path: " ".join(path) or "global options")
def test_bad_values_fail_cleanly(path: tuple[str, ...], project: Path) -> None:
    cases = cases_for(path)
    if SHAPES.get(path, Shape()).serves:
        assert sweep_serving(cases, project) == []
    else:
        assert sweep(cases, project, both_modes=False) == []


@pytest.mark.soak
@pytest.mark.parametrize("path", [(), *sorted(COMMANDS)], ids=lambda path: " ".join(path) or "global options")
def test_bad_values_fail_cleanly_every_value_both_modes(path: tuple[str, ...], project: Path) -> None:
    cases = cases_for(path, soak=True)
    if SHAPES.get(path, Shape()).serves:
        assert sweep_serving(cases, project) == []
    else:
        assert sweep(cases, project, both_modes=True) == []


@pytest.mark.parametrize(
    "path", sorted(p for p, s in SHAPES.items() if s.names and not (s.creates or s.serves or s.empty_ok)), ids=" ".join
)
def test_unknown_names_are_typed_errors_on_memory(path: tuple[str, ...]) -> None:
    """The same calls on ``memory://``: a name that names nothing is an error there too."""
    shape = SHAPES[path]
    outcome = invoke(argv_for(path, shape.values), target="memory://", json_mode=True)
    assert problems(outcome, fail=True) == []
    assert json.loads(outcome.out)["error"]["type"] in TYPED_ERRORS


FUZZED = sorted(
    (path, name)
    for path, shape in SHAPES.items()
    if not (shape.creates or shape.serves)
    for name in shape.names
    if _param(path, name).param_type_name == "argument"
)


def _fuzz(project: Path, pick: tuple[tuple[str, ...], str], value: str, json_mode: bool) -> None:
    path, name = pick
    values = {**SHAPES[path].values, name: value}
    outcome = invoke(argv_for(path, values), json_mode=json_mode)
    assert problems(outcome) == []
    if outcome.code != 0:
        assert leftovers(project) == []


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    list(HOSTILE_NAMES.values())
)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.sampled_from(FUZZED), value=NAMES, json_mode=st.booleans())
def test_fuzzed_names_never_crash(
    project: Path, pick: tuple[tuple[str, ...], str], value: str, json_mode: bool
) -> None:
    _fuzz(project, pick, value, json_mode)


@pytest.mark.soak
@settings(
    max_examples=2000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pick=st.sampled_from(FUZZED), value=NAMES, json_mode=st.booleans())
def test_fuzzed_names_never_crash_soak(
    project: Path, pick: tuple[tuple[str, ...], str], value: str, json_mode: bool
) -> None:
    _fuzz(project, pick, value, json_mode)


def test_a_question_never_goes_to_stdout(project: Path) -> None:
    """``endpoints delete`` asks on stderr; under ``-o json`` it never asks: ``--yes`` is required."""
    asked = invoke(["endpoints", "delete", ENDPOINT])
    assert (asked.code, asked.out) == (1, "")
    assert "Delete endpoint no-such-endpoint" in asked.err
    refused = invoke(["endpoints", "delete", ENDPOINT], json_mode=True)
    assert refused.code == 2
    error = json.loads(refused.out)["error"]
    assert (error["type"], error["details"]["param"]) == ("UsageError", "--yes")


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_a_model_longer_than_a_file_name_is_a_usage_error(project: Path, json_mode: bool) -> None:
    """``deploy`` looks MODEL up as a folder first; a name the OS refuses used to escape as an OSError."""
    outcome = invoke(["deploy", "x" * 256 + "@1", "--endpoint", ENDPOINT], json_mode=json_mode)
    assert outcome.code == 2
    assert problems(outcome, fail=True) == []
    assert "too long for a model reference or a folder" in outcome.message


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_undecodable_bytes_in_a_real_command_line(project: Path, json_mode: bool) -> None:
    """Bytes that are not UTF-8 in argv (a real process decodes them to surrogates) are a usage error."""
    argv = [*([b"-o", b"json"] if json_mode else []), b"train", b"show", b"run-\xff\xfe"]
    child = subprocess.run(
        [sys.executable.encode(), b"-m", b"mlops_sdk.cli", *argv], cwd=project, capture_output=True, timeout=120
    )
    out, err = child.stdout.decode(), child.stderr.decode()
    assert child.returncode == 2
    assert "Traceback" not in out + err
    if json_mode:
        error = json.loads(out)["error"]
        assert error["type"] == "UsageError"
        assert "run-\\udcff\\udcfe" in error["message"]
    else:
        assert (out, err.splitlines()[0]) == ("", "Usage: mlops [OPTIONS] COMMAND [ARGS]...")
        assert "is not valid UTF-8" in err


# --------------------------------------------------------------------------------------------------
# Secret canaries in every place a user can put a secret, and every command run over them.

LIVE_ENDPOINT = "canary-sweep"


def _canary_config(project: Path, seen: Canaries, monkeypatch: pytest.MonkeyPatch) -> None:
    """Canaries in the config file (top level, the selected profile, an unselected one) and the environment."""
    hook = "http://127.0.0.1:9/hooks"  # loopback, refused: nothing is ever sent anywhere
    (project / "mlops.toml").write_text(
        'target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\nprofile = "ci"\n'
        f'devops_pat = "{seen.new("FilePat")}"\n'
        f'[profiles.ci]\ngithub_token = "{seen.new("ProfileToken")}"\n'
        f'notify_webhook = "{hook}/{seen.new("ProfileWebhook")}"\n'
        f'[profiles.other]\ndevops_pat = "{seen.new("UnselectedPat")}"\n'
        f'notify_teams = "{hook}/{seen.new("UnselectedTeams")}"\n'
    )
    monkeypatch.setenv("MLOPS_NOTIFY_WEBHOOK_SECRET", seen.new("EnvWebhookSecret"))
    monkeypatch.setenv("MLOPS_NOTIFY_SLACK", f"{hook}/{seen.new('EnvSlack')}")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", seen.new("ClientSecret"))
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000")


def _live(path: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
    """The shape's values, on the live endpoint where the command takes one (create: it exists already)."""
    live = {key: LIVE_ENDPOINT if value == ENDPOINT else value for key, value in values.items()}
    return {**live, "name": LIVE_ENDPOINT} if path == ("endpoints", "create") else live


def test_no_canary_escapes_any_command(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Canaries()
    _canary_config(project, seen, monkeypatch)
    created = invoke(["endpoints", "create", LIVE_ENDPOINT], json_mode=True)
    assert created.code == 0, created.err
    keys = json.loads((project / ".mlops" / "endpoints" / LIVE_ENDPOINT / "secrets.json").read_text())
    endpoint_keys = {f"endpoint {name}": value for name, value in keys.items()}
    seen.values.update(endpoint_keys)
    failures: list[str] = []
    try:
        order = sorted(SHAPES, key=lambda path: path == ("endpoints", "delete"))  # delete the endpoint last
        for path in order:
            shape = SHAPES[path]
            values = _live(path, shape.values)
            if shape.serves:
                values["port"] = "-1"  # refused before it serves
            for json_mode in (False, True):
                outcome = invoke(argv_for(path, values), json_mode=json_mode)
                failures += problems(outcome)
                if path == ("endpoints", "keys"):  # prints the keys, you asked for them; the canaries are real
                    assert keys["primary_key"] in outcome.out
                    continue
                seen.see(f"mlops {' '.join(outcome.argv)} stdout", outcome.out)
                seen.see(f"mlops {' '.join(outcome.argv)} stderr", outcome.err)
            if path == ("endpoints", "keys"):  # --primary: the bare key for $(...), one JSON document with -o json
                assert invoke([*argv_for(path, values), "--primary"]).out == keys["primary_key"] + "\n"
                primary = invoke([*argv_for(path, values), "--primary"], json_mode=True)
                assert json.loads(primary.out) == {"endpoint": LIVE_ENDPOINT, "primary_key": keys["primary_key"]}
    finally:
        invoke(["endpoints", "stop", LIVE_ENDPOINT])
    for record in caplog.records:
        seen.see(f"log {record.name}", logging.Formatter().format(record))
    leaks = [f"{where}: {label}" for where, text in seen.texts for label, value in seen.values.items() if value in text]
    secrets_home = project / ".mlops" / "endpoints" / LIVE_ENDPOINT / "secrets.json"
    for file in sorted(project.rglob("*")):
        if file.is_file() and file not in (project / "mlops.toml", secrets_home):
            data = file.read_bytes()
            leaks += [
                f"{file.relative_to(project)}: {label}"
                for label, value in seen.values.items()
                if value.encode() in data
            ]
    assert failures == []
    assert leaks == []
    assert len(seen.texts) > 2 * 2 * (len(SHAPES) - 1)  # every command's stdout and stderr, in both modes
    shown = json.loads(invoke(["config", "show"], json_mode=True).out)["settings"]  # the canaries were in effect
    assert shown["devops_pat"] == {"value": "***", "source": str(project / "mlops.toml")}
    assert shown["github_token"]["value"] == shown["notify_slack"]["value"] == "***"
