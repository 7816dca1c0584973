"""The example CI definitions: valid YAML, every command they call exists, and the stages really run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_sdk.cli.main import run

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = [ROOT / "examples" / "ci" / "azure-pipelines.yml", ROOT / "examples" / "ci" / "github-workflow.yml"]
CI_FLOW = ROOT / "examples" / "diabetes" / "ci_flow.py"


def _scripts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [
            value for key, value in node.items() if key in ("script", "run", "inlineScript") and isinstance(value, str)
        ]
        return found + [line for value in node.values() for line in _scripts(value)]
    if isinstance(node, list):
        return [line for item in node for line in _scripts(item)]
    return []


@pytest.mark.parametrize("path", PIPELINES, ids=lambda path: path.name)
def test_pipeline_commands_exist(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = [line.strip() for script in _scripts(yaml.safe_load(path.read_text())) for line in script.splitlines()]
    mlops_calls = [shlex.split(line) for line in commands if line.startswith("mlops ")]
    python_calls = [shlex.split(line) for line in commands if line.startswith("python examples/")]
    assert mlops_calls
    assert python_calls
    for call in mlops_calls:
        words = [word for word in call[1:] if not word.startswith("-") and not word.startswith("$") and word != "prod"]
        group = words[:2] if words[0] in ("endpoints", "models", "approvals", "data", "train", "config") else words[:1]
        assert run([*group, "--help"]) == 0, f"{' '.join(call)} names a command mlops does not have"
        help_text = capsys.readouterr().out
        for option in re.findall(r"--[a-z-]+", " ".join(call)):
            assert option in help_text, f"{option} is not an option of mlops {' '.join(group)}"
    for call in python_calls:
        assert (ROOT / call[1]).is_file()
        stage = call[2]
        assert stage in ("train", "deploy")


@pytest.mark.slow
def test_ci_flow_stages_run_locally_and_publish_outputs(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    sys.path.insert(0, str(ROOT / "examples" / "diabetes"))
    from demo import land_files

    land_files(tmp_path / "data" / "lake", 442)
    output, summary = tmp_path / "github_output", tmp_path / "summary.md"
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "MLOPS_SHOW_PROGRESS": "false",
    }

    def run_in(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    trained = run_in(str(CI_FLOW), "train")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    found = re.findall(r"^(\w+)<<(mlops_\w+)\n(.*?)\n\2$", output.read_text(), re.MULTILINE | re.DOTALL)
    outputs = {name: value for name, _delimiter, value in found}
    assert outputs == {"model": "diabetes@1", "outcome": "promote", "promote": "true"}
    assert "Validation of" in summary.read_text()
    assert "flow gh-4242" in trained.stdout  # the CI build id is the flow run id

    deployed = run_in(str(CI_FLOW), "deploy", "--model", outputs["model"])
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "deployed diabetes@1 as diabetes-v1" in deployed.stdout
    request = f"@{ROOT / 'examples' / 'diabetes' / 'sample-request.json'}"
    try:
        scored = run_in("-m", "mlops_sdk.cli", "-o", "json", "endpoints", "invoke", "diabetes", "--data", request)
        assert scored.returncode == 0, scored.stdout + scored.stderr
        assert len(json.loads(scored.stdout)) == 2
    finally:
        run_in("-m", "mlops_sdk.cli", "endpoints", "stop", "diabetes")
