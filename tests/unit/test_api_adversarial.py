"""Every public client method, called the way an outside tester would: with hostile arguments.

The methods are found by introspection (``MLOpsClient``'s sub-clients and their public methods), so
a method added later is swept too; a guard fails when one is neither swept nor listed as skipped.
Each parameter gets values derived from its annotation: wrong types, empty and blank strings, path
traversal, unicode, names of things that do not exist, negative / huge / NaN numbers, garbage files,
DataFrames with the wrong shape. The contract every call must keep (docs/errors.md):

* a refused call raises an :class:`MlopsError` subclass, never an exception from inside Python or
  a dependency (``TypeError``, ``KeyError``, ``ArrowInvalid``, duckdb, sqlalchemy, mlflow, ...);
* a value of the wrong type, a blank name or a negative count is refused, not silently used;
* a ``ConfigurationError`` names the parameter it is about;
* a ``get_`` of a well-formed name of nothing raises ``ResourceNotFoundError``;
* a refused call leaves the store as it was: same files, same rows, no ``*.tmp``.

The CI sweep is the memory backend with every value and ``local://`` with one value per kind;
``-m soak`` runs every value on ``local://`` too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import math
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_sdk import MLOpsClient, MlopsError
from mlops_sdk.backends.memory import reset_memory_stores
from mlops_sdk.clients.hub import _SUB_CLIENTS
from mlops_sdk.core.arguments import FREE_TEXT
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.operation import Operation
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.testing.clock import FakeClock

# -- what is swept ---------------------------------------------------------------------------------

# Methods the sweep does not call, with the reason. Every other public method is swept.
NOT_SWEPT: dict[str, str] = {
    "close": "takes no argument and releases the client (covered by every test's teardown)",
    "now": "takes no argument",
    "whoami": "takes no argument",
    "verify_audit": "takes no argument",
    "list_models": "takes no argument",
    "list_pipelines": "takes no argument",
    "list_triggers": "takes no argument",
    "list_endpoints": "takes no argument",
}

# Parameters that take callbacks or display switches: not inputs a tester can get wrong in a way
# the SDK can check before calling them.
UNSWEPT_PARAMETERS = {"progress", "on_log", "show_progress", "cancel_on_interrupt", "stop_with_client"}


def public_methods() -> list[tuple[str, str]]:
    """``(sub-client, method)`` for every public method of every sub-client of ``MLOpsClient``."""
    import importlib

    found = []
    for attribute, (module, class_name) in sorted(_SUB_CLIENTS.items()):
        cls = getattr(importlib.import_module(module), class_name)
        for name in sorted(dir(cls)):
            if name.startswith("_") or isinstance(inspect.getattr_static(cls, name), property):
                continue
            if callable(getattr(cls, name)):
                found.append((attribute, name))
    return found


METHODS = public_methods()
SWEPT = [(client, method) for client, method in METHODS if method not in NOT_SWEPT]

# A vote the policy does not let count is refused (PermissionDeniedError) AND recorded in the
# approval audit trail as "refused": that one entry is the only change such a refusal may make.
AUDITED_REFUSALS = {("approvals", "approve"), ("approvals", "reject")}

# Runtime state the memory backend keeps beside its data: not stored records.
RUNTIME_ATTRIBUTES = {"_cursor": "the traffic router's round-robin position moves with every request"}

# -- filler values: plausible arguments for the parameters not under attack ------------------------

# A required parameter not under attack gets a well-formed value naming something that does not
# exist, so the call reaches as deep as it can before refusing.
FILLERS: dict[str, Any] = {
    "name": "ghost-thing",
    "version": 1,
    "alias": "champion",
    "run_id": "ghost-run",
    "request_id": "ghost-request",
    "model": "ghost-model@1",
    "ref": "ghost-model@1",
    "run": "ghost-run",
    "endpoint": "ghost-endpoint",
    "digest": "0" * 64,
    "pipeline_id": 4242,
    "token": "not-a-token",
    "tags": {"team": "churn"},
    "payload": {"input_data": [[1.0, 2.0]]},
    "checks": [],
    "policy": {"approvers": ["alice"]},
    "comment": "looks good",
    "request": None,  # filled per call: needs an ApprovalRequest
    "operations": [],
    "monitor": {"endpoint": "ghost-endpoint", "signals": [{"kind": "data_drift"}]},
    "data": None,
}
# (client, method, parameter) -> filler, where the generic one is wrong for that method.
METHOD_FILLERS: dict[tuple[str, str, str], Any] = {
    ("data_factory", "begin_refresh", "pipeline"): "ghost-pipeline",
    ("data_factory", "create_trigger", "pipeline"): "ghost-pipeline",
    ("data_factory", "define", "pipeline"): {"name": "ghost", "activities": []},
    ("training", "begin_pipeline", "pipeline"): "ghost-pipeline.yaml",
    ("training", "begin_train", "job"): {"code": "ghost-folder", "command": "python train.py"},
    ("monitoring", "log_inferences", "data"): [{"x": 1.0}],
    ("pipelines", "cancel", "run_id"): 4242,
    ("pipelines", "get_run", "run_id"): 4242,
}

# -- hostile values ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hostile:
    """A value to pass, what kind of hostility it is, and what the SDK must do with it.

    ``must_refuse``: the call must raise an ``MlopsError`` (returning normally means the value was
    silently used). ``wrong_type``: the refusal must be a ``ConfigurationError`` naming the parameter.
    """

    label: str
    value: Any
    kind: str
    must_refuse: bool = True
    wrong_type: bool = False


class _Opaque:
    """An object no parameter accepts."""

    def __repr__(self) -> str:
        return "<opaque>"


def _frames() -> list[Hostile]:
    return [
        Hostile("frame-empty", pd.DataFrame(), "frame", must_refuse=False),
        Hostile("frame-wrong-columns", pd.DataFrame({"zzz": [1, 2]}), "frame", must_refuse=False),
        Hostile("frame-object-dtype", pd.DataFrame({"x": [object(), object()]}), "frame", must_refuse=False),
        Hostile(
            "frame-duplicate-columns",
            pd.DataFrame([[1, 2]], columns=["x", "x"]),
            "frame",
            must_refuse=False,
        ),
        Hostile("frame-nan-inf", pd.DataFrame({"x": [math.nan, math.inf]}), "frame", must_refuse=False),
    ]


def _strings(annotation: str) -> list[Hostile]:
    return [
        Hostile("str-empty", "", "blank"),
        Hostile("str-blank", "  \t ", "blank"),
        Hostile("str-nul", "a\x00b", "garbage", must_refuse=False),
        # bytes that were not UTF-8, as Python hands them over (argv, file names): SQLite cannot store them
        Hostile("str-undecodable", "ab\udcffcd", "garbage"),
        Hostile("str-traversal", "../x", "traversal", must_refuse=False),
        Hostile("str-deep-traversal", "../../../../etc/passwd", "traversal", must_refuse=False),
        Hostile("str-unicode", "m\u00f6d\u00e8l-\u2713-\U0001f600", "unicode", must_refuse=False),
        Hostile("str-huge", "x" * 5000, "huge", must_refuse=False),
        Hostile("str-missing", "nothing-here", "missing", must_refuse=False),
    ]


def _files(tmp: Path) -> list[Hostile]:
    garbage = tmp / "garbage.bin"
    garbage.write_bytes(b"\x00\xff\xfe garbage \x89PNG\r\n")
    empty = tmp / "empty.csv"
    empty.write_text("")
    return [
        Hostile("file-missing", str(tmp / "no-such-file.csv"), "file", must_refuse=False),
        Hostile("file-garbage", str(garbage), "file", must_refuse=False),
        Hostile("file-empty", str(empty), "file", must_refuse=False),
        Hostile("file-folder", str(tmp), "file", must_refuse=False),
        Hostile("path-missing", tmp / "no-such-file.yaml", "file", must_refuse=False),
    ]


def _ints() -> list[Hostile]:
    return [
        Hostile("int-negative", -1, "number"),
        Hostile("int-zero", 0, "number", must_refuse=False),
        Hostile("int-huge", 10**18, "number", must_refuse=False),
        Hostile("int-beyond-64-bits", 10**24, "number"),  # SQLite raised OverflowError
        Hostile("int-bool", True, "wrong-type", wrong_type=True),
        Hostile("int-float-nan", math.nan, "wrong-type", wrong_type=True),
        Hostile("int-str", "seven", "wrong-type", wrong_type=True),
    ]


def _floats() -> list[Hostile]:
    return [
        Hostile("float-nan", math.nan, "number"),
        Hostile("float-inf", math.inf, "number"),
        Hostile("float-negative", -1.0, "number"),
        Hostile("float-huge", 1e300, "number", must_refuse=False),
        Hostile("float-str", "fast", "wrong-type", wrong_type=True),
    ]


WRONG_TYPES = [
    Hostile("type-int", 12345, "wrong-type", wrong_type=True),
    Hostile("type-list", ["a", "b"], "wrong-type", wrong_type=True),
    Hostile("type-dict", {"a": 1}, "wrong-type", wrong_type=True),
    Hostile("type-object", _Opaque(), "wrong-type", wrong_type=True),
    Hostile("type-bytes", b"bytes", "wrong-type", wrong_type=True),
]


def hostile_values(annotation: str, default: Any, tmp: Path) -> list[Hostile]:
    """The values to try for a parameter annotated ``annotation`` (the string form)."""
    text = annotation.replace(" ", "")
    parts = set(text.replace("|", " ").replace("[", " ").replace("]", " ").replace(",", " ").split())
    optional = "None" in parts or default is None
    values: list[Hostile] = []
    if not optional:
        values.append(Hostile("none", None, "wrong-type", wrong_type=True))
    if text == "Any" or ("Any" in parts and "str" not in parts):
        # data / payload / report / labels: anything goes in type, but garbage must be refused cleanly
        return [
            *values,
            *_frames(),
            *_files(tmp),
            Hostile("any-object", _Opaque(), "garbage", must_refuse=False),
            Hostile("any-int", 12345, "garbage", must_refuse=False),
            Hostile("any-str", "nothing-here", "garbage", must_refuse=False),
            Hostile("any-dict", {"a": [1, 2]}, "garbage", must_refuse=False),
        ]
    accepts = {
        "str": "str" in parts or "Path" in parts or "ModelVersion" in parts,
        "int": "int" in parts,
        "float": "float" in parts,
        "bool": text == "bool",
        "mapping": any(p.startswith(("Mapping", "dict")) for p in parts) or "Mapping" in text or "dict[" in text,
        "sequence": "Sequence" in text or text.startswith("list["),
    }
    if accepts["str"]:
        values += _strings(text)
    if "Path" in parts:
        values += _files(tmp)
    if accepts["int"] and not accepts["bool"]:
        values += [v for v in _ints() if not (accepts["str"] and v.label == "int-str")]
    if accepts["float"]:
        values += [v for v in _floats() if not (accepts["int"] and v.label == "float-negative")]
    if accepts["bool"]:
        values.append(Hostile("bool-str", "yes", "wrong-type", wrong_type=True))
    if accepts["mapping"]:
        values += [
            Hostile("mapping-bad-key", {1: _Opaque()}, "wrong-type", wrong_type=True),
            Hostile("mapping-empty-key", {"": "x"}, "blank"),
            Hostile("mapping-empty", {}, "blank", must_refuse=False),
        ]
    if "Literal" in text:
        values.append(Hostile("literal-other", "tertiary", "wrong-type", wrong_type=True))
    for wrong in WRONG_TYPES:
        kind = type(wrong.value)
        if (
            (kind is int and (accepts["int"] or accepts["float"]))
            or (kind is dict and accepts["mapping"])
            or (kind is list and accepts["sequence"])
        ):
            continue
        values.append(wrong)
    return values


# -- the store before and after ----------------------------------------------------------------------


def _freeze(value: Any, depth: int = 0) -> Any:
    """A comparable picture of the memory backend's state (locks, threads and callables left out)."""
    if depth > 12:
        return "..."
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _freeze(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, depth + 1) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(repr(v) for v in value))
    if hasattr(value, "model_dump"):
        return _freeze(value.model_dump(mode="json"), depth + 1)
    if isinstance(value, pd.DataFrame):
        return value.to_json()
    if callable(value) or isinstance(value, type(threading.Lock()) | threading.Thread):
        return type(value).__name__
    if hasattr(value, "__dict__"):
        kept = {name: item for name, item in vars(value).items() if name not in RUNTIME_ATTRIBUTES}
        return (type(value).__name__, _freeze(kept, depth + 1))
    return type(value).__name__


