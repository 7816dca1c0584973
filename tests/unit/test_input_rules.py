"""Names, keys and pydantic errors are checked the same way by every client (core.names, core.invalid_input)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.invalid_input import invalid_input, validate_input
from mlops_sdk.core.names import check_alias, check_endpoint_name, check_idempotency_key, check_model_version


@pytest.fixture
def hub() -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", show_progress=False) as client:
        yield client


BAD_KEYS = ["", " lead", "has space", "-starts-with-dash", "x" * 201, "semi;colon"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_every_client_refuses_the_same_bad_idempotency_key(hub: MLOpsClient, key: str, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    calls: dict[str, Any] = {
        "training": lambda: hub.training.begin_train(
            {"code": code, "command": "python x.py", "experiment": "e"}, idempotency_key=key
        ),
        "data_factory": lambda: hub.data_factory.begin_refresh("nope", idempotency_key=key),
        "approvals": lambda: hub.approvals.request("churn@1", policy={"approvers": ["a"]}, idempotency_key=key),
    }
    for name, call in calls.items():
        with pytest.raises(ConfigurationError) as caught:
            call()
        assert caught.value.details["field"] == "idempotency_key", name
        assert "1-200 characters" in str(caught.value), name


def test_keys_flows_derive_are_valid() -> None:
    for key in ("run-42:train", "flow-9/approve", "nightly-2026-01-01", "a" * 200):
        assert check_idempotency_key(key) == key


@pytest.mark.parametrize("name", ["ab", "-abc", "abc-", "1abc", "a" * 33, "has_underscore"])
def test_endpoint_names_follow_azure_ml_rule_on_every_backend(hub: MLOpsClient, name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        hub.deployments.get_endpoint(name)
    assert caught.value.details["field"] == "endpoint"
    assert "3-32 letters" in str(caught.value)
    with pytest.raises(ConfigurationError):
        check_endpoint_name(name)


def test_reserved_aliases_and_bad_versions_name_their_field() -> None:
    for alias in ("latest", "V3", "9lives", ""):
        with pytest.raises(ConfigurationError) as caught:
            check_alias(alias, field="champion")
        assert caught.value.details["field"] == "champion"
    assert check_model_version(3) == "3"
    for version in (True, "", "3 4"):
        with pytest.raises(ConfigurationError) as caught:
            check_model_version(version)
        assert caught.value.details["field"] == "version"


class _Spec(BaseModel):
    name: str
    count: int

    @field_validator("count")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> _Spec:
        if self.name == "same":
            raise ValueError("name: must differ from 'same'")
        if self.name == "whole":
            raise ValueError("the whole spec is wrong")
        return self


def test_a_pydantic_error_becomes_one_configuration_error_naming_each_field() -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_input(_Spec, {"count": 0}, what="spec", field="spec")
    error = caught.value
    assert str(error) == "invalid spec: name: Field required; count: must be positive"
    assert error.details == {"field": "spec", "errors": ["name: Field required", "count: must be positive"]}
    assert isinstance(error.__cause__, ValidationError)


def test_model_level_problems_are_filed_under_the_field_they_name_or_the_root() -> None:
    with pytest.raises(ValidationError) as first:
        _Spec.model_validate({"name": "same", "count": 1})
    assert invalid_input(first.value, what="spec", where="spec.toml").details["errors"] == [
        "name: must differ from 'same'"
    ]
    with pytest.raises(ValidationError) as second:
        _Spec.model_validate({"name": "whole", "count": 1})
    error = invalid_input(second.value, what="spec", root="(root)")
    assert str(error) == "invalid spec: (root): the whole spec is wrong"


def test_a_configuration_error_raised_in_a_validator_is_kept_as_it_is() -> None:
    class Strict(BaseModel):
        value: int

        @field_validator("value")
        @classmethod
        def _check(cls, value: int) -> int:
            raise ConfigurationError("value: set it in mlops.toml", details={"field": "value"})

    with pytest.raises(ConfigurationError) as caught:
        validate_input(Strict, {"value": 1}, what="strict")
    assert str(caught.value) == "value: set it in mlops.toml"
