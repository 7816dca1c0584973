"""The append-only, hash-chained audit log of approvals.

Each entry stores the SHA-256 of its own content together with the hash of the entry before it, so
editing an entry breaks its hash, deleting one leaves a gap in the sequence and breaks the next
link, and reordering breaks the links of every moved entry. A one-row ``approval_audit_head``
table, written in the same transaction as each entry, records the last sequence number and hash:
deleting entries from the end is detected too. SQLite triggers refuse ``UPDATE`` and ``DELETE`` on
the log, so only someone rewriting the file around the SDK can change it, and :func:`verify_chain`
finds that. (Someone who recomputes every hash *and* the head can rewrite history undetected by a
file alone: anchor ``AuditVerification.head`` somewhere else, e.g. a CI log, when that matters.)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["GENESIS", "AuditEntry", "append", "canonical", "entries", "verify_chain"]

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE approval_audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX approval_audit_request ON approval_audit (request_id);
CREATE TABLE approval_audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER approval_audit_no_update BEFORE UPDATE ON approval_audit
BEGIN SELECT RAISE(ABORT, 'approval_audit is append-only'); END;
CREATE TRIGGER approval_audit_no_delete BEFORE DELETE ON approval_audit
BEGIN SELECT RAISE(ABORT, 'approval_audit is append-only'); END;
"""


def canonical(value: Any) -> str:
    """The one JSON form hashed and stored (sorted keys, no whitespace)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(seq: int, at: str, request_id: str, event: str, actor: str, payload: str, prev_hash: str) -> str:
    content = canonical([seq, at, request_id, event, actor, payload, prev_hash])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the log."""

    seq: int
    at: str
    request_id: str
    event: str
    actor: str
    payload: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        """The payload parsed (``{}`` when it is not valid JSON any more)."""
        try:
            value = json.loads(self.payload)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def expected_hash(self) -> str:
        """The hash this entry's content should have."""
        return _digest(self.seq, self.at, self.request_id, self.event, self.actor, self.payload, self.prev_hash)


def append(
    connection: sqlite3.Connection,
    *,
    at: datetime,
    request_id: str,
    event: str,
    actor: str,
    payload: Mapping[str, Any],
) -> AuditEntry:
    """Append one entry; must run inside the caller's write transaction."""
    head = connection.execute("SELECT seq, hash FROM approval_audit_head WHERE id = 1").fetchone()
    seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS)
    text = canonical(dict(payload))
    stamp = at.isoformat()
    entry = AuditEntry(
        seq,
        stamp,
        request_id,
        event,
        actor,
        text,
        prev_hash,
        _digest(seq, stamp, request_id, event, actor, text, prev_hash),
    )
    connection.execute(
        "INSERT INTO approval_audit (seq, at, request_id, event, actor, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (entry.seq, entry.at, entry.request_id, entry.event, entry.actor, entry.payload, entry.prev_hash, entry.hash),
    )
    connection.execute(
        "INSERT INTO approval_audit_head (id, seq, hash) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (entry.seq, entry.hash),
    )
    return entry


def entries(connection: sqlite3.Connection, request_id: str | None = None) -> Iterator[AuditEntry]:
    """Entries in sequence order (of one request, or all)."""
    sql = "SELECT seq, at, request_id, event, actor, payload, prev_hash, hash FROM approval_audit"
    args: tuple[Any, ...] = ()
    if request_id is not None:
        sql += " WHERE request_id = ?"
        args = (request_id,)
    for row in connection.execute(sql + " ORDER BY seq", args):
        yield AuditEntry(
            int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), str(row[6]), str(row[7])
        )


def verify_chain(connection: sqlite3.Connection) -> tuple[list[AuditEntry], list[str], str | None]:
    """Check every link; return (entries, problems, hash of the last entry)."""
    problems: list[str] = []
    checked: list[AuditEntry] = []
    previous_hash = GENESIS
    expected_seq = 1
    for entry in entries(connection):
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                missing = f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}..{entry.seq - 1}"
                problems.append(f"entries {missing} are missing (deleted)")
            expected_seq = entry.seq
        if entry.hash != entry.expected_hash():
            problems.append(
                f"entry {entry.seq} ({entry.event} of {entry.request_id}) was edited: its hash does not match"
            )
        if entry.prev_hash != previous_hash:
            problems.append(
                f"entry {entry.seq} does not link to the entry before it (entries were deleted, inserted or reordered)"
            )
        previous_hash = entry.hash
        expected_seq += 1
        checked.append(entry)
    head = connection.execute("SELECT seq, hash FROM approval_audit_head WHERE id = 1").fetchone()
    last_seq = checked[-1].seq if checked else 0
    if head is None:
        if checked:
            problems.append("the audit head record is missing")
    else:
        if int(head[0]) > last_seq:
            problems.append(f"entries {last_seq + 1}..{int(head[0])} at the end of the log are missing (deleted)")
        elif int(head[0]) < last_seq:
            problems.append(f"entries after {int(head[0])} were added outside mlops-sdk")
        elif checked and str(head[1]) != checked[-1].hash:
            problems.append("the last entry does not match the audit head (it was replaced)")
    return checked, problems, (checked[-1].hash if checked else None)
