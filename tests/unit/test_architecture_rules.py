"""Static rules of the code base that a refactor must not quietly undo.

Each rule reads the source text: it fails with the file and line that broke it.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "mlops_sdk"


def _hits(pattern: str, *, under: Path = SRC) -> list[str]:
    regex = re.compile(pattern)
    found = []
    for path in sorted(under.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if regex.search(line):
                found.append(f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}")
    return found


def test_service_lookups_need_no_type_ignore() -> None:
    hits = _hits(r"type:\s*ignore\[type-abstract\]")
    assert not hits, "look services up with a typed key (backend.service(MODELS)), not a protocol class:\n" + "\n".join(
        hits
    )