def _folder_picture(root: Path) -> dict[str, Any]:
    """Every file under ``root`` -> its content hash; SQLite databases -> their rows."""
    picture: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = str(path.relative_to(root))
        if path.name.endswith(("-wal", "-shm", "-journal")) or path.suffix == ".lock":
            continue
        if path.suffix == ".db":
            picture[relative] = _rows(path)
        elif path.suffix == ".log":
            continue  # a log may say that a call was refused
        else:
            picture[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return picture


def _folder_stats(root: Path) -> list[tuple[str, int, int]]:
    """Every file under ``root`` with its size and modification time (the SQLite WAL included)."""
    found = []
    for path in root.rglob("*"):
        if path.name.endswith("-shm"):  # readers touch the shared-memory index
            continue
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def _rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("select name from sqlite_master where type='table'")]
        pictures = {}
        for table in tables:  # names read from sqlite_master, not user input
            pictures[table] = sorted(map(repr, connection.execute(f'select * from "{table}"')))  # noqa: S608
        return pictures
    finally:
        connection.close()


class Store:
    """A client on one backend and a picture of what it stores."""

    def __init__(self, target: str, root: Path | None) -> None:
        # memory:// waits on a fake clock (an approval wait times out at once); local:// runs real processes
        clock = FakeClock() if root is None else None
        self.client = MLOpsClient(target, show_progress=False, clock=clock)
        self.root = root
        self.fillers: dict[tuple[str, ...], Any] = {}
        """Fillers naming things that exist: ``(client, parameter)`` or ``(client, method, parameter)``."""
        self.name = "memory" if root is None else "local"
        self._cached: tuple[Any, Any] | None = None

    def picture(self) -> Any:
        """What the store holds: files and rows (``local://``) or the state (``memory://``)."""
        if self.root is not None:
            # Reading every row is slow; a write changes a file's size or modification time (the
            # WAL's, for SQLite), so the rows are read again only when the files' stats moved.
            stats = _folder_stats(self.root)
            if self._cached is None or self._cached[0] != stats:
                self._cached = (stats, _folder_picture(self.root))
            return self._cached[1]
        backend = self.client._context.backend
        return _freeze(backend.store.state)  # type: ignore[attr-defined]

    def audit_events(self) -> list[str]:
        """The approval audit trail's events, oldest first."""
        if self.root is not None:
            database = self.root / "store" / "mlops.db"
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                return [row[0] for row in connection.execute("select event from approval_audit order by seq")]
            except sqlite3.OperationalError:
                return []
            finally:
                connection.close()
        state = self.client._context.backend.store.state  # type: ignore[attr-defined]
        return [entry.event for entry in state["approvals"].audit] if "approvals" in state else []

    def picture_without_audit(self) -> Any:
        """The picture, leaving out the approval audit trail."""
        if self.root is not None:
            picture = _folder_picture(self.root)
            for tables in picture.values():
                if isinstance(tables, dict):
                    tables.pop("approval_audit", None)
                    tables.pop("approval_audit_head", None)
            return picture
        state = dict(self.client._context.backend.store.state)  # type: ignore[attr-defined]
        if "approvals" in state:
            state["approvals"] = dataclasses.replace(state["approvals"], audit=[])
        return _freeze(state)


