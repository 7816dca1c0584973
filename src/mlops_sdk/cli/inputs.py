"""Files and values named on the command line, checked where the user typed them.

A file the user names is read here first, so a missing file, a folder, or bytes that are not UTF-8
text fail with one :class:`~mlops_sdk.core.errors.ConfigurationError` naming the flag and the path
(``--checks bad/: is a folder, not a file``), whichever loader reads the file afterwards. A file the
command will write is checked before any work starts, so a long validation is not lost to a
report path that cannot be written.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.user_files import is_existing_path, read_text_file

__all__ = ["MAX_LIMIT", "existing", "finite_seconds", "json_value", "looks_local", "read_text", "readable", "writable"]


_NAME_MAX = 255
"""The longest file or folder name (bytes) common file systems take (ext4, APFS, NTFS)."""

MAX_LIMIT = 100_000
"""The largest ``--limit`` a listing accepts (the stores count rows in 64-bit integers)."""


def _refuse(flag: str, path: Path | str, problem: str, fix: str) -> ConfigurationError:
    return ConfigurationError(f"{flag} {path}: {problem}; {fix}", details={"field": flag, "path": str(path)})


def read_text(path: str | Path, *, flag: str, what: str = "a file") -> str:
    """The UTF-8 text of the file ``path`` named with ``flag`` (:func:`~mlops_sdk.core.user_files.read_text_file`).

    Raises:
        ConfigurationError: the file does not exist, is a folder, cannot be read, or is not UTF-8 text.
    """
    return read_text_file(Path(path), what=what, field=flag)


def readable(path: str | Path, *, flag: str, what: str = "a file") -> Path:
    """``path`` as a :class:`Path` once :func:`read_text` could read it (for loaders that read it again)."""
    read_text(path, flag=flag, what=what)
    return Path(path)


def looks_local(value: str) -> bool:
    """True unless ``value`` is a URI (``azureml://...``, ``https://...``) the SDK resolves itself."""
    return "://" not in value and not value.startswith(("azureml:", "models:/"))


def existing(value: str | None, *, flag: str) -> str | None:
    """``value`` unless it is a local path that does not exist (URIs are left to the SDK).

    For data the SDK reads later, sometimes only in some cases (a baseline only when there are rows
    to compare): a misspelt path fails now, naming ``flag``, rather than later or never.
    """
    if value is not None and looks_local(value) and not is_existing_path(value):
        # The wording of the SDK's own message for a missing data file, said earlier.
        raise ConfigurationError(
            f"{flag}: no such file {value}; pass an existing file or folder, or a URI",
            details={"field": flag, "path": value},
        )
    return value


def writable(path: Path | None, *, flag: str) -> Path | None:
    """``path`` when a file can be written there: not a folder, no parent that is a file, a name the file
    system takes.

    Raises:
        ConfigurationError: naming ``flag`` and what to pass instead.
    """
    if path is None:
        return None
    fix = "pass a file path in a folder that exists or can be created"
    try:
        if path.is_dir():
            raise _refuse(flag, path, "is a folder", fix)
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise _refuse(flag, path, f"{parent} is a file, not a folder", fix)
                break
    except (OSError, ValueError) as error:  # a name too long for the file system, a NUL
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise _refuse(flag, path, f"cannot be a file ({reason})", fix) from None
    longest = max(len(os.fsencode(part)) for part in path.parts)
    if longest > _NAME_MAX:  # a folder not made yet: found now, not after the work, when the file is written
        raise _refuse(flag, path, f"holds a name of {longest} bytes; file systems take at most {_NAME_MAX}", fix)
    return path


def json_value(value: str, *, flag: str) -> Any:
    """The JSON ``value`` holds: the text itself, ``@file`` (UTF-8) or ``-`` (stdin).

    Raises:
        typer.BadParameter: the text is not JSON (a usage error naming ``flag``).
        ConfigurationError: the ``@file`` cannot be read.
    """
    import typer

    if value == "-":
        text = sys.stdin.read()
    elif value.startswith("@"):
        text = read_text(value[1:], flag=flag, what="a JSON file (@file.json)")
    else:
        text = value
    try:
        return json.loads(text)
    except RecursionError:
        raise typer.BadParameter("its JSON is nested too deeply", param_hint=flag) from None
    except json.JSONDecodeError as error:
        source = f" in {value[1:]}" if value.startswith("@") else ""
        raise typer.BadParameter(f"not valid JSON{source} ({error})", param_hint=flag) from None


def finite_seconds(value: float | None) -> float | None:
    """A typer callback: seconds must be a finite number, 0 or more (``nan``, ``inf`` and ``-1`` are refused)."""
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        import typer

        raise typer.BadParameter(f"{value} is not a number of seconds; use 0 or more, e.g. 30")
    return value
