"""CI integration: output variables and step summaries for Azure DevOps and GitHub Actions.

The CI system is detected from its standard variables (``TF_BUILD`` / ``GITHUB_ACTIONS``). Outside
CI the helpers do nothing and return ``False``, so the same script runs on a laptop.

Azure DevOps reads *logging commands* from the step's standard output: writing them there is the
protocol, not chatter, which is why this module (and only this one outside the CLI) writes to stdout.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TextIO

__all__ = ["CiSystem", "add_summary", "detect_ci", "mask_secret", "set_output"]

CiSystem = Literal["azure_devops", "github_actions"]


def detect_ci(env: Mapping[str, str] | None = None) -> CiSystem | None:
    """Return which CI system runs this process, or ``None``."""
    env = os.environ if env is None else env
    if env.get("TF_BUILD", "").lower() == "true" or env.get("BUILD_BUILDID"):
        return "azure_devops"
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        return "github_actions"
    return None


def _escape_vso(value: str) -> str:
    # Azure DevOps logging-command escaping (see the "Logging commands" reference).
    return (
        value.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A").replace("]", "%5D").replace(";", "%3B")
    )


def set_output(
    name: str,
    value: str,
    *,
    secret: bool = False,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> bool:
    """Expose ``name=value`` to later steps/jobs of the pipeline.

    Azure DevOps: ``##vso[task.setvariable variable=name;isOutput=true]value`` (``issecret`` for
    secrets). GitHub Actions: appended to ``$GITHUB_OUTPUT`` (multi-line safe; secrets masked first).

    Returns:
        True when a CI system took the value, False outside CI.
    """
    env = os.environ if env is None else env
    system = detect_ci(env)
    out = stream or sys.stdout
    if system == "azure_devops":
        flags = ";issecret=true" if secret else ""
        out.write(f"##vso[task.setvariable variable={name};isOutput=true{flags}]{_escape_vso(value)}\n")
        out.flush()
        return True
    if system == "github_actions":
        if secret:
            mask_secret(value, env=env, stream=out)
        path = env.get("GITHUB_OUTPUT")
        if not path:
            return False
        delimiter = f"mlops_{uuid.uuid4().hex}"
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        return True
    return False


def mask_secret(value: str, *, env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> bool:
    """Ask the CI system to mask ``value`` in every later log line.

    Logs are masked line by line, so each line of a multi-line value is registered on its own (a
    command carrying the raw value would end at its first newline and print the rest in clear).
    """
    system = detect_ci(env)
    out = stream or sys.stdout
    # Lines of 3 characters or fewer ("{", "}") carry no secret and would garble every log line.
    lines = [line for line in value.splitlines() if len(line.strip()) > 3] or [value]
    if system == "github_actions":
        # Workflow-command data escaping: %, CR and LF (the runner unescapes them).
        for line in lines:
            out.write(f"::add-mask::{line.replace('%', '%25').replace(chr(13), '%0D')}\n")
    elif system == "azure_devops":
        for line in lines:
            out.write(f"##vso[task.setsecret]{_escape_vso(line)}\n")
    else:
        return False
    out.flush()
    return True


def add_summary(
    markdown: str,
    *,
    title: str = "mlops",
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> bool:
    """Attach a markdown summary to the CI run's summary page.

    GitHub Actions: appended to ``$GITHUB_STEP_SUMMARY``. Azure DevOps: written to a file under
    ``$AGENT_TEMPDIRECTORY`` and attached with ``##vso[task.uploadsummary]``.
    """
    env = os.environ if env is None else env
    system = detect_ci(env)
    if system == "github_actions":
        path = env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return False
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip() + "\n\n")
        return True
    if system == "azure_devops":
        folder = Path(env.get("AGENT_TEMPDIRECTORY") or tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title)
        summary_file = folder / f"{safe}-{uuid.uuid4().hex[:8]}.md"
        summary_file.write_text(markdown, encoding="utf-8")
        out = stream or sys.stdout
        out.write(f"##vso[task.uploadsummary]{summary_file}\n")
        out.flush()
        return True
    return False
