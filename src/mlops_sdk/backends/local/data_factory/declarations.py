"""Refresh pipelines declared in ``pipelines.toml`` (next to ``mlops.toml``, else in the project folder).

``mlops.toml`` holds settings only (unknown keys there are errors), so pipeline declarations live in
their own file::

    # pipelines.toml
    [pipelines.sales]
    parameters = { min_amount = { type = "float", default = 0.0 } }

    [[pipelines.sales.activities]]
    type = "copy"
    name = "raw"
    source = "data/sales/*.csv"

    [[pipelines.sales.activities]]
    type = "sql"
    name = "clean"
    query = "SELECT * FROM raw WHERE amount >= $min_amount ORDER BY id"
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mlops_sdk.core.config import Config
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.data_factory import RefreshPipeline, parse_pipeline

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["PIPELINES_FILE", "load_declared_pipelines", "pipelines_file"]

PIPELINES_FILE = "pipelines.toml"


def pipelines_file(config: Config) -> Path:
    """Where ``pipelines.toml`` is looked for: the config file's folder, else the project folder."""
    folder = config.file.resolve().parent if config.file is not None else config.base_dir
    return folder / PIPELINES_FILE


def load_declared_pipelines(path: Path) -> dict[str, RefreshPipeline]:
    """Read every ``[pipelines.<name>]`` table of ``path`` (none when the file does not exist).

    Raises:
        ConfigurationError: invalid TOML, an unknown top-level key, or a malformed declaration
            (the message names the pipeline, the field and the file).
    """
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path} is not valid TOML: {error}") from error
    except RecursionError:  # [[[[...]]]] deeper than the parser follows
        raise ConfigurationError(f"{path} is not valid TOML: nested too deeply") from None
    unknown = sorted(set(data) - {"pipelines"})
    if unknown:
        raise ConfigurationError(
            f"unknown key(s) {unknown} in {path}; declare pipelines as [pipelines.<name>] tables",
            details={"keys": unknown},
        )
    tables = data.get("pipelines", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"'pipelines' in {path} must be a table of tables like [pipelines.sales]")
    pipelines: dict[str, RefreshPipeline] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigurationError(f"pipelines.{name} in {path} must be a table")
        declared = table.get("name", name)
        if declared != name:
            raise ConfigurationError(
                f"pipelines.{name}.name in {path} is {declared!r}; leave it out or make it equal to {name!r}"
            )
        pipelines[name] = parse_pipeline({**table, "name": name}, where=f"{path} [pipelines.{name}]")
    return pipelines
