"""Warm start of local training commands (used by ``_supervisor.py``; stdlib only at import).

A command of the plain form ``python script.py args...`` or ``python -m module args...`` (no shell
syntax, no ``PYTHON*`` variables that only take effect at interpreter start-up) is run in a forked
copy of the supervisor after the supervisor imported MLflow, instead of a fresh interpreter: the
script's own ``import mlflow`` is then free, which saves about a second and a half per run. It behaves
like ``python script.py``: ``__name__ == "__main__"``, ``sys.argv``, ``sys.path[0]`` = the script's
folder, the working directory, environment, stdout/stderr and the exit code are the same, and the
process leads its own process group so cancel and timeout work unchanged. Any other command is
started with ``/bin/sh -c`` as before.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FLAVOR_MODULES",
    "MODEL_MODULES",
    "WarmTarget",
    "import_modules",
    "model_modules",
    "paused_gc",
    "preload",
    "preload_more",
    "run_forked",
    "script_packages",
    "warm_target",
]

_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\n*?\[\]{}~#]")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass(frozen=True)
class WarmTarget:
    """What to run in-process: a script path or a module name, with its arguments."""

    script: Path | None
    module: str | None
    args: tuple[str, ...]


def warm_target(command: str, cwd: Path, env: Mapping[str, str]) -> WarmTarget | None:
    """The in-process form of ``command``, or ``None`` when it must run in a fresh interpreter."""
    if os.name != "posix" or _SHELL_SYNTAX.search(command):
        return None
    if any(name.startswith("PYTHON") and name != "PYTHONUNBUFFERED" for name in env):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 2 or not (_PYTHON.match(Path(words[0]).name) or words[0] == sys.executable):
        return None
    if words[1] == "-m" and len(words) >= 3 and re.fullmatch(r"[A-Za-z_][\w.]*", words[2]):
        return WarmTarget(script=None, module=words[2], args=tuple(words[3:]))
    if words[1].startswith("-") or not words[1].endswith(".py"):
        return None
    script = (cwd / words[1]).resolve()
    return WarmTarget(script=script, module=None, args=tuple(words[2:])) if script.is_file() else None


# What saving or loading an MLflow model imports beyond MLflow itself: the MLmodel reader, pyfunc, and
# per flavor (keyed by the library's import name) the flavor module and what it loads lazily; MLflow 3
# saves scikit-learn models in the skops format.
MODEL_MODULES = ("mlflow.models", "mlflow.pyfunc")
FLAVOR_MODULES = {"sklearn": ("mlflow.sklearn", "sklearn.base", "skops.io")}


def model_modules(packages: Iterable[str]) -> list[str]:
    """The modules saving or loading a model built with ``packages`` (import names) needs."""
    tops = {name.split(".")[0] for name in packages}
    flavors = [module for flavor, modules in FLAVOR_MODULES.items() if flavor in tops for module in modules]
    return [*MODEL_MODULES, *flavors]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The garbage collector off for a bulk import, then back as it was.

    Importing MLflow or scikit-learn allocates hundreds of thousands of objects that live as long as
    the process; each time enough pile up the collector walks every tracked object (0.05-0.25 s a
    pass, several passes per import) and finds next to nothing to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_modules(names: Iterable[str], *, stop: Callable[[], bool] | None = None) -> list[str]:
    """Import each module that is installed and not imported yet, quietly; returns what was imported.

    A module that fails to import is skipped (whoever needs it imports it and reports the error with
    context). ``stop`` is asked before each import; when it says True the rest is left.
    """
    import importlib
    import importlib.util
    import warnings

    loaded = []
    with warnings.catch_warnings(), paused_gc():
        warnings.simplefilter("ignore")
        for name in dict.fromkeys(names):
            if name in sys.modules:
                continue
            if stop is not None and stop():
                break
            try:
                if importlib.util.find_spec(name.split(".")[0]) is None:
                    continue
                importlib.import_module(name)
            except Exception:  # noqa: S112 - see the docstring
                continue
            loaded.append(name)
    return loaded


def script_packages(target: WarmTarget) -> list[str]:
    """The modules a script imports (``import``/``from`` statements anywhere), except the job's own code."""
    if target.script is None:
        return []
    code_dir = target.script.parent
    return [name for name in _imported_packages(target.script) if not _is_local(name, code_dir)]


