"""A newcomer's first hour: ``mlops init``, then the README's "A first look" exactly as printed.

The snippet is read from README.md at test time, so the README cannot drift from what runs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run

README = Path(__file__).resolve().parents[2] / "README.md"


def first_look() -> str:
    """The code block of the README's "A first look" section, verbatim."""
    section = README.read_text(encoding="utf-8").split("## A first look", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_init_writes_a_project_whose_first_look_is_the_readmes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn")
    project = tmp_path / "my-project"
    assert run(["init", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"wrote 12 files to {project}" in out
    assert first_look() in (project / "first_look.py").read_text(encoding="utf-8")
    approvals = (project / "approvals.toml").read_text(encoding="utf-8")
    from mlops_sdk.backends.local.approvals.identity import os_identity

    assert f'approvers = ["{os_identity().name}"]' in approvals
    assert "forbid_self_approval = false" in approvals
    assert (project / ".gitignore").read_text(encoding="utf-8").startswith(".mlops/")
    lines = (project / "data" / "diabetes.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row_id,age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target"
    assert len(lines) == 443

    # Never overwrites a user's files unless asked to.
    (project / "train.py").write_text("# mine\n", encoding="utf-8")
    assert run(["init", str(project)]) == 1
    err = capsys.readouterr().err
    assert "already has" in err
    assert "--force" in err
    assert (project / "train.py").read_text(encoding="utf-8") == "# mine\n"
    assert run(["init", str(project), "--force"]) == 0
    assert (project / "train.py").read_text(encoding="utf-8") != "# mine\n"
    # In an existing repository its own README and .gitignore stay; only the project's files are added.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# ours\n", encoding="utf-8")
    capsys.readouterr()
    assert run(["init", str(repo)]) == 0
    assert "kept your README.md" in capsys.readouterr().out
    assert (repo / "README.md").read_text(encoding="utf-8") == "# ours\n"
    assert (repo / "first_look.py").is_file()
    assert run(["init", str(tmp_path / "other"), "--from-example", "nope"]) == 1
    assert "available: diabetes" in capsys.readouterr().err


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace")
        if text in content:
            return content
        if process.poll() is not None:
            pytest.fail(f"the snippet exited {process.returncode} before {text!r}:\n{content}")
        time.sleep(0.5)
    pytest.fail(f"no {text!r} within {seconds}s:\n{path.read_text(encoding='utf-8', errors='replace')}")


@pytest.mark.slow
def test_readme_first_look_runs_as_printed_to_a_deployed_scored_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    project = tmp_path / "my-project"
    assert run(["init", str(project)]) == 0
    (project / "snippet.py").write_text(first_look(), encoding="utf-8")
    monkeypatch.chdir(project)
    log = project / "snippet.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "snippet.py"], cwd=project, stdout=sink, stderr=subprocess.STDOUT)
    try:
        # The wait announces itself once: who may approve and the command that does it.
        content = _wait_for(log, "To approve: ", process, 300)
        announcement = next(line for line in content.splitlines() if "To approve: " in line)
        command = announcement.split("To approve: ", 1)[1]
        capsys.readouterr()
        assert run(["-o", "json", "approvals", "list"]) == 0
        pending = json.loads(capsys.readouterr().out)
        assert len(pending) == 1
        request_id = pending[0]["id"]
        assert command == f'mlops approvals approve {request_id} -m "why you approve"'
        assert "self-approval allowed by the policy" in announcement

        # A person pastes the command (with their reason) into another terminal.
        argv = [*shlex.split(command)[1:-1], "checked the report"]
        assert run(argv) == 0
        assert process.wait(timeout=300) == 0, log.read_text(encoding="utf-8", errors="replace")
        capsys.readouterr()

        assert run(["-o", "json", "approvals", "show", request_id[:8]]) == 0
        decision = json.loads(capsys.readouterr().out)["decision"]
        assert decision["status"] == "approved"
        assert "self-approved by the requester" in decision["reason"]
        assert run(["approvals", "verify"]) == 0
        assert "audit entries intact" in capsys.readouterr().out

        assert run(["endpoints", "invoke", "diabetes", "--data", "@sample-request.json"]) == 0
        scores = json.loads(capsys.readouterr().out)
        assert len(scores) == 2
        assert all(isinstance(score, float) for score in scores)
        assert run(["-o", "json", "models", "list", "diabetes"]) == 0
        assert [(v["version"], v["aliases"]) for v in json.loads(capsys.readouterr().out)] == [("1", ["champion"])]

        # The project's flow script: the same data trains the same model, which does not beat the
        # champion, so the flow stops cleanly at the gate (exit 3) and the champion keeps serving.
        flow = subprocess.run(
            [sys.executable, "flow.py", "--run-id", "second"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert flow.returncode == 3, flow.stdout + flow.stderr
        assert "flow second: not_promoted" in flow.stdout
        assert run(["-o", "json", "models", "list", "diabetes"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(v["version"], v["aliases"]) for v in listed] == [("2", []), ("1", ["champion"])]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        run(["endpoints", "stop", "diabetes"])
