"""Code snapshots: the files of a training ``code`` folder that are sent to (or copied for) a run.

Rules, shared by both backends so a job sees the same files locally and on Azure ML:

* ``.amlignore`` in a folder wins over ``.gitignore`` in the same folder (Azure ML's own rule);
  patterns follow gitignore syntax (``!`` negation, trailing ``/``, leading ``/``, ``**``) and apply
  to the folder they are in and below;
* virtualenvs (any folder holding ``pyvenv.cfg``), ``.git``, caches (``__pycache__``, ``.pytest_cache``,
  ``.mypy_cache``, ``.ruff_cache``, ``.ipynb_checkpoints``, ``.tox``, ``.nox``), ``node_modules``,
  ``mlruns``, ``.mlops`` and ``*.pyc`` are always skipped;
* a snapshot larger than :data:`WARN_BYTES` is logged as a warning naming the biggest files.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger

__all__ = ["ALWAYS_SKIPPED", "WARN_BYTES", "CodeSnapshot", "collect_snapshot", "copy_snapshot"]

WARN_BYTES = 100 * 2**20
ALWAYS_SKIPPED = frozenset(
    {
        ".git",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".tox",
        ".nox",
        "node_modules",
        "mlruns",
        ".mlops",
        ".venv",
        "venv",
        ".hg",
        ".svn",
    }
)
_log = get_logger(__name__)


@dataclass(frozen=True)
class _Rule:
    base: str  # folder (relative, posix, "" for the root) the ignore file lives in
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


@dataclass
class CodeSnapshot:
    """The files selected from a code folder.

    Attributes:
        root: The code folder.
        files: Selected files, relative to ``root``.
        total_bytes: Their total size.
    """

    root: Path
    files: list[Path] = field(default_factory=list)
    total_bytes: int = 0


def _translate(pattern: str) -> str:
    """gitignore glob -> regex over a relative posix path."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def _parse(text: str, base: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        rules.append(_Rule(base, regex, negate, dir_only))
    return rules


def _ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    verdict = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        if rule.base:
            if not rel.startswith(rule.base + "/"):
                continue
            candidate = rel[len(rule.base) + 1 :]
        else:
            candidate = rel
        if rule.regex.match(candidate):
            verdict = not rule.negate
    return verdict


def _ignore_file(folder: Path) -> Path | None:
    for name in (".amlignore", ".gitignore"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def collect_snapshot(code: Path, *, exclude: Iterable[Path] = ()) -> CodeSnapshot:
    """Select the files of ``code`` a run gets (see the module docstring for the rules).

    Args:
        code: The code folder.
        exclude: Absolute folders never to include (the local store when it sits inside ``code``).

    Raises:
        ConfigurationError: ``code`` is not a folder.
    """
    root = Path(code)
    if not root.is_dir():
        raise ConfigurationError(
            f"code folder {root} does not exist or is not a folder; set TrainingJob.code to the folder "
            "holding your training script",
            details={"field": "code", "value": str(root)},
        )
    root = root.resolve()
    skip = {Path(path).resolve() for path in exclude}
    snapshot = CodeSnapshot(root=root)
    rules: list[_Rule] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel_here = here.relative_to(root).as_posix()
        rel_here = "" if rel_here == "." else rel_here
        ignore_file = _ignore_file(here)
        if ignore_file is not None:
            rules = [*rules, *_parse(ignore_file.read_text(encoding="utf-8", errors="replace"), rel_here)]
        kept_dirs = []
        for name in sorted(dirs):
            path = here / name
            rel = f"{rel_here}/{name}" if rel_here else name
            if name in ALWAYS_SKIPPED or (path / "pyvenv.cfg").exists() or path.resolve() in skip:
                continue
            if path.is_symlink() or _ignored(rules, rel, True):
                continue
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(files):
            rel = f"{rel_here}/{name}" if rel_here else name
            if name.endswith((".pyc", ".pyo")) or _ignored(rules, rel, False):
                continue
            path = here / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            snapshot.files.append(Path(rel))
            snapshot.total_bytes += size
    if snapshot.total_bytes > WARN_BYTES:
        biggest = sorted(snapshot.files, key=lambda rel: (root / rel).stat().st_size, reverse=True)[:3]
        _log.warning(
            "code snapshot of %s is %.0f MiB (%d files); the biggest: %s. Add data, models and outputs "
            "to .amlignore or .gitignore",
            root,
            snapshot.total_bytes / 2**20,
            len(snapshot.files),
            ", ".join(str(p) for p in biggest),
        )
    return snapshot


def copy_snapshot(code: Path, destination: Path, *, exclude: Iterable[Path] = ()) -> CodeSnapshot:
    """Copy the selected files of ``code`` into ``destination`` (created; must not exist yet)."""
    snapshot = collect_snapshot(code, exclude=exclude)
    destination.mkdir(parents=True, exist_ok=False)
    for rel in snapshot.files:
        target = destination / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(snapshot.root / rel, target)
    return snapshot