def uses_mlflow(target: WarmTarget) -> bool:
    """Whether the command may use MLflow: a script importing it, or a module we cannot read."""
    if target.script is None:
        return True
    return any(name.split(".")[0] == "mlflow" for name in script_packages(target))


def warm_modules(target: WarmTarget) -> list[str]:
    """What :func:`preload` imports: MLflow if the script uses it, and the packages the script imports.

    A script that never imports MLflow (a data preparation step, say) does not pay for importing it.
    """
    packages = script_packages(target)
    return ["mlflow", *packages] if uses_mlflow(target) else packages


def preload(target: WarmTarget) -> list[str]:
    """Import MLflow (hence numpy and pandas) when the script uses it, and the installed packages it imports.

    Modules are read from the script's ``import`` statements (anywhere in the file); modules of the
    job's own code folder are never imported here, and a package that fails to import is skipped
    (the script then imports it itself and reports the error as usual). Returns what was imported.
    The garbage collector is left off: :func:`run_forked` freezes what was imported and turns it
    back on (call this in the supervisor only).
    """
    gc.disable()
    return import_modules(warm_modules(target))


def preload_more(target: WarmTarget, env: Mapping[str, str], *, stop: Callable[[], bool]) -> list[str]:
    """What the script's first MLflow calls import, for as long as ``stop()`` says the run is not there yet.

    That is MLflow's SQL tracking store (when the tracking URI is a database) and the model modules
    of the flavors the script imports (:func:`model_modules`). Everything here is what the script
    would import itself, so the time is never lost, only moved ahead of the fork.
    """
    if not uses_mlflow(target):
        return []
    names = []
    if env.get("MLFLOW_TRACKING_URI", "").startswith(("sqlite:", "postgresql", "mysql", "mssql")):
        names.append("mlflow.store.tracking.sqlalchemy_store")
    names += model_modules(script_packages(target))
    return import_modules(names, stop=stop)


def _imported_packages(script: Path) -> list[str]:
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [name for name in names if name.split(".")[0] not in sys.builtin_module_names]


def _is_local(name: str, code_dir: Path) -> bool:
    top = name.split(".")[0]
    return (code_dir / f"{top}.py").exists() or (code_dir / top).is_dir()


def run_forked(target: WarmTarget, *, cwd: Path, env: Mapping[str, str], stdout: int, stderr: int) -> int:
    """Fork; the child runs ``target`` as ``__main__`` and never returns. Returns the child's pid.

    The garbage collector follows the pattern the ``gc`` documentation gives for forking servers:
    disabled while preloading (``preload`` and ``preload_more`` leave it off), everything imported
    so far frozen right before the fork (the collector then never scans those objects again, and
    the child does not copy their pages by touching them), and enabled again in the child.
    """
    gc.freeze()
    pid = os.fork()
    if pid:
        gc.enable()
        return pid
    gc.enable()
    code = 1
    try:
        os.setsid()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        code = _run(target)
    except BaseException:  # the child must never fall back into the supervisor's code
        import traceback

        traceback.print_exc()
    finally:
        _exit(code)
    raise AssertionError("unreachable")  # pragma: no cover


def _run(target: WarmTarget) -> int:
    import runpy

    try:
        if target.script is not None:
            sys.argv = [str(target.script), *target.args]
            sys.path[0] = str(target.script.parent)
            runpy.run_path(str(target.script), run_name="__main__")
        else:
            assert target.module is not None
            sys.argv = [target.module, *target.args]
            sys.path[0] = str(Path.cwd())
            runpy.run_module(target.module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    except BaseException as error:
        _print_user_traceback(error, runpy.__file__)
        return 1
    return 0


def _print_user_traceback(error: BaseException, runpy_file: str) -> None:
    """Print the traceback as ``python script.py`` would: starting at the script, not at this module."""
    import traceback

    frames = error.__traceback__
    ours = (__file__, runpy_file, "<frozen runpy>")
    while frames is not None and frames.tb_frame.f_code.co_filename in ours:
        frames = frames.tb_next
    traceback.print_exception(type(error), error, frames)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # what `python` prints for sys.exit("message")
    return 1


def _exit(code: int) -> None:
    import atexit

    try:
        atexit._run_exitfuncs()  # what interpreter shutdown would run (MLflow ends an open run here)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream must not keep the child alive
                stream.flush()
        os._exit(code & 0xFF)
