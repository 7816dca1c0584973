"""Refresh value types: declarations, parameter checks, snapshot digests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mlops_sdk.backends.local.data_factory.snapshots import canonical_table, table_digest, write_snapshot
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.data_factory import (
    PipelineInfo,
    PipelineParameter,
    RefreshPipeline,
    check_parameters,
    parse_pipeline,
)

INFO = PipelineInfo(
    name="p",
    parameters={
        "region": PipelineParameter(type="String"),  # type: ignore[arg-type]
        "days": PipelineParameter(type="int", default=7),
        "ratio": PipelineParameter(type="float", default=0.5),
        "full": PipelineParameter(type="bool", default=False),
        "tables": PipelineParameter(type="array", default=[]),
    },
)


def test_parameters_are_checked_by_declared_type() -> None:
    assert check_parameters(INFO, {"region": "eu", "days": 3, "ratio": 1}) == {"region": "eu", "days": 3, "ratio": 1}
    assert check_parameters(INFO, {"region": "eu", "tables": ("a", "b")})["tables"] == ["a", "b"]
    with pytest.raises(ConfigurationError, match="'days' of pipeline 'p' must be int, got bool") as raised:
        check_parameters(INFO, {"region": "eu", "days": True})
    assert raised.value.details["parameter"] == "days"
    with pytest.raises(ConfigurationError, match="needs parameter"):
        check_parameters(INFO, {})


def test_strings_are_coerced_for_the_cli() -> None:
    values = {"region": "7", "days": "3", "ratio": "0.25", "full": "true", "tables": '["a"]'}
    assert check_parameters(INFO, values, coerce_strings=True) == {
        "region": "7",
        "days": 3,
        "ratio": 0.25,
        "full": True,
        "tables": ["a"],
    }
    with pytest.raises(ConfigurationError, match="parameter 'full' must be bool, got 'maybe'"):
        check_parameters(INFO, {"region": "x", "full": "maybe"}, coerce_strings=True)


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        ({"name": "p", "activities": []}, "activities"),
        ({"name": "bad name", "activities": [{"type": "copy", "name": "a", "source": "x"}]}, "name"),
        ({"name": "p", "activities": [{"type": "copy", "name": "a", "source": " "}]}, "activities.0.copy.source"),
        (
            {"name": "p", "activities": [{"type": "copy", "name": "a", "source": "x", "sink": "y"}]},
            "activities.0.copy.sink",
        ),
        (
            {"name": "p", "activities": [{"type": "python", "name": "a", "function": "no_colon"}]},
            "activities.0.python.function",
        ),
        (
            {
                "name": "p",
                "parameters": {"x": {"type": "date"}},
                "activities": [{"type": "sql", "name": "a", "query": "select 1"}],
            },
            "parameters.x.type",
        ),
        (
            {
                "name": "p",
                "parameters": {"mlops_request_id": "string"},
                "activities": [{"type": "sql", "name": "a", "query": "select 1"}],
            },
            "parameters",
        ),
        (
            {"name": "p", "activities": [{"type": "python", "name": "b", "function": "m:f", "inputs": ["a"]}]},
            "activities",
        ),
    ],
)
def test_malformed_declarations_name_the_field(declaration: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_pipeline(declaration)
    assert any(problem.startswith(f"{field}:") for problem in raised.value.details["errors"]), raised.value


def test_parameter_shorthand_and_required() -> None:
    pipeline = RefreshPipeline.model_validate(
        {
            "name": "p",
            "parameters": {"since": "String", "n": {"type": "int", "default": 1}},
            "activities": [{"type": "sql", "name": "a", "query": "select 1"}],
        }
    )
    assert pipeline.parameters["since"].type == "string"
    assert pipeline.parameters["since"].required
    assert not pipeline.parameters["n"].required


def test_digest_ignores_chunking_and_metadata_but_not_content(tmp_path: Path) -> None:
    one = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    chunked = pa.concat_tables([one.slice(0, 1), one.slice(1)]).replace_schema_metadata({"pandas": "{}"})
    assert table_digest(canonical_table(one)) == table_digest(canonical_table(chunked))
    assert table_digest(canonical_table(one)) != table_digest(canonical_table(one.slice(0, 2)))

    first = write_snapshot(one, tmp_path / "datasets", tmp_path / "datasets" / ".tmp" / "r1")
    second = write_snapshot(chunked, tmp_path / "datasets", tmp_path / "datasets" / ".tmp" / "r2")
    assert first == second
    assert first.path.name == first.digest.split(":")[1] + ".parquet"
    assert first.row_count == 3
    assert not list((tmp_path / "datasets" / ".tmp").rglob("*.partial"))