def _warm(store: Store) -> None:
    """Call every reading method once with filler arguments, so that lazily created services, tables
    and folders exist before the sweep compares the store."""
    for attribute, method in SWEPT:
        if method.startswith(("get", "list", "history", "alias_history", "capture_stats", "decisions_for")):
            _call_with_fillers(store, attribute, method)


# -- calling -----------------------------------------------------------------------------------------


def _parameters(client: MLOpsClient, attribute: str, method: str) -> list[inspect.Parameter]:
    function = getattr(getattr(client, attribute), method)
    return [p for p in inspect.signature(function).parameters.values() if p.name not in UNSWEPT_PARAMETERS]


def _filler(store: Store, attribute: str, method: str, parameter: inspect.Parameter) -> Any:
    for key in ((attribute, method, parameter.name), (attribute, parameter.name)):
        if key in store.fillers:
            return store.fillers[key]
    if (attribute, method, parameter.name) in METHOD_FILLERS:
        return METHOD_FILLERS[(attribute, method, parameter.name)]
    if parameter.name == "request":
        from mlops_sdk.models.approvals import ApprovalRequest

        return ApprovalRequest.model_construct(id="ghost-request")
    if parameter.name in FILLERS:
        return FILLERS[parameter.name]
    annotation = str(parameter.annotation)
    if "int" in annotation and "str" not in annotation:
        return 1
    return "ghost-thing"


