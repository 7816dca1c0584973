"""GitHub's OpenAPI 3.0 description (shared/github-rest-specs): operations, examples and a body checker.

The fake answers with the description's own examples (adjusted to the fake's state) and checks every
request body and every answer against the operation's schema: types, ``required``, ``enum``,
``nullable``, ``anyOf``/``oneOf``, and keys not in ``properties`` (a request body may not carry them).
``$ref`` to ``#/components/...`` is followed.
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

DESCRIPTION = "rest-api-description/descriptions/api.github.com/api.github.com.json"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def specs_folder() -> Path:
    """``shared/github-rest-specs`` beside the repository (CI), or where ``MLOPS_GITHUB_SPECS`` points."""
    root = Path(__file__).resolve().parents[2]
    candidates = [os.environ.get("MLOPS_GITHUB_SPECS", ""), str(root.parent / "shared" / "github-rest-specs")]
    candidates.append("/work/shared/github-rest-specs")
    for candidate in candidates:
        if candidate and (Path(candidate) / DESCRIPTION).is_file():
            return Path(candidate)
    pytest.skip("shared/github-rest-specs not found beside the repository (set MLOPS_GITHUB_SPECS)")


@cache
def description() -> dict[str, Any]:
    """The parsed OpenAPI description."""
    spec: dict[str, Any] = json.loads((specs_folder() / DESCRIPTION).read_text(encoding="utf-8"))
    return spec


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        target: Any = description()
        for part in parts:
            target = target[part]
        node = target
    return node


def operation(method: str, template: str) -> dict[str, Any]:
    """The operation object of ``method template`` (fails the test when the description lacks it)."""
    item = description()["paths"].get(template)
    if item is None or method.lower() not in item:
        raise AssertionError(f"{method} {template} is not in GitHub's OpenAPI description")
    found: dict[str, Any] = item[method.lower()]
    return found


def path_pattern(template: str) -> str:
    """A regular expression matching the template's concrete paths, typed by its path parameters."""
    op = next(iter(description()["paths"][template].values()))
    kinds = {}
    for parameter in op.get("parameters") or []:
        resolved = _deref(parameter)
        if resolved.get("in") == "path":
            kinds[resolved["name"]] = resolved.get("schema", {}).get("type", "string")

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        body = r"\d+" if kinds.get(name) == "integer" else r"[^/]+"
        return f"(?P<{name}>{body})"

    return re.sub(r"\{(\w+)\}", group, template)


def example(method: str, template: str, status: str = "200") -> Any:
    """A deep copy of the operation's default example answer."""
    content = operation(method, template)["responses"][status]["content"]["application/json"]
    return copy.deepcopy(_deref(content["examples"]["default"])["value"])


def request_problems(method: str, template: str, body: Any) -> list[str]:
    """What in a request body does not fit the operation's ``requestBody`` schema (strict: no unknown keys)."""
    request_body = operation(method, template).get("requestBody")
    if request_body is None:
        return [] if body is None else [f"{method} {template} takes no body"]
    if body is None:
        return ["the body is required"] if request_body.get("required") else []
    schema = request_body["content"]["application/json"]["schema"]
    found: list[str] = []
    _check(schema, body, "body", found, strict=True)
    return found


def response_problems(method: str, template: str, status: int, body: Any) -> list[str]:
    """What in an answer does not fit the operation's response schema for ``status``."""
    responses = operation(method, template)["responses"]
    answer = responses.get(str(status))
    if answer is None:
        return [f"status {status} is not described for {method} {template}"]
    schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
    found: list[str] = []
    if schema is not None:
        _check(schema, body, "response", found, strict=False)
    return found


def schema_problems(component: str, value: Any) -> list[str]:
    """What in ``value`` does not fit ``#/components/schemas/<component>``."""
    found: list[str] = []
    _check({"$ref": f"#/components/schemas/{component}"}, value, component, found, strict=False)
    return found


def _check(schema: dict[str, Any], value: Any, where: str, found: list[str], *, strict: bool) -> None:
    schema = _deref(schema)
    if value is None:
        if not schema.get("nullable") and schema.get("type") is not None:
            found.append(f"{where}: null is not allowed")
        return
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if not any(not _problems_of(option, value, where, strict) for option in schema[key]):
                found.append(f"{where}: fits none of the {key} alternatives")
            return
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind in _TYPES:
        fits = isinstance(value, _TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
        if not fits:
            found.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
            return
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                found.append(f"{where}: missing required {name!r}")
        for name, item in value.items():
            if name in properties:
                _check(properties[name], item, f"{where}.{name}", found, strict=strict)
            elif strict and properties and not schema.get("additionalProperties"):
                found.append(f"{where}: {name!r} is not in the description")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for position, item in enumerate(value):
            _check(schema["items"], item, f"{where}[{position}]", found, strict=strict)


def _problems_of(schema: dict[str, Any], value: Any, where: str, strict: bool) -> list[str]:
    found: list[str] = []
    _check(schema, value, where, found, strict=strict)
    return found
