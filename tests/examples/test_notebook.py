"""The notebook walkthrough executes top to bottom in a real Jupyter kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("mlflow")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "walkthrough.ipynb"


@pytest.mark.slow
def test_walkthrough_notebook_runs(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    # run in a scratch copy of the examples folder so the walkthrough's store lands in tmp_path
    client.resources["metadata"]["path"] = str(tmp_path)
    (tmp_path / "examples").symlink_to(NOTEBOOK.parent)
    client.execute()
    outputs = {
        index: "".join(str(output.get("data", {}).get("text/plain", output.get("text", ""))) for output in cell.outputs)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    }
    html = {
        index: "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    }
    assert 'install "ipywidgets" for Jupyter support' not in outputs[5]
    assert "promote" in html[7], "the validation report did not render as HTML"
    assert "<svg" in html[7]
    assert "'auto_approved'" in outputs[9]
    assert "(100, {'diabetes-v1': 100})" in outputs[11]
    assert not (tmp_path / "walkthrough" / ".mlops" / "endpoints" / "walkthrough" / "server.json").exists()
