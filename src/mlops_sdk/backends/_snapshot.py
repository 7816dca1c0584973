"""Code snapshots: the files of a training ``code`` folder that are sent to (or copied for) a run.

Rules, shared by both backends so a job sees the same files locally and on Azure ML:

* ``.amlignore`` in a folder wins over ``.gitignore`` in the same folder (Azure ML's own rule);
  patterns are matched by `pathspec <https://pypi.org/project/pathspec/>`_ with git's own rules
  (``!`` negation, trailing ``/`` for folders only, a ``/`` anchoring to the ignore file's folder,
  ``**``, character classes, escapes) and apply to the folder they are in and below; as in git, the
  last matching pattern wins, a deeper ignore file's patterns come after its parents', and a file
  inside an ignored folder cannot be re-included;
* virtualenvs (any folder holding ``pyvenv.cfg``), ``.git``, caches (``__pycache__``, ``.pytest_cache``,
  ``.mypy_cache``, ``.ruff_cache``, ``.ipynb_checkpoints``, ``.tox``, ``.nox``), ``node_modules``,
  ``mlruns``, ``.mlops`` and ``*.pyc`` are always skipped;
* a snapshot larger than :data:`WARN_BYTES` is logged as a warning naming the biggest files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from pathspec import RegexPattern as Pattern


@dataclass(frozen=True)
class _IgnoreFile:
    """The patterns of one ``.amlignore`` / ``.gitignore``, compiled by pathspec.

    Git decides each path on its own as the walk reaches it: the last pattern matching the path wins,
    a folder-only pattern (``build/``) matches folders only, and an ignored folder is not entered.
    pathspec's compiled patterns also match everything inside a folder they name (its ``ps_d``
    group); the walk has already decided those folders, so only a match of the path itself counts.
    """

    base: str  # its folder relative to the code root (posix), "" for the root
    patterns: tuple[tuple[Pattern, bool], ...]  # (pattern with any folder-only slash dropped, folder-only)

    @classmethod
    def read(cls, path: Path, base: str) -> _IgnoreFile:
        """Compile ``path``; a line git cannot parse is skipped with a warning, as git skips it."""
        from pathspec import GitIgnoreSpec

        patterns: list[tuple[Pattern, bool]] = []
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            folder_only = line.rstrip().endswith("/")
            bare = line.rstrip()[:-1] if folder_only else line
            try:
                GitIgnoreSpec.from_lines([line])  # the line as written must be valid too
                compiled = GitIgnoreSpec.from_lines([bare]).patterns
            except ValueError as error:
                _log.warning("%s line %d: %r is not a valid pattern, skipped: %s", path, number, line, error)
                continue
            patterns.extend((pattern, folder_only) for pattern in compiled if pattern.include is not None)
        return cls(base, tuple(patterns))

    def verdict(self, rel: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by a ``!`` pattern) or None (no pattern here matches)."""
        if self.base:
            if not rel.startswith(self.base + "/"):
                return None
            rel = rel[len(self.base) + 1 :]
        verdict = None
        for pattern, folder_only in self.patterns:
            if folder_only and not is_dir:
                continue
            match = pattern.regex.search(rel) if pattern.regex is not None else None
            if match is not None and match.groupdict().get("ps_d") is None:
                verdict = pattern.include
        return verdict


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


def _ignored(rules: list[_IgnoreFile], rel: str, is_dir: bool) -> bool:
    """Git's verdict for ``rel``: the last matching pattern wins, deeper ignore files coming later."""
    verdict = False
    for rule in rules:
        found = rule.verdict(rel, is_dir)
        if found is not None:
            verdict = found
    return verdict


def _ignore_file(folder: Path) -> Path | None:
    for name in (".amlignore", ".gitignore"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _require_pathspec() -> None:
    if importlib.util.find_spec("pathspec") is None:
        raise ConfigurationError(
            "snapshotting training code needs pathspec, which is not installed. Run: pip install "
            "'mlops-sdk[local]' (or 'mlops-sdk[azure]'; both include it)",
            details={"missing": ["pathspec"]},
        )


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
    _require_pathspec()
    rules: list[_IgnoreFile] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel_here = here.relative_to(root).as_posix()
        rel_here = "" if rel_here == "." else rel_here
        ignore_file = _ignore_file(here)
        if ignore_file is not None:
            rules = [*rules, _IgnoreFile.read(ignore_file, rel_here)]
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
