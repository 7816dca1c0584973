"""`mlops train pipeline submit/show/resume/runs` end to end on the local backend (-o json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run

PIPELINE = """
type: pipeline
display_name: cli-pipeline
inputs:
  raw: data.txt
jobs:
  prep:
    code: .
    command: python step.py ${{inputs.raw}} ${{outputs.out}}
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      out: {type: uri_folder}
  check:
    code: .
    command: python check.py ${{inputs.data}}
    inputs:
      data: ${{parent.jobs.prep.outputs.out}}
"""

STEP = """
import pathlib, sys
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
(out / "copy.txt").write_text(pathlib.Path(sys.argv[1]).read_text())
"""

CHECK = """
import pathlib, sys
text = (pathlib.Path(sys.argv[1]) / "copy.txt").read_text()
if "bad" in text and not pathlib.Path("fixed").exists():
    sys.exit("check: the data says bad")
print("ok")
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\npoll_interval = 0.05\n')
    (tmp_path / ".amlignore").write_text(".mlops/\ndata.txt\n")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "step.py").write_text(STEP)
    (tmp_path / "check.py").write_text(CHECK)
    (tmp_path / "data.txt").write_text("good\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_submit_show_rerun_cached_fail_and_resume(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-o", "json", "train", "pipeline", "submit", "pipeline.yaml", "--wait"]) == 0
    first = _json(capsys)
    assert first["status"] == "Succeeded"
    assert sorted(first["steps"]) == ["check", "prep"]  # (JSON output sorts keys)
    assert [first["steps"][n]["cached"] for n in ("prep", "check")] == [False, False]

    assert run(["-o", "json", "train", "pipeline", "submit", "pipeline.yaml", "--wait"]) == 0
    cached = _json(capsys)
    assert [cached["steps"][n]["cached"] for n in ("prep", "check")] == [True, True]

    assert run(["-o", "json", "train", "pipeline", "show", first["id"]]) == 0
    assert _json(capsys)["id"] == first["id"]

    (project / "data.txt").write_text("bad\n")
    assert run(["-o", "json", "train", "pipeline", "submit", "pipeline.yaml", "--wait"]) != 0
    capsys.readouterr()
    assert run(["-o", "json", "train", "pipeline", "runs", "--name", "cli-pipeline"]) == 0
    listed = _json(capsys)
    failed = listed[0]
    assert failed["status"] == "Failed"
    assert "step 'check'" in failed["error"]
    assert "the data says bad" in failed["error"]

    (project / "fixed").write_text("")
    assert run(["-o", "json", "train", "pipeline", "resume", failed["id"], "--wait"]) == 0
    resumed = _json(capsys)
    assert resumed["status"] == "Succeeded"
    assert resumed["resumed_from"] == failed["id"]
    assert (resumed["steps"]["prep"]["reused"], resumed["steps"]["check"]["reused"]) == (True, False)


def test_a_cyclic_spec_is_a_configuration_error_exit(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "cycle.yaml").write_text(
        "type: pipeline\ndisplay_name: c\njobs:\n"
        "  a: {command: x, inputs: {i: '${{parent.jobs.b.outputs.o}}'}, outputs: {o: {type: uri_folder}}}\n"
        "  b: {command: x, inputs: {i: '${{parent.jobs.a.outputs.o}}'}, outputs: {o: {type: uri_folder}}}\n"
    )
    assert run(["-o", "json", "train", "pipeline", "submit", "cycle.yaml"]) == 1
    error = _json(capsys)["error"]
    assert error["type"] == "PipelineCycleError"
    assert (error["details"]["step"], error["details"]["field"]) == ("b", "inputs.i")
    assert not (project / ".mlops" / "runs").exists()  # nothing ran
