"""The review page's signing key: random, kept in the store folder with mode 0600, never shown.

It signs invite links and CSRF tokens. It is created once (atomically: a concurrent first start
sees either no file or the whole key) and refused when other users may read it, like ``ssh``
refuses a private key with loose permissions.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.redaction import register_secret

__all__ = ["SECRET_FILE", "load_secret"]

SECRET_FILE = "review-secret"  # noqa: S105 - a file name, not a secret
"""Name of the key file in the store folder."""

_KEY_BYTES = 32


def _create(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: its key is the key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_secret(folder: Path) -> bytes:
    """The key of the store in ``folder`` (created on first use).

    Raises:
        ConfigurationError: the key file is readable by other users, or is not a key.
    """
    path = folder / SECRET_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _create(path)
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` "
                "(and, if others may have read it, delete it: every invite link issued so far stops working)",
                details={"field": "review secret", "path": str(path)},
            )
    text = path.read_text(encoding="ascii").strip()
    if len(text) != 2 * _KEY_BYTES or any(char not in "0123456789abcdef" for char in text):
        raise ConfigurationError(
            f"{path} does not hold a review key; delete it to make a new one (links issued so far stop working)",
            details={"field": "review secret", "path": str(path)},
        )
    register_secret(text)
    return bytes.fromhex(text)
