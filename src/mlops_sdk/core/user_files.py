"""Reading a file the user named (a spec, a policy), with every way it can fail as one typed error.

A user-named path can be missing, a folder, too long for the file system, unreadable, or not text;
each is a :class:`~mlops_sdk.core.errors.ConfigurationError` naming the parameter and the file, never
an ``OSError`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

from pathlib import Path

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["is_existing_path", "read_text_file"]


def read_text_file(path: Path, *, what: str, field: str) -> str:
    """The UTF-8 text of ``path``.

    Args:
        path: The file.
        what: What the file should hold, for messages (``"training pipeline spec"``).
        field: The parameter that named it, for ``details["field"]``.

    Raises:
        ConfigurationError: the file is missing, a folder, unreadable, or not UTF-8 text.
    """
    details = {"field": field, "path": str(path)}
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{field}: {what} {path} does not exist", details=details) from None
    except IsADirectoryError:
        raise ConfigurationError(f"{field}: {what} {path} is a folder; name the file", details=details) from None
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"{field}: {what} {path} is not UTF-8 text ({error.reason} at byte {error.start})", details=details
        ) from None
    except (OSError, ValueError) as error:  # too long, permission, a NUL in the name
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigurationError(f"{field}: cannot read {what} {path}: {reason}", details=details) from None


def is_existing_path(text: str | Path) -> bool:
    """Whether ``text`` names an existing file or folder (``False`` for what cannot be a path at all)."""
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError, RuntimeError):  # too long, NUL, or an unknown ~user
        return False
