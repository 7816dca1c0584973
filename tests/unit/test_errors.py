"""The error tree: fields, chaining, redaction, JSON and pickle round-trips, status mapping."""

from __future__ import annotations

import pickle

import pytest

from mlops_sdk import errors as public_errors
from mlops_sdk.core import errors
from mlops_sdk.core.errors import (
    ConflictError,
    MlopsError,
    ServerError,
    ServiceResponseError,
    ThrottledError,
    error_for_status,
    error_from_dict,
)

ALL_ERRORS = [getattr(errors, name) for name in errors.__all__ if name[0].isupper()]


def test_tree_matches_the_contract() -> None:
    assert issubclass(errors.AuthenticationError, ServiceResponseError)
    assert issubclass(errors.ValidationFailedError, errors.GateError)
    assert issubclass(errors.OperationTimeoutError, errors.OperationError)
    assert issubclass(errors.PipelineCycleError, errors.PipelineSpecError)
    assert issubclass(errors.PipelineSpecError, errors.ConfigurationError)
    assert all(issubclass(cls, MlopsError) for cls in ALL_ERRORS)
    assert len(ALL_ERRORS) == 22
    assert set(public_errors.__all__) == {cls.__name__ for cls in ALL_ERRORS}


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_round_trips_through_json_and_pickle(cls: type[MlopsError]) -> None:
    kwargs = {"retry_after": 2.5} if issubclass(cls, ServiceResponseError) else {}
    error = cls(
        "it broke",
        backend="azure",
        operation_id="run-1",
        status_code=503,
        request_id="req-9",
        details={"activity": "Copy"},
        **kwargs,
    )
    for copy in (error_from_dict(error.to_dict()), pickle.loads(pickle.dumps(error))):
        assert type(copy) is cls
        assert copy.to_dict() == error.to_dict()
        assert str(copy) == str(error)
    assert "operation_id=run-1" in str(error)
    assert "request_id=req-9" in str(error)


def test_cause_is_chained() -> None:
    try:
        try:
            raise OSError("socket closed")
        except OSError as inner:
            raise errors.ServiceRequestError("could not reach", backend="azure") from inner
    except errors.ServiceRequestError as outer:
        assert isinstance(outer.__cause__, OSError)


def test_messages_are_redacted() -> None:
    error = MlopsError("call failed: Authorization: Bearer abc.def-ghi and AccountKey=s3cr3t==;")
    assert "abc.def-ghi" not in str(error)
    assert "s3cr3t" not in str(error)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.ResourceNotFoundError),
        (409, ConflictError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
        (400, ServiceResponseError),
    ],
)
def test_error_for_status(status: int, cls: type[ServiceResponseError]) -> None:
    error = error_for_status(status, "x", retry_after=1.0)
    assert type(error) is cls
    assert error.status_code == status
    assert error.retry_after == 1.0


def test_unknown_type_in_dict_comes_back_as_base_error() -> None:
    error = error_from_dict({"type": "SomethingNew", "message": "m", "retry_after": 3})
    assert type(error) is MlopsError
    assert error.message == "m"
