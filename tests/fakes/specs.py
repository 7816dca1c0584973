"""Check JSON bodies against the definitions of the official Azure REST specs (shared/azure-rest-specs).

A small structural checker, enough for request bodies: unknown keys (unless the definition allows
additional properties), missing required keys, JSON types, enums and ``format: duration`` (ISO 8601).
``$ref`` to the same file is followed (``allOf`` merged); references to files outside the copy (the
common types) accept anything, as the README of the specs folder says they are not included.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}

MACHINE_LEARNING = (
    "azure-machinelearning/specification/machinelearningservices/resource-manager/"
    "Microsoft.MachineLearningServices/stable/2025-12-01/openapi.json"
)
AUTOSCALE = (
    "azure-monitor/specification/monitor/resource-manager/Microsoft.Insights/Insights/stable/2022-10-01/"
    "autoscale_API.json"
)


def specs_folder() -> Path:
    """``shared/azure-rest-specs`` beside the repository (CI), or where ``MLOPS_REST_SPECS`` points."""
    candidates = [os.environ.get("MLOPS_REST_SPECS", "")]
    root = Path(__file__).resolve().parents[2]
    candidates += [str(root.parent / "shared" / "azure-rest-specs"), "/work/shared/azure-rest-specs"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    pytest.skip("shared/azure-rest-specs not found beside the repository (set MLOPS_REST_SPECS)")


@cache
def load(relative: str) -> dict[str, Any]:
    """One spec file, parsed."""
    spec: dict[str, Any] = json.loads((specs_folder() / relative).read_text(encoding="utf-8"))
    return spec


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema with same-file ``$ref`` and ``allOf`` merged; None for an external reference."""
    ref = schema.get("$ref")
    if ref is not None:
        if not ref.startswith("#/definitions/"):
            return None
        target = spec["definitions"].get(ref.removeprefix("#/definitions/"))
        return _resolve(spec, target) if target is not None else None
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    properties = dict(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        base = _resolve(spec, part)
        if base is None:
            merged["additionalProperties"] = True
            continue
        properties = {**(base.get("properties") or {}), **properties}
        required += list(base.get("required") or [])
        for key in ("type", "additionalProperties"):
            merged.setdefault(key, base.get(key))
    if properties:
        merged["properties"] = properties
    merged["required"] = required
    return merged


def problems(spec: dict[str, Any], definition: str, body: Any) -> list[str]:
    """Everything in ``body`` that does not fit ``definitions[definition]`` (empty when it fits)."""
    found: list[str] = []
    _check(spec, {"$ref": f"#/definitions/{definition}"}, body, definition, found)
    return found


def _check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str, found: list[str]) -> None:
    resolved = _resolve(spec, schema)
    if resolved is None or value is None:
        return
    kind = resolved.get("type") or ("object" if resolved.get("properties") else None)
    if kind in _TYPES:
        fits = isinstance(value, _TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
        if not fits:
            found.append(f"{where}: expected {kind}, got {type(value).__name__} {value!r}")
            return
    if "enum" in resolved and value not in resolved["enum"]:
        found.append(f"{where}: {value!r} is not one of {resolved['enum']}")
    if resolved.get("format") == "duration" and not _DURATION.match(str(value)):
        found.append(f"{where}: {value!r} is not an ISO 8601 duration")
    if isinstance(value, dict):
        properties = resolved.get("properties") or {}
        extra = resolved.get("additionalProperties")
        for name in resolved.get("required") or []:
            if name not in value:
                found.append(f"{where}: missing required {name!r}")
        for name, item in value.items():
            if name in properties:
                _check(spec, properties[name], item, f"{where}.{name}", found)
            elif isinstance(extra, dict):
                _check(spec, extra, item, f"{where}.{name}", found)
            elif not extra and properties:
                found.append(f"{where}: {name!r} is not in the spec")
    if isinstance(value, list) and isinstance(resolved.get("items"), dict):
        for position, item in enumerate(value):
            _check(spec, resolved["items"], item, f"{where}[{position}]", found)