def _arguments(
    store: Store, attribute: str, method: str, parameters: list[inspect.Parameter], attacked: str | None, value: Any
) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.name == attacked:
            given = value
        elif parameter.default is inspect.Parameter.empty:
            given = _filler(store, attribute, method, parameter)
        else:
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = given
        else:
            args.append(given)
    return args, kwargs


def _consume(result: Any) -> Any:
    """Pages are lazy: iterate them so that their errors surface; operations are waited for."""
    if isinstance(result, ItemPaged):
        return list(result)
    if isinstance(result, Iterator):
        return list(result)
    if isinstance(result, Operation):
        with contextlib.suppress(MlopsError):  # let the work finish (or fail) before the store is compared
            result.wait(timeout=30)
    return result


@dataclasses.dataclass
class Outcome:
    """What one call did."""

    call: str
    problem: str | None
    raised: type[MlopsError] | None = None


def call_once(store: Store, attribute: str, method: str, attacked: str | None, hostile: Hostile | None) -> Outcome:
    """Call ``method`` with ``hostile`` as parameter ``attacked``; say what broke the contract, if anything."""
    parameters = _parameters(store.client, attribute, method)
    args, kwargs = _arguments(store, attribute, method, parameters, attacked, hostile.value if hostile else None)
    call = f"{attribute}.{method}({attacked}={hostile.label if hostile else '-'})"
    audited = (attribute, method) in AUDITED_REFUSALS
    before = store.picture_without_audit() if audited else store.picture()
    events = store.audit_events() if audited else []
    function = getattr(getattr(store.client, attribute), method)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _consume(function(*args, **kwargs))
    except MlopsError as error:
        after = store.picture_without_audit() if audited else store.picture()
        if audited and store.audit_events() not in (events, [*events, "refused"]):
            return Outcome(call, f"refused, and the audit trail gained {store.audit_events()[len(events) :]}")
        if after != before:
            return Outcome(call, f"refused with {type(error).__name__} but changed the store: {_diff(before, after)}")
        missing = hostile is not None and hostile.kind == "missing" and method.startswith("get")
        malformed = isinstance(error, ConfigurationError) and error.details.get("field") == attacked
        if (
            missing
            and not isinstance(error, ResourceNotFoundError)
            and not malformed  # "nothing-here" is no version number
            and not _refused_for_filler(store, attribute, method, error)  # refused whatever the name
        ):
            return Outcome(call, f"a get_ of something missing raised {type(error).__name__}, not NotFound")
        if hostile is not None and hostile.wrong_type and not isinstance(error, ConfigurationError):
            return Outcome(call, f"wrong type refused as {type(error).__name__}, not ConfigurationError: {error}")
        if isinstance(error, ConfigurationError) and attacked is not None and hostile is not None:
            named = (
                attacked in str(error)
                or attacked in str(error.details.get("field", ""))
                or str(error.details.get("field", "")) in attacked.split("_")  # "baseline" for baseline_data
                or (isinstance(hostile.value, str | Path) and str(hostile.value) in str(error))
            )
            if not named and not _refused_for_filler(store, attribute, method, error):
                return Outcome(call, f"ConfigurationError does not name {attacked!r}: {error}")
        return Outcome(call, None, type(error))
    except Exception as error:  # the contract: nothing but MlopsError escapes
        return Outcome(call, f"raised {type(error).__module__}.{type(error).__name__}: {str(error)[:300]}")
    if hostile is not None and hostile.must_refuse:
        return Outcome(call, f"accepted {hostile.label} ({hostile.value!r:.60}) silently")
    return Outcome(call, None)


