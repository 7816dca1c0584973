"""What must never be committed: demo output and notebook outputs (they carry paths, keys, timings)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_notebooks_carry_no_outputs() -> None:
    notebooks = sorted((ROOT / "examples").rglob("*.ipynb"))
    assert notebooks, "expected the walkthrough notebook under examples/"
    for notebook in notebooks:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = [cell for cell in cells if cell["cell_type"] == "code"]
        with_output = [index for index, cell in enumerate(code) if cell.get("outputs") or cell.get("execution_count")]
        assert not with_output, f"{notebook.name}: code cells {with_output} have outputs; clear them before committing"


def test_demo_and_notebook_scratch_folders_are_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".demo/", ".mlops/", ".ipynb_checkpoints/"):
        assert pattern in ignored
