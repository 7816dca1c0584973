"""``mlops init [FOLDER]``: write a small working project that runs the README's "A first look".

The files are package data (``mlops_sdk/cli/templates/<example>/``); ``*.tmpl`` loses its suffix,
``gitignore`` becomes ``.gitignore``, and ``approvals.toml`` names the account running ``init`` as
the local approver. The sample data is scikit-learn's bundled diabetes set, written locally (no
download). Existing files are never overwritten unless ``--force`` (an existing ``README.md`` or
``.gitignore`` is kept and reported, not a conflict). Every file is first written to a temporary
name beside its destination and the files are renamed only once all were written, so a failed or
interrupted ``init`` leaves no half-written file and no partial project; a FOLDER that is a file (or
lies under one) is refused before anything is written.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlops_sdk.cli.output import state
from mlops_sdk.core.errors import ConfigurationError

__all__ = ["EXAMPLES", "init", "project_files"]

EXAMPLES = ("diabetes",)
DATA_FILE = "data/diabetes.csv"
_RENAMES = {"gitignore": ".gitignore"}
KEEP_IF_PRESENT = frozenset({"README.md", ".gitignore"})
"""Files of the folder's own that ``init`` leaves alone (not a conflict): a repository's README and ignores."""


def project_files(example: str, approver: str) -> dict[str, str]:
    """The text files of ``example`` by relative path, with the approver filled in."""
    if example not in EXAMPLES:
        raise ConfigurationError(
            f"unknown example {example!r} for --from-example; available: {', '.join(EXAMPLES)}",
            details={"field": "--from-example"},
        )
    folder = resources.files("mlops_sdk.cli") / "templates" / example
    files: dict[str, str] = {}
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not item.is_file():
            continue
        name = _RENAMES.get(item.name, item.name.removesuffix(".tmpl"))
        files[name] = item.read_text(encoding="utf-8").replace("@@APPROVER@@", approver)
    return files


def _diabetes_csv() -> str:
    """scikit-learn's bundled diabetes data (442 rows, 10 features + target) with a ``row_id`` column."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError as error:
        raise ConfigurationError(
            'mlops init writes its sample data with scikit-learn: pip install "mlops-sdk[local]"',
            details={"missing": "scikit-learn"},
        ) from error
    frame = load_diabetes(as_frame=True).frame
    frame.insert(0, "row_id", range(len(frame)))
    text: str = frame.to_csv(index=False, float_format="%.6f")
    return text


def _check_folder(root: Path, names: list[str]) -> None:
    """Refuse a FOLDER that is a file, whose files would land under an existing file, or that the file
    system cannot hold (a name too long)."""
    for name in names:
        for place in (root / name).parents:
            try:
                is_file = place.exists() and not place.is_dir()
            except (OSError, ValueError) as error:
                reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                raise ConfigurationError(
                    f"FOLDER {root}: cannot be a folder ({reason}); pick a shorter name",
                    details={"field": "FOLDER"},
                ) from None
            if is_file:
                raise ConfigurationError(
                    f"FOLDER {root}: {place} is a file, not a folder; pick a folder (new or empty) for the project",
                    details={"field": "FOLDER", "path": str(place)},
                )


def _write_all(root: Path, files: dict[str, str]) -> None:
    """Write every file to ``.<name>.partial`` first, then rename them all; on failure remove the partials."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            final = root / name
            final.parent.mkdir(parents=True, exist_ok=True)
            partial = final.with_name(f".{final.name}.partial")
            staged.append((partial, final))
            partial.write_text(text, encoding="utf-8")
    except OSError as error:
        for partial, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        raise ConfigurationError(
            f"cannot write the project into {root}: {error.strerror or error} ({error.filename}); nothing was written",
            details={"field": "FOLDER"},
        ) from None
    for partial, final in staged:
        partial.replace(final)


def _folder(given: str | None) -> Path:
    """FOLDER as typed (the working folder when left out); a blank one or one with a control character is refused.

    ``mlops init "$DIR"`` with ``DIR`` unset must not write the project into the working folder.
    """
    if given is None:
        return Path()
    if not given.strip() or any(ord(char) < 32 or char == "\x7f" for char in given):
        raise ConfigurationError(
            f"FOLDER {given!r} must not be blank or hold a control character; leave FOLDER out for the current folder",
            details={"field": "FOLDER"},
        )
    return Path(given)


def init(
    folder: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(metavar="FOLDER", help="Project folder (created if missing; default: the current folder)."),
    ] = None,
    from_example: Annotated[
        str, typer.Option("--from-example", help=f"Which example project to start from: {', '.join(EXAMPLES)}.")
    ] = "diabetes",
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Write a small working project: config (local + Azure profiles), refresh pipeline, job, checks, data."""
    from mlops_sdk.backends.local.approvals.identity import os_identity

    path = _folder(folder)
    files = project_files(from_example, os_identity().name)
    root = path.resolve()
    _check_folder(root, [*files, DATA_FILE])  # before the sample data is built
    files[DATA_FILE] = _diabetes_csv()
    kept = sorted(name for name in KEEP_IF_PRESENT if name in files and (root / name).exists() and not force)
    for name in kept:
        del files[name]
    existing = sorted(name for name in files if (root / name).exists())
    if existing and not force:
        raise ConfigurationError(
            f"{root} already has {', '.join(existing)}; pick an empty folder or pass --force to overwrite them",
            details={"field": "FOLDER", "existing": existing},
        )
    _write_all(root, files)
    written = sorted(files)
    shown = path if str(path) not in ("", ".") else Path()

    def render(_: object) -> None:
        state.line(f"wrote {len(written)} files to {root}: {', '.join(written)}")
        if kept:
            state.line(f"kept your {', '.join(kept)} (the project's versions are written with --force)")
        cd = f"cd {shown} && " if shown != Path() else ""
        state.line("next:")
        state.line(f"  {cd}python first_look.py      # refresh, train, validate; waits for your approval")
        state.line('  mlops approvals approve <id> -m "checked the report"   # the command is printed for you')
        state.line("  mlops endpoints invoke diabetes --data @sample-request.json")

    state.emit({"folder": str(root), "example": from_example, "files": written, "kept": kept}, render)