_BASELINE: dict[tuple[str, str, str], str | None] = {}


def _call_with_fillers(store: Store, attribute: str, method: str) -> str | None:
    """Call ``method`` with filler arguments only; the error it raised, as text."""
    parameters = _parameters(store.client, attribute, method)
    args, kwargs = _arguments(store, attribute, method, parameters, None, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _consume(getattr(getattr(store.client, attribute), method)(*args, **kwargs))
    except Exception as error:
        return str(error)
    return None


def _refused_for_filler(store: Store, attribute: str, method: str, error: MlopsError) -> bool:
    """True when the same error comes without the hostile value (a filler argument was refused first)."""
    key = (store.name, attribute, method)
    if key not in _BASELINE:
        _BASELINE[key] = _call_with_fillers(store, attribute, method)
    return _BASELINE[key] == str(error)


def _diff(before: Any, after: Any, path: str = "") -> str:
    """Where two pictures first differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        return "; ".join(f"{path}/{k}: {_diff(before.get(k), after.get(k))}" for k in changed[:3])
    if isinstance(before, tuple) and isinstance(after, tuple) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new:
                return _diff(old, new, f"{path}/{index}")
    return f"{path}: {str(before)[:150]} -> {str(after)[:150]}"


def sweep(
    store: Store,
    attribute: str,
    method: str,
    tmp: Path,
    *,
    every_value: bool,
    raised: set[type[MlopsError]] | None = None,
) -> list[str]:
    """Every hostile value for every parameter of one method; the problems found (and the error
    classes the refusals raised, into ``raised``)."""
    problems = []
    for parameter in _parameters(store.client, attribute, method):
        values = hostile_values(str(parameter.annotation), parameter.default, tmp)
        if parameter.name in FREE_TEXT:  # prose may be empty where it is optional
            values = [dataclasses.replace(v, must_refuse=False) if v.kind == "blank" else v for v in values]
        if not every_value:
            values = list({value.kind: value for value in reversed(values)}.values())
        for hostile in values:
            outcome = call_once(store, attribute, method, parameter.name, hostile)
            if outcome.problem:
                problems.append(f"{outcome.call}: {outcome.problem}")
            if outcome.raised is not None and raised is not None:
                raised.add(outcome.raised)
    return problems


def documented_errors(attribute: str, method: str) -> set[type[MlopsError]]:
    """The error classes a method's docstring names (in ``Raises:`` or in prose)."""
    import importlib
    import re

    import mlops_sdk.errors

    module, class_name = _SUB_CLIENTS[attribute]
    function = inspect.unwrap(getattr(getattr(importlib.import_module(module), class_name), method))
    names = set(re.findall(r"\b([A-Z][A-Za-z]+Error)\b", inspect.getdoc(function) or ""))
    unknown = {name for name in names if not hasattr(mlops_sdk.errors, name)}
    assert not unknown, f"{class_name}.{method}'s docstring names errors the SDK does not have: {unknown}"
    return {getattr(mlops_sdk.errors, name) for name in names}


# -- tests -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def memory_store() -> Iterator[Store]:
    """One memory store for the whole sweep (each call compares it before and after)."""
    store = Store("memory://", None)
    _warm(store)
    yield store
    store.client.close()
    reset_memory_stores()


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One ``local://`` store for the whole sweep, in a folder that also holds the hostile input files
    (so a write beside the store, through ``../``, shows up too)."""
    root = tmp_path_factory.mktemp("adversarial")
    (root / "inputs").mkdir()
    store = Store(f"local://{root / 'store'}", root)
    _warm(store)
    yield store
    for endpoint in store.client.deployments.list_endpoints():  # a name the sweep created
        store.client.deployments.stop_endpoint(endpoint.name)
    store.client.close()


def _populate(store: Store, folder: Path) -> None:
    """Put one of everything in ``store`` (a trained run, model ``churn`` version 1 with alias
    ``champion``, a validation report, a pending approval request, refresh pipeline ``sales`` and a
    run of it, endpoint ``churn-api`` serving the model with capture on, logged inferences) and point
    the fillers at them, so that a hostile value meets real things in the other arguments and the
    call goes as deep as it can."""
    from mlops_sdk import Capture, Copy, RefreshPipeline, Replace
    from mlops_sdk.checks import MetricThreshold
    from mlops_sdk.testing.conformance.validation import _exact_model, _frame, _registered

    client = store.client
    version = _registered(client, folder, "churn")
    client.models.set_alias("churn", "champion", version.version)
    report = client.validation.validate(
        version, data=_frame(), checks=[MetricThreshold("rmse", max=1.0)], champion="champion"
    )
    request = client.approvals.request(version, policy={"approvers": ["alice"], "require_validation_passed": False})
    (folder / "sales.csv").write_text("a,b\n1,2\n3,4\n")
    client.data_factory.define(
        RefreshPipeline(name="sales", activities=[Copy(name="raw", source=str(folder / "sales.csv"))])
    )
    refresh = client.data_factory.begin_refresh("sales").result()
    (folder / "serve").mkdir()
    client.deployments.begin_deploy(
        _exact_model(folder / "serve"), endpoint="churn-api", deployment="blue", strategy=Replace(), capture=Capture()
    ).result()
    frame = _frame()[["a", "b"]]
    client.monitoring.log_inferences("churn-api", frame, predictions=[0.0] * len(frame))
    run_id = version.lineage.training_run_id if version.lineage else None
    store.fillers = {
        ("models", "name"): "churn",
        ("models", "version"): version.version,
        ("models", "run"): run_id,
        ("deployments", "name"): "churn-api",
        ("deployments", "endpoint"): "churn-api",
        ("deployments", "model"): "churn@1",
        ("deployments", "payload"): {"input_data": {"columns": ["a", "b"], "data": [[1.0, 0.0]]}},
        ("monitoring", "endpoint"): "churn-api",
        ("monitoring", "data"): frame,
        ("monitoring", "monitor"): {"endpoint": "churn-api", "signals": [{"kind": "data_drift"}]},
        ("validation", "model"): "churn@1",
        ("validation", "digest"): report.digest,
        ("validation", "data"): _frame(),
        ("validation", "checks"): [MetricThreshold("rmse", max=1.0)],
        ("approvals", "model"): "churn@1",
        ("approvals", "request_id"): request.id,
        ("approvals", "request"): request,
        ("data_factory", "name"): "sales",
        ("data_factory", "pipeline"): "sales",
        ("data_factory", "run_id"): refresh.run_id,
        ("training", "run_id"): run_id,
    }
    _warm(store)


@pytest.fixture(scope="module")
def populated_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A memory store holding one of everything (see :func:`_populate`)."""
    store = Store("memory://", None)
    store.name = "populated"
    _populate(store, tmp_path_factory.mktemp("populated"))
    yield store
    store.client.close()


@pytest.fixture(scope="module")
def populated_local_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A ``local://`` store holding one of everything (see :func:`_populate`); its endpoint is stopped after."""
    root = tmp_path_factory.mktemp("populated-local")
    (root / "inputs").mkdir()
    store = Store(f"local://{root / 'store'}", root)
    store.name = "populated-local"
    try:
        _populate(store, root / "inputs")
        yield store
    finally:
        for endpoint in store.client.deployments.list_endpoints():
            store.client.deployments.stop_endpoint(endpoint.name)
        store.client.close()


def test_every_public_method_is_swept_or_listed() -> None:
    """A public method added to a client is swept unless it is listed here with a reason."""
    names = {method for _, method in METHODS}
    assert not set(NOT_SWEPT) - names, "NOT_SWEPT names a method that no longer exists"
    for attribute, method in METHODS:
        client_class = _SUB_CLIENTS[attribute][1]
        if method in NOT_SWEPT:
            continue
        assert (attribute, method) in SWEPT, f"{client_class}.{method} is neither swept nor in NOT_SWEPT"
    import importlib

    for attribute, method in METHODS:
        cls = getattr(importlib.import_module(_SUB_CLIENTS[attribute][0]), _SUB_CLIENTS[attribute][1])
        parameters = [p for p in inspect.signature(getattr(cls, method)).parameters if p != "self"]
        if method in NOT_SWEPT:
            assert not parameters, f"{cls.__name__}.{method} takes arguments: sweep it instead of listing it"
        else:  # every swept method gets at least one parameter attacked
            assert set(parameters) - UNSWEPT_PARAMETERS, f"{cls.__name__}.{method} has no parameter the sweep attacks"
    assert len(SWEPT) >= 60


@pytest.mark.parametrize(("attribute", "method"), SWEPT, ids=[f"{a}.{m}" for a, m in SWEPT])
def test_memory_refuses_hostile_arguments_cleanly(
    memory_store: Store, attribute: str, method: str, tmp_path: Path
) -> None:
    """Every hostile value; then the errors the refusals raised are the ones the docstring names
    (a bad argument's ConfigurationError is every method's, docs/errors.md)."""
    raised: set[type[MlopsError]] = set()
    problems = sweep(memory_store, attribute, method, tmp_path, every_value=True, raised=raised)
    assert not problems, "\n".join(problems)
    _check_documented(attribute, method, raised)


def _check_documented(attribute: str, method: str, raised: set[type[MlopsError]]) -> None:
    """The refusals raised only errors the docstring names (or ConfigurationError, every method's)."""
    documented = documented_errors(attribute, method)
    if documented:
        undocumented = {
            cls.__name__
            for cls in raised
            if not issubclass(cls, ConfigurationError)
            and not any(issubclass(cls, named) or issubclass(named, cls) for named in documented)
        }
        assert not undocumented, f"{attribute}.{method} raised {undocumented}; its docstring names {documented}"


DEPTHS = [
    pytest.param(False, id="one-per-kind"),
    pytest.param(True, id="every-value", marks=pytest.mark.soak),
]
"""CI sends one hostile value per kind; ``nox -s soak`` sends every one."""


@pytest.mark.parametrize("every_value", DEPTHS)
@pytest.mark.parametrize(("attribute", "method"), SWEPT, ids=[f"{a}.{m}" for a, m in SWEPT])
def test_populated_memory_refuses_hostile_arguments_cleanly(
    populated_store: Store, attribute: str, method: str, tmp_path: Path, every_value: bool
) -> None:
    """Hostile values with the other arguments naming things that exist."""
    raised: set[type[MlopsError]] = set()
    problems = sweep(populated_store, attribute, method, tmp_path, every_value=every_value, raised=raised)
    assert not problems, "\n".join(problems)
    _check_documented(attribute, method, raised)


@pytest.mark.parametrize("every_value", DEPTHS)
@pytest.mark.parametrize(("attribute", "method"), SWEPT, ids=[f"{a}.{m}" for a, m in SWEPT])
def test_local_refuses_hostile_arguments_cleanly(
    local_store: Store, attribute: str, method: str, every_value: bool
) -> None:
    assert local_store.root is not None
    problems = sweep(local_store, attribute, method, local_store.root / "inputs", every_value=every_value)
    assert not problems, "\n".join(problems)


# -- random values (hypothesis) ----------------------------------------------------------------------

_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=12),
    st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3),
)
_TARGETS = [
    (attribute, method, parameter.name)
    for attribute, method in SWEPT
    for parameter in inspect.signature(
        getattr(__import__(_SUB_CLIENTS[attribute][0], fromlist=["_"]), _SUB_CLIENTS[attribute][1]).__dict__[method]
    ).parameters.values()
    if parameter.name not in UNSWEPT_PARAMETERS | {"self"}
]


