"""The one decision of what is secret, the Secret type, and errors that mask once at the type."""

from __future__ import annotations

import json
import pickle
import uuid

import pytest

from mlops_sdk import ConfigurationError, OperationFailedError, PipelineParameter, Secret
from mlops_sdk.core.errors import error_from_dict
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import is_secret, masked, protect, reveal, secret_name, split_secrets
from mlops_sdk.models.data_factory import PipelineInfo, RefreshRun, check_parameters
from mlops_sdk.models.training import TrainingJob


def canary() -> str:
    return f"Cnry{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    "value",
    [
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123def456;EndpointSuffix=core.windows.net",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc123def456",
        "Server=tcp:db;Database=x;User ID=u;Password=hunter22;",
        "https://acct.blob.core.windows.net/c/x.csv?sv=2024-01-01&sp=r&sig=abcDEF123%3D",
        "Bearer abcdefghijklmnop",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl",
    ],
)
def test_values_with_a_secret_shape_are_secret(value: str) -> None:
    assert is_secret(value)
    assert isinstance(protect(value), Secret)


@pytest.mark.parametrize("value", ["eu-west", "2026-01-01", "data/sales.csv", "***", "idempotency_key=flow-1:refresh"])
def test_ordinary_values_are_not(value: str) -> None:
    assert not is_secret(value)
    assert protect(value) == value


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("STORAGE_KEY", True),
        ("SERVICE_TOKEN", True),
        ("apiToken", True),
        ("AZURE_CLIENT_SECRET", True),
        ("DB_PASSWORD", True),
        ("ADO_PAT", True),
        ("BLOB_SAS", True),
        ("SQL_CONNECTION_STRING", True),
        ("PATH", False),
        ("PYTHONPATH", False),
        ("LOG_LEVEL", False),
        ("MONKEY_COUNT", False),
    ],
)
def test_environment_variable_names(name: str, secret: bool) -> None:
    assert secret_name(name) is secret
    assert is_secret("plain-value-123", name=name) is secret


def test_a_secret_shows_as_mask_everywhere_and_registers_its_value() -> None:
    value = canary()
    secret = Secret(value)
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert reveal(secret) == value
    assert redact(f"connecting with {value}") == "connecting with ***"
    assert split_secrets({"a": secret, "b": 1}) == ({"a": "***", "b": 1}, {"a": value})
    assert masked({"nested": [secret, f"x{value}"]}) == {"nested": ["***", "x***"]}


def test_declared_secure_parameters_are_secret_whatever_their_value() -> None:
    value = canary()  # no secret shape: only the declaration says so
    info = PipelineInfo(
        name="p",
        parameters={
            "token": PipelineParameter(type="secureString"),
            "password": PipelineParameter(type="string", secret=True),
            "region": PipelineParameter(type="string"),
        },
    )
    checked = check_parameters(info, {"token": value, "password": value, "region": "eu"})
    assert isinstance(checked["token"], Secret)
    assert isinstance(checked["password"], Secret)
    assert checked["region"] == "eu"
    assert reveal(checked["token"]) == value
    with pytest.raises(ConfigurationError) as caught:
        check_parameters(
            PipelineInfo(name="p", parameters={"n": PipelineParameter(type="int", secret=True)}), {"n": value}
        )
    assert value not in str(caught.value)


def test_a_secure_default_is_held_as_a_secret() -> None:
    value = canary()
    parameter = PipelineParameter(type="securestring", default=value)
    assert value not in repr(parameter) + parameter.model_dump_json()
    assert reveal(parameter.default) == value


def test_runs_mask_secret_parameters_and_service_messages() -> None:
    key = canary()
    run = RefreshRun(
        run_id="r",
        pipeline="p",
        status="Failed",
        parameters={"conn": f"AccountKey={key}", "token": Secret(canary()), "region": "eu"},
        message=f"cannot open AccountKey={key}",
    )
    assert run.parameters == {"conn": "***", "token": "***", "region": "eu"}
    assert key not in repr(run) + run.model_dump_json()


def test_job_environment_values_are_secrets_by_shape_name_and_type() -> None:
    explicit, token = canary(), canary()
    job = TrainingJob(
        code=".",
        command="python x.py",
        environment_variables={"A": "AccountKey=abcdef123456", "API_TOKEN": token, "B": Secret(explicit), "C": "c"},
    )
    assert [type(job.environment_variables[name]).__name__ for name in ["A", "API_TOKEN", "B", "C"]] == [
        "Secret",
        "Secret",
        "Secret",
        "str",
    ]
    assert json.loads(job.model_dump_json())["environment_variables"] == {
        "A": "***",
        "API_TOKEN": "***",
        "B": "***",
        "C": "c",
    }
    assert explicit not in repr(job)
    assert token not in repr(job)


def test_errors_mask_message_details_repr_to_dict_and_pickle_once_at_the_type() -> None:
    signature = canary()
    uri = f"https://acct.blob.core.windows.net/c/x.csv?sv=1&sig={signature}"
    secret = Secret(canary())
    error = OperationFailedError(
        f"cannot read {uri}",
        operation_id="op-1",
        details={"uri": uri, "nested": {"values": [uri, secret]}, "count": 3},
    )
    surfaces = [str(error), repr(error), json.dumps(error.to_dict()), str(error.details)]
    revived = pickle.loads(pickle.dumps(error))
    surfaces += [str(revived), repr(revived), json.dumps(revived.to_dict())]
    surfaces.append(json.dumps(error_from_dict(error.to_dict()).to_dict()))
    assert not [text for text in surfaces if signature in text or reveal(secret) in text]
    assert error.details["count"] == 3
    assert error.details["nested"]["values"][1] == "***"
    assert repr(error).startswith("OperationFailedError('cannot read https://acct.blob.core.windows.net/c/x.csv")
