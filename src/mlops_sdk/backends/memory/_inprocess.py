"""Run a training command's Python script inside this process, with MLflow's fluent logging captured.

While the script runs, ``import mlflow`` gives a small recorder module (``log_metric(s)``,
``log_param(s)``, ``set_tag(s)``, ``start_run``/``end_run``/``active_run``) so metrics land in the
memory backend instead of a tracking store. Only one script runs at a time (the working folder,
``sys.argv`` and ``sys.modules`` are process-wide).
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import shlex
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["ScriptResult", "run_script"]

_RUN_LOCK = threading.Lock()
_PYTHONS = {"python", "python3", Path(sys.executable).name}


@dataclass
class ScriptResult:
    """What one in-process script run produced."""

    exit_code: int
    lines: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class _LineWriter(io.TextIOBase):
    """A text stream handing each complete line to a callback."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._on_line(line)
        return len(text)

    def flush_rest(self) -> None:
        if self._buffer:
            self._on_line(self._buffer)
            self._buffer = ""


def _recorder(result: ScriptResult) -> types.ModuleType:
    module = types.ModuleType("mlflow", "In-process stand-in for mlflow's fluent logging (memory backend).")

    def log_metric(key: str, value: float, step: int | None = None, **_: Any) -> None:
        result.metrics[str(key)] = float(value)

    def log_metrics(metrics: Mapping[str, float], step: int | None = None, **_: Any) -> None:
        for key, value in metrics.items():
            log_metric(key, value)

    def log_param(key: str, value: Any, **_: Any) -> Any:
        result.params[str(key)] = str(value)
        return value

    def log_params(params: Mapping[str, Any], **_: Any) -> None:
        for key, value in params.items():
            log_param(key, value)

    def set_tag(key: str, value: Any, **_: Any) -> None:
        result.tags[str(key)] = str(value)

    def set_tags(tags: Mapping[str, Any], **_: Any) -> None:
        for key, value in tags.items():
            set_tag(key, value)

    @contextlib.contextmanager
    def start_run(*_: Any, **__: Any) -> Iterator[None]:
        yield None

    def nothing(*_: Any, **__: Any) -> None:
        return None

    def missing(name: str) -> Any:
        raise AttributeError(
            f"mlflow.{name} is not available to scripts run by the memory backend (only log_metric(s), "
            "log_param(s), set_tag(s), start_run, end_run, active_run); write the model folder yourself "
            "or test this script on local://"
        )

    for name, function in {
        "log_metric": log_metric,
        "log_metrics": log_metrics,
        "log_param": log_param,
        "log_params": log_params,
        "set_tag": set_tag,
        "set_tags": set_tags,
        "start_run": start_run,
        "end_run": nothing,
        "active_run": nothing,
        "autolog": nothing,
    }.items():
        setattr(module, name, function)
    module.__getattr__ = missing  # type: ignore[method-assign]
    return module


def script_argv(command: str, code: Path) -> list[str]:
    """``python script.py ARGS`` -> ``[<code>/script.py, ARGS...]``; anything else is refused."""
    argv = shlex.split(command)
    if len(argv) < 2 or Path(argv[0]).name not in _PYTHONS or argv[1].startswith("-"):
        raise ConfigurationError(
            f"the memory backend runs commands of the form 'python SCRIPT.py ARGS' in-process; got {command!r}. "
            "Run other commands on local://",
            details={"field": "command"},
        )
    script = (code / argv[1]).resolve()
    if not script.is_file():
        raise ConfigurationError(
            f"script {argv[1]!r} not found in the code folder {code}", details={"field": "command"}
        )
    return [str(script), *argv[2:]]


def run_script(argv: list[str], *, cwd: Path, env: Mapping[str, str], on_line: Callable[[str], None]) -> ScriptResult:
    """Run ``argv[0]`` as ``__main__`` with ``sys.argv = argv`` in ``cwd``; never raises for the script's errors."""
    result = ScriptResult(exit_code=0)

    def line(text: str) -> None:
        result.lines.append(text)
        on_line(text)

    writer = _LineWriter(line)
    with _RUN_LOCK:
        saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), Path.cwd()
        saved_env = {key: os.environ.get(key) for key in env}
        saved_mlflow = {
            name: module for name, module in sys.modules.items() if name == "mlflow" or name.startswith("mlflow.")
        }
        for name in saved_mlflow:
            del sys.modules[name]
        sys.modules["mlflow"] = _recorder(result)
        try:
            sys.argv = list(argv)
            sys.path.insert(0, str(cwd))
            os.chdir(cwd)
            os.environ.update(env)
            with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
                try:
                    runpy.run_path(argv[0], run_name="__main__")
                except SystemExit as exit_:
                    code = exit_.code
                    if code is None:
                        result.exit_code = 0
                    elif isinstance(code, int):
                        result.exit_code = code
                    else:
                        print(code, file=sys.stderr)
                        result.exit_code = 1
                except Exception:
                    traceback.print_exc()
                    result.exit_code = 1
            writer.flush_rest()
        finally:
            sys.argv = saved_argv
            sys.path[:] = saved_path
            os.chdir(saved_cwd)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            sys.modules.pop("mlflow", None)
            sys.modules.update(saved_mlflow)
    return result