def _fuzz(store: Store, target: tuple[str, str, str], value: Any) -> None:
    attribute, method, parameter = target
    outcome = call_once(store, attribute, method, parameter, Hostile("random", value, "fuzz", must_refuse=False))
    assert outcome.problem is None, f"{outcome.call} with {value!r:.120}: {outcome.problem}"


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(target=st.sampled_from(_TARGETS), value=_ANY_VALUE)
def test_random_values_never_escape_the_error_tree(
    memory_store: Store, target: tuple[str, str, str], value: Any
) -> None:
    """Any value for any parameter: a result, or an MlopsError that leaves the store as it was."""
    _fuzz(memory_store, target, value)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(target=st.sampled_from(_TARGETS), value=_ANY_VALUE)
def test_random_values_against_real_things_never_escape_the_error_tree(
    populated_store: Store, target: tuple[str, str, str], value: Any
) -> None:
    """The same with the other arguments naming a real model, run, request, pipeline and endpoint."""
    _fuzz(populated_store, target, value)


@pytest.mark.soak
@settings(max_examples=3000, deadline=None, database=None)
@given(target=st.sampled_from(_TARGETS), value=_ANY_VALUE)
def test_soak_random_values_on_local(local_store: Store, target: tuple[str, str, str], value: Any) -> None:
    """The same on ``local://``, with many more (unseeded) examples."""
    _fuzz(local_store, target, value)


