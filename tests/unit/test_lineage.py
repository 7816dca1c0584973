"""Lineage from git and from the CI systems' standard variables."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlops_sdk.core.lineage import Lineage, collect_lineage, current_identity


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "remote", "add", "origin", "https://user:ghp_secret123@github.com/org/repo.git")
    (tmp_path / "train.py").write_text("print(1)\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "-c", "user.email=a@b.c", "-c", "user.name=A", "commit", "-qm", "init")
    commit = _git(tmp_path, "rev-parse", "HEAD")

    clean = collect_lineage(tmp_path, env={})
    assert clean.git_commit == commit
    assert clean.git_dirty is False
    assert clean.git_branch == "main"
    assert clean.git_remote == "https://github.com/org/repo.git"  # the embedded token is gone
    assert clean.ci_provider is None

    (tmp_path / "train.py").write_text("print(2)\n")
    assert collect_lineage(tmp_path, env={}).git_dirty is True


def test_outside_git_fields_stay_empty(tmp_path: Path) -> None:
    lineage = collect_lineage(tmp_path, env={})
    assert lineage.git_commit is None
    assert lineage.git_dirty is None
    assert lineage.user


def test_azure_devops_variables(tmp_path: Path) -> None:
    env = {
        "TF_BUILD": "True",
        "BUILD_BUILDID": "4711",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
        "SYSTEM_TEAMPROJECT": "ml",
        "BUILD_DEFINITIONNAME": "train-and-deploy",
        "BUILD_SOURCEVERSION": "abc123",
        "BUILD_REQUESTEDFOREMAIL": "dana@contoso.com",
    }
    lineage = collect_lineage(tmp_path, env=env)
    assert lineage.ci_provider == "azure_devops"
    assert lineage.ci_build_id == "4711"
    assert lineage.ci_build_url == "https://dev.azure.com/contoso/ml/_build/results?buildId=4711"
    assert lineage.git_commit == "abc123"
    assert lineage.user == "dana@contoso.com"


def test_github_actions_variables(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "org/repo",
        "GITHUB_SHA": "def456",
        "GITHUB_ACTOR": "octocat",
    }
    lineage = collect_lineage(tmp_path, env=env)
    assert lineage.ci_provider == "github_actions"
    assert lineage.ci_build_url == "https://github.com/org/repo/actions/runs/99/attempts/2"
    assert lineage.git_commit == "def456"
    assert current_identity(env) == "octocat"


def test_tags_round_trip() -> None:
    lineage = Lineage(
        git_commit="abc", git_dirty=True, ci_build_id="7", data_versions={"train": "sha256:aa"}, training_run_id="run-1"
    )
    tags = lineage.to_tags()
    assert tags["mlops.git_dirty"] == "true"
    assert tags["mlops.data_versions.train"] == "sha256:aa"
    assert Lineage.from_tags({**tags, "unrelated": "x"}) == lineage
    assert lineage.with_inputs(refresh_run_id="r9").refresh_run_id == "r9"
