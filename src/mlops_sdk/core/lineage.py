"""Where a run, model, approval or deployment came from: code version, CI build, identity, inputs.

Read from git (commit, dirty flag, branch) and from the standard variables of Azure DevOps and
GitHub Actions. Stored as tags on Azure (``to_tags``) and as rows locally.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

__all__ = ["TAG_PREFIX", "Lineage", "collect_lineage", "current_identity"]

TAG_PREFIX = "mlops."


class Lineage(BaseModel):
    """Provenance of one piece of work. Every field is optional: outside git or CI they stay ``None``."""

    model_config = ConfigDict(frozen=True)

    git_commit: str | None = None
    git_dirty: bool | None = None
    git_branch: str | None = None
    git_remote: str | None = None
    ci_provider: str | None = None
    ci_build_id: str | None = None
    ci_build_url: str | None = None
    ci_pipeline: str | None = None
    user: str | None = None
    data_versions: dict[str, str] = {}
    refresh_run_id: str | None = None
    training_run_id: str | None = None
    validation_digest: str | None = None
    flow_run_id: str | None = None
    pipeline_run_id: str | None = None
    pipeline_step: str | None = None

    def with_inputs(self, **values: object) -> Lineage:
        """Return a copy with more fields set (``training_run_id=...``, ``data_versions=...``)."""
        return self.model_copy(update={key: value for key, value in values.items() if value is not None})

    def to_tags(self) -> dict[str, str]:
        """Flatten into ``mlops.<field>`` string tags (Azure tags, MLflow tags); unset fields are skipped."""
        tags: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None or value == {}:
                continue
            if isinstance(value, dict):
                for key, item in sorted(value.items()):
                    tags[f"{TAG_PREFIX}{name}.{key}"] = str(item)
            elif isinstance(value, bool):
                tags[f"{TAG_PREFIX}{name}"] = "true" if value else "false"
            else:
                tags[f"{TAG_PREFIX}{name}"] = str(value)
        return tags

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Lineage:
        """Inverse of :meth:`to_tags`; tags without the ``mlops.`` prefix are ignored."""
        values: dict[str, object] = {}
        data_versions: dict[str, str] = {}
        for key, value in tags.items():
            if not key.startswith(TAG_PREFIX):
                continue
            name = key[len(TAG_PREFIX) :]
            if name.startswith("data_versions."):
                data_versions[name.split(".", 1)[1]] = value
            elif name == "git_dirty":
                values[name] = value == "true"
            elif name in cls.model_fields:
                values[name] = value
        return cls.model_validate({**values, "data_versions": data_versions})


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def _ci(env: Mapping[str, str]) -> dict[str, str | None]:
    if env.get("TF_BUILD") or env.get("BUILD_BUILDID"):
        collection = env.get("SYSTEM_COLLECTIONURI") or env.get("SYSTEM_TEAMFOUNDATIONCOLLECTIONURI")
        project = env.get("SYSTEM_TEAMPROJECT")
        build_id = env.get("BUILD_BUILDID")
        url = None
        if collection and project and build_id:
            # Project names may hold spaces ("My Project"): the link must still be one valid URL.
            url = f"{collection.rstrip('/')}/{quote(project)}/_build/results?buildId={quote(build_id)}"
        return {
            "ci_provider": "azure_devops",
            "ci_build_id": build_id,
            "ci_build_url": url,
            "ci_pipeline": env.get("BUILD_DEFINITIONNAME"),
            "git_commit": env.get("BUILD_SOURCEVERSION"),
            "git_branch": env.get("BUILD_SOURCEBRANCHNAME"),
        }
    if env.get("GITHUB_ACTIONS") or env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY")
        run_id = env.get("GITHUB_RUN_ID")
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None
        if url and attempt:
            url += f"/attempts/{attempt}"
        return {
            "ci_provider": "github_actions",
            "ci_build_id": run_id,
            "ci_build_url": url,
            "ci_pipeline": env.get("GITHUB_WORKFLOW"),
            "git_commit": env.get("GITHUB_SHA"),
            "git_branch": env.get("GITHUB_REF_NAME"),
        }
    return {}


def current_identity(env: Mapping[str, str] | None = None) -> str:
    """The identity of whoever runs this process: the CI requester when known, else the OS user."""
    env = os.environ if env is None else env
    for name in ("BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR", "GITHUB_ACTOR"):
        if env.get(name):
            return env[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def collect_lineage(cwd: str | Path | None = None, env: Mapping[str, str] | None = None) -> Lineage:
    """Read git state and CI variables now.

    CI variables win over local git for commit and branch (a CI checkout is often a detached HEAD);
    the dirty flag and remote always come from git, when ``cwd`` is inside a repository.
    """
    env = os.environ if env is None else env
    folder = Path(cwd) if cwd is not None else Path.cwd()
    values: dict[str, object] = {key: value for key, value in _ci(env).items() if value}
    commit = _git(["rev-parse", "HEAD"], folder)
    if commit is not None:
        values.setdefault("git_commit", commit)
        porcelain = _git(["status", "--porcelain", "--untracked-files=no"], folder)
        values["git_dirty"] = bool(porcelain) if porcelain is not None else None
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], folder)
        if branch and branch != "HEAD":
            values.setdefault("git_branch", branch)
        remote = _git(["remote", "get-url", "origin"], folder)
        if remote:
            values["git_remote"] = _strip_credentials(remote)
    values["user"] = current_identity(env)
    return Lineage.model_validate(values)


def _strip_credentials(url: str) -> str:
    """``https://user:token@host/x`` -> ``https://host/x``: remotes can embed PATs."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url
