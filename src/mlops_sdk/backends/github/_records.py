"""Where GitHub approval requests are kept: one JSON file per request, written atomically.

GitHub holds the votes (the run's review history); the request itself (model, requester, reason,
policy, report digest) has no place in GitHub's deployment-review API, so it is kept here. A file is
replaced in one ``os.replace``: a killed process leaves the previous version or the new one, never half.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.files import atomic_write

__all__ = ["RequestRecords"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RequestRecords:
    """JSON records of approval requests in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, request_id: str) -> Path:
        if not _SAFE_ID.match(request_id):
            raise ConfigurationError(
                f"approval request id {request_id!r} is not a valid id", details={"field": "request_id"}
            )
        return self.folder / f"{request_id}.json"

    def load(self, request_id: str) -> dict[str, Any] | None:
        """The record, or ``None`` when there is none."""
        try:
            text = self._path(request_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        record: dict[str, Any] = json.loads(text)
        return record

    def save(self, request_id: str, record: dict[str, Any]) -> None:
        """Write the record in one atomic replace."""
        with atomic_write(self._path(request_id)) as temporary:
            temporary.write_text(json.dumps(record, sort_keys=True, indent=1), encoding="utf-8")

    def ids(self) -> list[str]:
        """Every recorded request id, newest first (by the record's ``created_at``)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            try:
                created = str(json.loads(path.read_text(encoding="utf-8")).get("created_at", ""))
            except (OSError, ValueError):
                continue
            found.append((created, path.stem))
        return [request_id for _, request_id in sorted(found, reverse=True)]
