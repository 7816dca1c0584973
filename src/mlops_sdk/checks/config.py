"""Checks declared in TOML (``mlops validate --checks checks.toml``).

.. code-block:: toml

    target = "progression"        # label column of the evaluation data (optional)
    champion = "champion"         # alias of the version to beat (optional)

    [[checks]]
    type = "MetricThreshold"
    metric = "rmse"
    max = 60

    [[checks]]
    type = "BeatsChampion"
    metric = "rmse"
    min_delta = 0.5
    bootstrap = 1000

    [[checks]]
    type = "NoDrift"
    reference = "data/train.parquet"   # relative paths resolve against this file's folder
    max_psi = 0.2

    [[checks]]
    type = "my_package.checks:LatencyCheck"   # your own check class, constructed with the other keys
    max_ms = 50
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_sdk.checks.builtin import BeatsChampion, DataQuality, MetricThreshold, NoDrift, SignatureCheck
from mlops_sdk.core.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["BUILTIN_CHECKS", "ChecksFile", "load_checks"]

BUILTIN_CHECKS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (MetricThreshold, BeatsChampion, DataQuality, NoDrift, SignatureCheck)
}
_PATH_KEYS = {"NoDrift": ("reference",), "SignatureCheck": ("sample",)}
_TOP_KEYS = {"target", "champion", "checks"}


@dataclass(frozen=True)
class ChecksFile:
    """What a checks file declares."""

    checks: list[Any]
    target: str | None = None
    champion: str | None = None
    path: Path | None = field(default=None)


def _check_class(kind: str, where: str) -> type[Any]:
    if kind in BUILTIN_CHECKS:
        return BUILTIN_CHECKS[kind]
    if ":" not in kind:
        raise ConfigurationError(
            f"{where}: unknown check type {kind!r}; built-in types: {', '.join(BUILTIN_CHECKS)} "
            "(or 'package.module:ClassName' for your own)",
            details={"field": "type", "value": kind},
        )
    module_name, _, attribute = kind.partition(":")
    try:
        loaded = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(
            f"{where}: cannot import check {kind!r}: {error}", details={"field": "type", "value": kind}
        ) from error
    if not inspect.isclass(loaded):
        raise ConfigurationError(f"{where}: {kind!r} is not a class", details={"field": "type", "value": kind})
    return loaded


def _build(entry: Any, index: int, base: Path, file: Path) -> Any:
    where = f"{file} checks[{index}]"
    if not isinstance(entry, dict) or "type" not in entry:
        raise ConfigurationError(
            f'{where}: each [[checks]] table needs a type = "..." key', details={"field": "type", "file": str(file)}
        )
    options = dict(entry)
    kind = str(options.pop("type"))
    cls = _check_class(kind, where)
    for key in _PATH_KEYS.get(kind, ()):
        value = options.get(key)
        if isinstance(value, str) and not Path(value).is_absolute() and "://" not in value:
            options[key] = str(base / value)
    if kind == "DataQuality" and isinstance(options.get("ranges"), dict):
        options["ranges"] = {column: tuple(bounds) for column, bounds in options["ranges"].items()}
    parameters = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown key(s) {', '.join(unknown)} for {kind}; it takes: {', '.join(parameters)}",
                details={"field": unknown[0], "file": str(file)},
            )
    try:
        return cls(**options)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}: {error.message}", details=error.details) from error
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"{where}: {kind}: {error}", details={"file": str(file)}) from error


def load_checks(path: str | Path) -> ChecksFile:
    """Read a checks file.

    Raises:
        ConfigurationError: unreadable TOML, unknown top-level or check keys, unknown check types;
            the message names the file and the entry.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"checks file {file} does not exist", details={"field": "checks"}) from None
    except OSError as error:
        reason = error.strerror or "unreadable"
        raise ConfigurationError(f"cannot read checks file {file} ({reason})", details={"field": "checks"}) from error
    except UnicodeDecodeError:
        raise ConfigurationError(f"checks file {file} is not UTF-8 text", details={"field": "checks"}) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{file} is not valid TOML: {error}", details={"field": "checks"}) from error
    except RecursionError:  # [[[[...]]]] deeper than the parser follows
        raise ConfigurationError(f"{file} is not valid TOML: nested too deeply", details={"field": "checks"}) from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{file}: unknown key(s) {', '.join(unknown)}; a checks file has {', '.join(sorted(_TOP_KEYS))}",
            details={"field": unknown[0], "file": str(file)},
        )
    entries = data.get("checks", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigurationError(f"{file}: declare at least one [[checks]] table", details={"field": "checks"})
    base = file.resolve().parent
    checks = [_build(entry, index, base, file) for index, entry in enumerate(entries)]
    target, champion = data.get("target"), data.get("champion")
    return ChecksFile(
        checks=checks,
        target=str(target) if target is not None else None,
        champion=str(champion) if champion is not None else None,
        path=file,
    )
