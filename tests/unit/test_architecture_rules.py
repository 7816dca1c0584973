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


def test_pydantic_errors_are_translated_in_one_place() -> None:
    # configuration files have their own translation (it names the file and the source of each value)
    allowed = {"mlops_sdk/core/invalid_input.py", "mlops_sdk/core/config.py", "mlops_sdk/core/config_problems.py"}
    hits = [hit for hit in _hits(r"""\[["']loc["']\]""") if hit.split(":", 1)[0] not in allowed]
    assert not hits, "turn a pydantic ValidationError into our error with core.invalid_input:\n" + "\n".join(hits)


def test_naming_rules_are_written_once() -> None:
    # the rules' own text: a second copy of any of them is a second place to keep in step
    rules = [r"A-Za-z0-9_.\\-]{0,254}", r"A-Za-z0-9_.:\\-/]{0,199}", r"A-Za-z0-9-]{1,30}", r"A-Za-z0-9-]{1,31}"]
    for rule in rules:
        hits = [hit for hit in _hits(re.escape(rule)) if not hit.startswith("mlops_sdk/core/names.py")]
        assert not hits, f"use mlops_sdk.core.names instead of repeating {rule}:\n" + "\n".join(hits)


def test_flows_use_the_clients_public_surface_only() -> None:
    hits = _hits(r"mlops_sdk\.backends|\._context\b", under=SRC / "flows")
    assert not hits, "flows compose public clients; give them what they need on the client instead:\n" + "\n".join(hits)


def test_docstrings_cite_the_docs_not_a_design_file_outside_the_repo() -> None:
    hits = _hits(r"DESIGN\.md|§\s*\d")
    assert not hits, "point at a page under docs/ instead:\n" + "\n".join(hits)


def test_the_architecture_page_draws_the_layers_and_one_request_path() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert page.count("```mermaid") >= 2
    for layer in ("clients/", "backends/spi/", "backends/local/", "backends/azure/", "backends/memory/", "core/"):
        assert layer in page, layer
    # every module the page sends a newcomer to exists
    for path in set(re.findall(r"`((?:clients|backends|core|models|flows)/[\w/]+\.py)`", page)):
        assert (SRC / path).is_file(), path


def test_operation_drivers_live_in_the_backends_layer() -> None:
    # clients build drivers from backends/spi (or get them from a service); they never define one
    hits = _hits(r"^\s*class \w*Driver\b", under=SRC / "clients")
    assert not hits, "define the driver in backends/spi/<capability>.py and build it from the client:\n" + "\n".join(
        hits
    )


def test_loggers_come_from_get_logger() -> None:
    # get_logger attaches the redaction filter; a bare logging.getLogger logs secrets in clear
    allowed = {
        "mlops_sdk/core/logging.py",
        "mlops_sdk/backends/azure/_aml_shim.py",  # reads azure-ai-ml's handlers, logs nothing
        "mlops_sdk/backends/local/_mlflow.py",  # quiets MLflow's loggers, logs nothing
    }
    hits = [hit for hit in _hits(r"logging\.getLogger\(") if hit.split(":", 1)[0] not in allowed]
    assert not hits, "log through mlops_sdk.core.logging.get_logger:\n" + "\n".join(hits)
