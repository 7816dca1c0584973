"""The SQLite store of the local backend and of the flow journal: ``<folder>/mlops.db`` in WAL mode,
per-component schema versions.

Each capability (data factory, training, approvals, deployments, ...) owns its tables and declares
them as an ordered list of :class:`Migration`; :meth:`LocalStore.ensure_schema` brings that
component up to date under an exclusive lock, so two processes opening an old database at the same
time migrate it once. Versions only move forward; a database written by a newer mlops-sdk is
refused with a message instead of being damaged.

Every write runs in :meth:`LocalStore.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``): a killed
process leaves either the whole change or none of it, and concurrent writers wait for each other
(``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_sdk.core.clock import utcnow
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger

__all__ = ["DB_NAME", "LocalStore", "Migration"]

DB_NAME = "mlops.db"
_BUSY_TIMEOUT_MS = 60_000
_log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    """One forward step of a component's schema.

    Args:
        version: 1 for the first migration of the component, then 2, 3, ... without gaps.
        description: What the step changes (kept in ``schema_versions`` for diagnosis).
        apply: SQL script, or a callable receiving the connection (inside the migration transaction).
    """

    version: int
    description: str
    apply: str | Callable[[sqlite3.Connection], None]


class LocalStore:
    """Transactional access to ``mlops.db`` for one process (one connection per thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file in the way, no permission, a name too long
            raise ConfigurationError(
                f"cannot use {folder} as the local store folder: {error.strerror or error}; point the "
                "target at a folder you can write (local://<folder>)",
                details={"field": "target", "path": str(folder)},
            ) from error
        with self.transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions ("
                " component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
                " applied_at TEXT NOT NULL, PRIMARY KEY (component, version))"
            )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: use :meth:`transaction` for writes)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            connection.row_factory = sqlite3.Row
            try:
                connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                _enable_wal(connection)  # the first read of the file
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as error:
                connection.close()
                raise self._unusable(error) from error
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _unusable(self, error: sqlite3.DatabaseError) -> Exception:
        """Our error for a store file SQLite cannot read (another file, or a damaged one); else ``error``."""
        if getattr(error, "sqlite_errorname", None) not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return error
        return ConfigurationError(
            f"{self.path} is not a readable mlops store ({error}): it was overwritten or damaged. Move it aside "
            "(and its -wal/-shm files) to start an empty store there, or point the target at another folder",
            backend="local",
            details={"field": "target", "path": str(self.path)},
        )

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction: committed on success, rolled back on any error."""
        connection = self.connection()
        if connection.in_transaction:
            # Nested use joins the outer transaction: the outermost block decides commit/rollback.
            yield connection
            return
        connection.execute("BEGIN EXCLUSIVE" if exclusive else "BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def schema_version(self, component: str) -> int:
        """Highest migration applied for ``component`` (0 when none)."""
        row = (
            self.connection()
            .execute("SELECT MAX(version) FROM schema_versions WHERE component = ?", (component,))
            .fetchone()
        )
        return int(row[0] or 0)

    def ensure_schema(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply the missing migrations of ``component`` in order and return its version.

        Raises:
            ConfigurationError: the migrations are misnumbered, or the database is newer than this code.
        """
        expected = list(range(1, len(migrations) + 1))
        if [migration.version for migration in migrations] != expected:
            raise ConfigurationError(f"migrations of {component!r} must be numbered 1..{len(migrations)}")
        latest = len(migrations)
        if self.schema_version(component) == latest:
            return latest
        with self.transaction(exclusive=True) as connection:
            current = self.schema_version(component)
            if current > latest:
                raise ConfigurationError(
                    f"{self.path} holds {component!r} schema version {current}, newer than this mlops-sdk "
                    f"understands ({latest}); upgrade mlops-sdk (pip install -U mlops-sdk)",
                    backend="local",
                )
            for migration in migrations[current:]:
                _log.info("migrating %s: %s v%d (%s)", self.path, component, migration.version, migration.description)
                if isinstance(migration.apply, str):
                    for statement in _statements(migration.apply):
                        connection.execute(statement)
                else:
                    migration.apply(connection)
                connection.execute(
                    "INSERT INTO schema_versions (component, version, description, applied_at) VALUES (?, ?, ?, ?)",
                    (component, migration.version, migration.description, utcnow().isoformat()),
                )
        return latest

    def close(self) -> None:
        """Close every connection this store opened (from any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local = threading.local()


def _enable_wal(connection: sqlite3.Connection) -> None:
    # Switching a new database to WAL needs an exclusive lock and SQLite reports "locked" at once
    # instead of waiting for busy_timeout when another process holds it: retry for a bounded time.
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; split complete statements instead.
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
