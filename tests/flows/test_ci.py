"""CI helpers: Azure DevOps logging commands and GitHub Actions files, detected from the environment."""

from __future__ import annotations

import io
from pathlib import Path

from mlops_sdk.flows.ci import add_summary, detect_ci, mask_secret, set_output


def test_detection() -> None:
    assert detect_ci({"TF_BUILD": "True"}) == "azure_devops"
    assert detect_ci({"GITHUB_ACTIONS": "true"}) == "github_actions"
    assert detect_ci({}) is None


def test_outside_ci_nothing_happens() -> None:
    stream = io.StringIO()
    assert set_output("model_version", "3", env={}, stream=stream) is False
    assert add_summary("# hi", env={}, stream=stream) is False
    assert stream.getvalue() == ""


def test_azure_devops_output_variable_and_summary(tmp_path: Path) -> None:
    env = {"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(tmp_path)}
    stream = io.StringIO()
    assert set_output("model_version", "3", env=env, stream=stream)
    assert set_output("note", "a;b]\nc", env=env, stream=stream)
    assert set_output("key", "s3cr3t", secret=True, env=env, stream=stream)
    assert add_summary("## Validation\n| check | passed |", title="validation report", env=env, stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "##vso[task.setvariable variable=model_version;isOutput=true]3"
    assert lines[1] == "##vso[task.setvariable variable=note;isOutput=true]a%3Bb%5D%0Ac"
    assert lines[2] == "##vso[task.setvariable variable=key;isOutput=true;issecret=true]s3cr3t"
    assert lines[3].startswith("##vso[task.uploadsummary]")
    summary = Path(lines[3].split("]", 1)[1])
    assert summary.parent == tmp_path
    assert summary.read_text().startswith("## Validation")


def test_github_outputs_summary_and_masking(tmp_path: Path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    stream = io.StringIO()
    assert set_output("model_version", "3", env=env, stream=stream)
    assert set_output("report", "line 1\nline 2", env=env, stream=stream)
    assert set_output("token", "abc-secret", secret=True, env=env, stream=stream)
    assert add_summary("### Promoted diabetes@3", env=env)
    text = output.read_text().splitlines()
    assert text[0].startswith("model_version<<mlops_")
    assert text[1:3] == ["3", text[0].split("<<")[1]]
    assert "line 1" in text
    assert "line 2" in text
    assert stream.getvalue() == "::add-mask::abc-secret\n"
    assert summary.read_text() == "### Promoted diabetes@3\n\n"
    assert mask_secret("x-secret", env=env, stream=stream)
