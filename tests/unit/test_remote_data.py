"""Validation data given as a remote URI: read through the backend's fetcher, else a clear error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_sdk.checks.data import load_dataset
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.data_factory import DataOutput

URI = "azureml://datastores/workspaceblobstore/paths/refresh/run-1/eval_set.parquet"


def test_remote_refresh_output_is_read_through_the_fetcher(tmp_path: Path) -> None:
    local = tmp_path / "eval_set.parquet"
    pd.DataFrame({"a": [1, 2], "target": [0.5, 0.7]}).to_parquet(local)
    asked: list[str] = []

    def fetch(uri: str) -> Path:
        asked.append(uri)
        return local

    output = DataOutput(name="eval_set", uri=URI, version="abc123", run_id="run-1")
    dataset = load_dataset(output, field="data", fetch=fetch)
    assert asked == [URI]
    assert dataset.version == "abc123"
    assert dataset.source == URI
    assert list(dataset.frame["a"]) == [1, 2]
    reference = load_dataset(URI, field="reference", fetch=fetch)
    assert reference.source == URI
    assert reference.rows == 2


def test_remote_uri_without_a_fetcher_names_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"reference: azureml://datastores/.* is remote data"):
        load_dataset(URI, field="reference")
