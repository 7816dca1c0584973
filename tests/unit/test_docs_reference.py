"""The API reference shows no raw Sphinx roles: the docs' griffe extension rewrites them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "docs" / "_griffe" / "sphinx_roles.py"
RAW_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`")


def _extension() -> Any:
    spec = importlib.util.spec_from_file_location("sphinx_roles", EXTENSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_become_inline_code() -> None:
    pytest.importorskip("griffe")
    rewrite = _extension().rewrite
    assert rewrite("a :class:`ModelVersion` b") == "a `ModelVersion` b"
    assert rewrite(":meth:`~mlops_sdk.Operation.result`") == "`result`"
    assert rewrite(":func:`load <mlops_sdk.checks.load_checks>`") == "`load`"


def test_no_docstring_of_the_package_keeps_a_raw_role() -> None:
    griffe = pytest.importorskip("griffe")
    extensions = griffe.load_extensions(f"{EXTENSION}:SphinxRoles")
    package = griffe.load("mlops_sdk", search_paths=[str(ROOT / "src")], extensions=extensions)
    raw: list[str] = []

    def walk(obj: Any) -> None:
        if obj.is_alias:
            return
        if obj.docstring is not None and RAW_ROLE.search(obj.docstring.value):
            raw.append(obj.path)
        for member in obj.members.values():
            walk(member)

    walk(package)
    assert raw == []
    without = griffe.load("mlops_sdk", search_paths=[str(ROOT / "src")])
    assert RAW_ROLE.search(without["clients.approvals.ApprovalClient.request"].docstring.value)