# -- the hub: targets and continuation tokens ----------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [1, ["local://x"], "", "   ", "bogus://x", "memory://a b", "azureml://x", "local://a\x00b", "local://a\nb"],
    ids=repr,
)
def test_a_bad_target_is_a_configuration_error(target: Any) -> None:
    with pytest.raises(ConfigurationError) as caught, MLOpsClient(target) as client:
        list(client.models.list_models())
    message = str(caught.value)
    assert "target" in message or "scheme" in message or caught.value.details.get("field") == "target"


def test_a_store_folder_that_cannot_exist_is_a_configuration_error(tmp_path: Path) -> None:
    """A file where the store folder should be: refused naming the folder, and the file is untouched."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError) as caught, MLOpsClient(f"local://{blocker / 'store'}") as client:
        list(client.models.list_models())
    assert str(blocker / "store") in str(caught.value)
    assert caught.value.details["field"] == "target"
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("token", [None, 1, "", "garbage", "{}", '{"kind": "x"}', b"x", "../x", "\x00"], ids=repr)
def test_a_bad_continuation_token_is_a_configuration_error(memory_store: Store, token: Any) -> None:
    before = memory_store.picture()
    with pytest.raises(ConfigurationError, match="continuation token"):
        memory_store.client.resume_operation(token)
    assert memory_store.picture() == before


# -- constructors and operations -------------------------------------------------------------------


def _constructor_cases(tmp: Path) -> list[tuple[str, dict[str, Any]]]:
    garbage = tmp / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe\x00 not toml")
    return [
        ("settings", {"settings": 3}),
        ("settings", {"settings": ["data_factory"]}),
        ("profile", {"profile": 3}),
        ("profile", {"profile": " "}),
        ("clock", {"clock": "now"}),
        ("config_file", {"config_file": 3}),
        ("config_file", {"config_file": str(tmp)}),  # a folder
        ("config_file", {"config_file": str(garbage)}),  # not UTF-8
    ]


@pytest.mark.parametrize("client_name", ["MLOpsClient", *sorted(class_name for _, class_name in _SUB_CLIENTS.values())])
def test_client_constructors_refuse_bad_arguments(client_name: str, tmp_path: Path) -> None:
    """``MLOpsClient(...)`` and every standalone client refuse a bad argument naming it (the config
    file by its path); never a TypeError or IsADirectoryError."""
    import mlops_sdk

    cls = getattr(mlops_sdk, client_name)
    for field, keywords in _constructor_cases(tmp_path):
        if client_name == "MLOpsClient" and field == "settings":
            continue  # MLOpsClient takes settings as keywords (checked by the configuration)
        with pytest.raises(ConfigurationError) as caught:
            cls("memory://", **keywords).close()
        named = field in str(caught.value) or str(keywords[field]) in str(caught.value)
        assert named, f"{client_name}({keywords}): {caught.value}"


@pytest.mark.parametrize("timeout", ["10", math.nan, math.inf, -1, True, [1]], ids=repr)
def test_operation_waits_refuse_a_bad_timeout(tmp_path: Path, timeout: Any) -> None:
    """``Operation.wait`` / ``result`` take ``None`` or a finite number of seconds >= 0, also once done."""
    from mlops_sdk import Copy, RefreshPipeline

    (tmp_path / "a.csv").write_text("a\n1\n")
    with MLOpsClient("memory://", show_progress=False, clock=FakeClock()) as client:
        client.data_factory.define(
            RefreshPipeline(name="s", activities=[Copy(name="raw", source=str(tmp_path / "a.csv"))])
        )
        operation = client.data_factory.begin_refresh("s")
        for method in (operation.wait, operation.result):
            with pytest.raises(ConfigurationError, match="timeout") as caught:
                method(timeout=timeout)
            assert caught.value.details["field"] == "timeout"
        assert operation.result(timeout=0).status.value == "Succeeded"


def test_the_argument_errors_docs_errors_md_shows(memory_store: Store) -> None:
    """The messages docs/errors.md prints, word for word, and the field they carry."""
    models = memory_store.client.models
    with pytest.raises(ConfigurationError) as caught:
        models.get("churn", None)  # type: ignore[arg-type]
    assert str(caught.value) == "ModelClient.get: version must be a string or an integer, got NoneType None"
    assert caught.value.details["field"] == "version"
    with pytest.raises(ConfigurationError) as caught:
        models.get("churn", 1, verison=2)  # type: ignore[call-arg]
    assert str(caught.value) == "ModelClient.get got an unknown keyword 'verison'; did you mean `version`?"
    assert caught.value.details["field"] == "verison"


@pytest.mark.soak
@pytest.mark.parametrize(("attribute", "method"), SWEPT, ids=[f"{a}.{m}" for a, m in SWEPT])
def test_soak_populated_local_every_hostile_value(populated_local_store: Store, attribute: str, method: str) -> None:
    """Every hostile value on a ``local://`` store holding real models, runs, requests and a served endpoint."""
    assert populated_local_store.root is not None
    raised: set[type[MlopsError]] = set()
    inputs = populated_local_store.root / "inputs"
    problems = sweep(populated_local_store, attribute, method, inputs, every_value=True, raised=raised)
    assert not problems, "\n".join(problems)
    _check_documented(attribute, method, raised)


def test_a_deployment_name_outside_the_rule_is_refused_by_every_method_taking_one(memory_store: Store) -> None:
    """``deployment=`` names a deployment everywhere; the local endpoint also sends it as an HTTP header,
    where a non-ASCII name used to crash ``invoke`` with UnicodeEncodeError."""
    takers = [(a, m) for a, m, p in _TARGETS if p == "deployment"]
    assert len(takers) >= 5
    for attribute, method in takers:
        for name in ("m\u00f6d\u00e8l-\u2713", "has space", "-dash"):
            outcome = call_once(memory_store, attribute, method, "deployment", Hostile("bad", name, "rule"))
            assert outcome.raised is ConfigurationError, (outcome, name)


@pytest.mark.parametrize("which", ["memory_store", "local_store"])
def test_the_store_picture_sees_a_write(request: pytest.FixtureRequest, which: str) -> None:
    """The before/after comparison the sweep relies on notices one new record and one new file."""
    from mlops_sdk import Copy, RefreshPipeline

    store: Store = request.getfixturevalue(which)
    before = store.picture()
    pipeline = RefreshPipeline(name=f"picture-{which.replace('_', '-')}", activities=[Copy(name="raw", source="x.csv")])
    store.client.data_factory.define(pipeline)
    assert store.picture() != before
    if store.root is not None:
        before = store.picture()
        (store.root / "store" / "stray.tmp").write_text("half")
        assert store.picture() != before
        (store.root / "store" / "stray.tmp").unlink()


@pytest.mark.parametrize(("attribute", "method"), SWEPT, ids=[f"{a}.{m}" for a, m in SWEPT])
def test_a_call_that_does_not_fit_the_signature_is_a_configuration_error(
    memory_store: Store, attribute: str, method: str
) -> None:
    """No arguments where some are required, or an unknown keyword: ConfigurationError naming the
    parameter (Python's TypeError before), and nothing changes."""
    function = getattr(getattr(memory_store.client, attribute), method)
    required = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    before = memory_store.picture()
    if required:
        with pytest.raises(ConfigurationError) as caught:
            function()
        assert caught.value.details["field"] == required[0], caught.value
    with pytest.raises(ConfigurationError) as caught:
        function(no_such_keyword=1)  # an unknown keyword is named first, whatever else is missing
    assert caught.value.details["field"] == "no_such_keyword"
    assert memory_store.picture() == before
