"""Value types of data refreshes: pipeline declarations (local engine), runs, outputs, triggers.

``RefreshRun`` is what both backends return: the run on the one status enum (the service's own word
kept in ``native_status``), its activity runs, and the data assets it produced (``outputs``), each
with a stable ``uri`` and a content ``digest`` so a training job can take it as an input directly.

``RefreshPipeline`` (with ``Copy``, ``Sql`` and ``Python`` activities) declares a pipeline for the
local engine; on Azure the pipeline is authored in Data Factory itself.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.invalid_input import inside, invalid_input
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import MASK, is_secret, protect
from mlops_sdk.core.status import Status

__all__ = [
    "REQUEST_ID_PARAMETER",
    "ActivityError",
    "ActivityRun",
    "Column",
    "Copy",
    "CopyActivity",
    "DataOutput",
    "PipelineInfo",
    "PipelineParameter",
    "Python",
    "PythonActivity",
    "RefreshPipeline",
    "RefreshRun",
    "Schedule",
    "Sql",
    "SqlActivity",
    "StorageEvent",
    "TriggerInfo",
    "callable_reference",
    "check_parameters",
    "mask_parameters",
    "parse_pipeline",
]

REQUEST_ID_PARAMETER = "mlops_request_id"
"""Pipeline parameter carrying the idempotency key of a refresh (looked up before creating a run)."""

ParameterType = Literal["string", "int", "float", "bool", "array", "object", "securestring"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _identifier(value: str, what: str) -> str:
    if not _NAME.match(value) or keyword.iskeyword(value):
        raise ValueError(
            f"{what} {value!r} must be an identifier (letters, digits, underscore; not starting with a digit)"
        )
    return value


# --- pipeline declarations (local engine) -----------------------------------------------------


class PipelineParameter(InputSpec):
    """A declared pipeline parameter.

    A parameter without ``default`` is required. Types follow Data Factory's (``string``, ``int``,
    ``float``, ``bool``, ``array``, ``object``, ``securestring``), case-insensitively.

    A ``securestring`` parameter, or one declared with ``secret=True``, is secret: its value (and
    its default) is held as a :class:`~mlops_sdk.core.secrets.Secret`, never stored in the local
    store, and shown as ``***`` in runs, reprs, errors and ``--output json``.
    """

    type: ParameterType = "string"
    secret: bool = False
    """Treat values of this parameter as secrets (implied by ``type="securestring"``)."""
    default: Any = None

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("default")
    @classmethod
    def _secret_default(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("secret") or info.data.get("type") == "securestring":
            return protect(value, declared=True)
        return value

    @property
    def required(self) -> bool:
        """True when no default was declared."""
        return "default" not in self.model_fields_set

    @property
    def is_secret(self) -> bool:
        """True for ``securestring`` parameters and those declared with ``secret=True``."""
        return self.secret or self.type == "securestring"


class _Activity(InputSpec):
    name: str
    """Name of the activity; also the name of its output (a table name in later SQL activities)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "activity name")


class CopyActivity(_Activity):
    """Copy CSV, Parquet or JSON files (a file, a folder or a glob) into a dataset.

    ``source`` may use pipeline parameters as ``${name}``; relative paths resolve against the
    project folder (where ``mlops.toml`` is, else the working directory).
    """

    type: Literal["copy"] = "copy"
    source: str
    format: Literal["auto", "csv", "parquet", "json"] = "auto"
    options: dict[str, Any] = Field(default_factory=dict)
    """Extra reader options passed to DuckDB (``delim``, ``header``, ...)."""

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must name a file, a folder or a glob pattern")
        return value


class SqlActivity(_Activity):
    """A DuckDB SQL query over the outputs of earlier activities (referenced by their names).

    Pipeline parameters are available as prepared-statement parameters ``$name``.
    """

    type: Literal["sql"] = "sql"
    query: str

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must be a SQL SELECT over earlier outputs")
        return value


class PythonActivity(_Activity):
    """Call ``function(inputs, parameters)`` and keep what it returns as a dataset.

    ``function`` is an importable ``"module:qualname"`` (a module-level callable is converted to
    that form). It receives ``inputs`` (output name -> ``pyarrow.Table``; all earlier outputs, or
    those named in ``inputs``) and ``parameters`` (a dict) and returns a ``pyarrow.Table``, a pandas
    ``DataFrame`` or ``None`` (no output). It runs in the refresh worker process.
    """

    type: Literal["python"] = "python"
    function: str
    inputs: tuple[str, ...] | None = None

    @field_validator("function", mode="before")
    @classmethod
    def _function(cls, value: Any) -> Any:
        if callable(value) and not isinstance(value, str):
            return callable_reference(value)
        return value

    @field_validator("function")
    @classmethod
    def _reference(cls, value: str) -> str:
        module, sep, qualname = value.partition(":")
        if not sep or not module or not qualname or "<" in qualname:
            raise ValueError(f"function {value!r} must be an importable 'package.module:callable' reference")
        return value


def callable_reference(function: Callable[..., Any]) -> str:
    """Return ``"module:qualname"`` for a module-level callable (what the worker process imports)."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValueError(
            f"function {qualname or function!r} must be defined at module level in an importable module "
            "(not a lambda, a nested function or __main__): the refresh runs in a worker process that imports it"
        )
    return f"{module}:{qualname}"


Copy = CopyActivity
"""Short name of :class:`CopyActivity`."""
Sql = SqlActivity
"""Short name of :class:`SqlActivity`."""
Python = PythonActivity
"""Short name of :class:`PythonActivity`."""

Activity = Annotated[CopyActivity | SqlActivity | PythonActivity, Field(discriminator="type")]


class RefreshPipeline(InputSpec):
    """A refresh pipeline for the local engine: activities run in order, each output a dataset.

    Example::

        RefreshPipeline(
            name="sales",
            parameters={"min_amount": PipelineParameter(type="float", default=0.0)},
            activities=[
                Copy(name="raw", source="data/sales/*.csv"),
                Sql(name="clean", query="SELECT * FROM raw WHERE amount >= $min_amount ORDER BY id"),
            ],
        )
    """

    name: str
    activities: tuple[Activity, ...]
    parameters: dict[str, PipelineParameter] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _pipeline_name(cls, value: str) -> str:
        if not _PIPELINE_NAME.match(value):
            raise ValueError(f"pipeline name {value!r} may use letters, digits, '_', '-' and '.' only")
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameter_shorthand(cls, value: Any) -> Any:
        # {"since": "string"} is short for {"since": {"type": "string"}}.
        if isinstance(value, Mapping):
            return {key: {"type": item} if isinstance(item, str) else item for key, item in value.items()}
        return value

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, PipelineParameter]) -> dict[str, PipelineParameter]:
        for name in value:
            _identifier(name, "parameter name")
            if name == REQUEST_ID_PARAMETER:
                raise ValueError(f"parameter name {REQUEST_ID_PARAMETER!r} is reserved for the idempotency key")
            _check_default(name, value[name])
        return value

    @model_validator(mode="after")
    def _activities(self) -> RefreshPipeline:
        if not self.activities:
            raise ValueError("activities: declare at least one activity")
        seen: set[str] = set()
        for activity in self.activities:
            if activity.name in seen:
                raise ValueError(f"activities: two activities are named {activity.name!r}; names must be unique")
            if isinstance(activity, PythonActivity) and activity.inputs is not None:
                unknown = [name for name in activity.inputs if name not in seen]
                if unknown:
                    raise ValueError(
                        f"activities: python activity {activity.name!r} takes inputs {unknown} that no earlier "
                        f"activity produces (earlier: {sorted(seen)})"
                    )
            seen.add(activity.name)
        return self


def parse_pipeline(
    data: RefreshPipeline | Mapping[str, Any], *, where: str = "the pipeline declaration"
) -> RefreshPipeline:
    """Validate a declaration; a malformed one is a :class:`ConfigurationError` naming each bad field."""
    if isinstance(data, RefreshPipeline):
        return data
    try:
        with inside():
            return RefreshPipeline.model_validate(data)
    except ValidationError as error:
        raise invalid_input(
            error, what="refresh pipeline", where=where, root="(root)", model=RefreshPipeline
        ) from error


# --- what the service tells about a pipeline --------------------------------------------------


class PipelineInfo(BaseModel):
    """A pipeline as the backend knows it: its name and declared parameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    parameters: dict[str, PipelineParameter] = Field(default_factory=dict)
    activities: tuple[str, ...] = ()
    description: str | None = None


# --- runs -------------------------------------------------------------------------------------


class ActivityError(BaseModel):
    """The error an activity run reported."""

    model_config = ConfigDict(frozen=True)

    message: str
    code: str | None = None
    failure_type: str | None = None

    @field_validator("message")
    @classmethod
    def _redact(cls, value: str) -> str:
        return redact(value)


class ActivityRun(BaseModel):
    """One activity of a pipeline run."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    status: Status
    native_status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: ActivityError | None = None
    output: dict[str, Any] = Field(default_factory=dict)


class Column(BaseModel):
    """One column of a dataset."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str


class DataOutput(BaseModel):
    """A data asset a refresh produced, usable directly as a training input.

    Attributes:
        name: Output name (the activity name locally, the return-value key on Azure).
        uri: Where to read it: the Parquet snapshot path locally, what the pipeline reported on Azure.
        digest: ``sha256:<hex>`` of the content, when known (always locally).
        version: Short data version: the first 12 hex digits of the digest, else the run id.
        columns: Schema, when known.
        row_count: Number of rows, when known.
        format: ``parquet`` locally; on Azure whatever the pipeline reported (may be ``None``).
        run_id: The refresh run that produced it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    uri: str
    digest: str | None = None
    version: str
    columns: tuple[Column, ...] = ()
    row_count: int | None = None
    format: str | None = None
    run_id: str | None = None

    def __str__(self) -> str:
        return self.uri


class RefreshRun(BaseModel):
    """One pipeline run.

    Attributes:
        run_id: The run id (Data Factory's ``runId``, a UUID locally).
        pipeline: Pipeline name.
        status: State on the one status enum.
        native_status: ``Queued``, ``InProgress``, ``Canceling``, ``Succeeded``, ``Failed``, ``Cancelled``.
        started_at / ended_at: When it ran.
        parameters: Parameters it ran with (``mlops_request_id`` included).
        activities: Its activity runs, in order.
        outputs: Data assets it produced, by name.
        message: The service's message (why it failed, ...).
        idempotency_key: The ``mlops_request_id`` it was started with, if any.
        reference_run_id: For a rerun, the run it recovers.
        lineage: Where it came from (git, CI, user; ``refresh_run_id`` and ``data_versions`` set).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    pipeline: str
    status: Status
    native_status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    activities: tuple[ActivityRun, ...] = ()
    outputs: dict[str, DataOutput] = Field(default_factory=dict)
    message: str | None = None
    idempotency_key: str | None = None
    reference_run_id: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)

    @field_validator("parameters")
    @classmethod
    def _mask_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return mask_parameters(value)

    @field_validator("message")
    @classmethod
    def _redact_message(cls, value: str | None) -> str | None:
        # The service's own words may quote a connection string it could not use.
        return redact(value) if value else value

    @property
    def failed_activity(self) -> ActivityRun | None:
        """The first failed activity, if any."""
        return next((activity for activity in self.activities if activity.status is Status.FAILED), None)

    def output(self, name: str | None = None) -> DataOutput:
        """Return output ``name``; without a name, the only output or the last activity's one.

        Raises:
            ConfigurationError: no such output (the message lists the outputs there are).
        """
        if name is None:
            if len(self.outputs) == 1:
                return next(iter(self.outputs.values()))
            for activity in reversed(self.activities):
                if activity.name in self.outputs:
                    return self.outputs[activity.name]
        elif name in self.outputs:
            return self.outputs[name]
        raise ConfigurationError(
            f"refresh run {self.run_id} has no output {name!r}; outputs: {sorted(self.outputs) or 'none'}",
            operation_id=self.run_id,
        )


# --- triggers ---------------------------------------------------------------------------------


class Schedule(InputSpec):
    """A recurrence for a schedule trigger (Data Factory ``ScheduleTrigger``)."""

    frequency: Literal["Minute", "Hour", "Day", "Week", "Month"]
    interval: int = Field(default=1, ge=1)
    start_time: datetime | None = None
    end_time: datetime | None = None
    time_zone: str = "UTC"
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    week_days: tuple[Literal["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"], ...] = ()

    @field_validator("frequency", mode="before")
    @classmethod
    def _capitalise(cls, value: Any) -> Any:
        return value.capitalize() if isinstance(value, str) else value


class StorageEvent(InputSpec):
    """A storage-event ("data lake") trigger: start a refresh when blobs are created or deleted.

    Args:
        scope: ARM resource id of the storage account.
        blob_path_begins_with: e.g. ``/container/blobs/landing/``.
        blob_path_ends_with: e.g. ``.parquet``.
        events: ``created`` and/or ``deleted``.
        ignore_empty_blobs: Skip zero-byte blobs.
    """

    scope: str
    blob_path_begins_with: str | None = None
    blob_path_ends_with: str | None = None
    events: tuple[Literal["created", "deleted"], ...] = ("created",)
    ignore_empty_blobs: bool = True

    @model_validator(mode="after")
    def _path(self) -> StorageEvent:
        if not (self.blob_path_begins_with or self.blob_path_ends_with):
            raise ValueError("set blob_path_begins_with and/or blob_path_ends_with")
        if not self.events:
            raise ValueError("events: name at least one of 'created', 'deleted'")
        return self


class TriggerInfo(BaseModel):
    """A trigger as the service reports it."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    """Native type: ``ScheduleTrigger`` or ``BlobEventsTrigger`` (others are listed as they are)."""
    runtime_state: str | None = None
    """``Started``, ``Stopped`` or ``Disabled``."""
    pipelines: tuple[str, ...] = ()
    parameters: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    """The trigger's ``typeProperties`` as the service returned them."""

    @field_validator("parameters")
    @classmethod
    def _mask_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return mask_parameters(value)


# --- parameter checking (both backends) -------------------------------------------------------


def _check_default(name: str, parameter: PipelineParameter) -> None:
    """A declared default must be a value of the parameter's type (a float one finite), like a value given."""
    default = parameter.default
    if default is None or parameter.is_secret:
        return
    kind = parameter.type
    expected = _PYTHON_TYPES[kind]
    if not isinstance(default, expected) or (kind in ("int", "float") and isinstance(default, bool)):
        raise ValueError(f"parameter {name!r}: default must be {kind}, got {type(default).__name__} {default!r}")
    if _non_finite(default) is not None:
        raise ValueError(f"parameter {name!r}: default must hold finite numbers only, got {_short(default)}")
    if _beyond_int64(default):
        raise ValueError(f"parameter {name!r}: default must be a 64-bit integer, got {default!r}")


_INT64_MAX = 2**63 - 1


def _beyond_int64(value: Any) -> bool:
    """An integer no 64-bit store or service holds (the bound of every count, id and number the SDK takes)."""
    return isinstance(value, int) and not isinstance(value, bool) and not -_INT64_MAX - 1 <= value <= _INT64_MAX


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "securestring": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def _coerce(name: str, value: str, kind: str) -> Any:
    import json

    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if kind in ("array", "object"):
            return json.loads(value)
    except RecursionError:  # [[[[...]]]] deeper than the JSON parser goes
        raise ConfigurationError(
            f"parameter {name!r} must be {kind}: its JSON is nested too deeply",
            details={"parameter": name, "type": kind},
        ) from None
    except ValueError:
        raise ConfigurationError(
            f"parameter {name!r} must be {kind}, got {value!r}", details={"parameter": name, "type": kind}
        ) from None
    return value


def _short(value: Any) -> str:
    """``repr(value)`` cut to 80 characters (a parameter may be a long or deeply nested list)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply"
    return text if len(text) <= 80 else text[:77] + "..."


def _non_finite(value: Any) -> float | None:
    """The first NaN or infinite float inside ``value`` (lists, tuples and mappings walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return item
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def mask_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` with every secret value (by type, shape or registration) replaced by ``***``."""
    return {name: MASK if is_secret(value) else value for name, value in parameters.items()}


def check_parameters(
    info: PipelineInfo, parameters: Mapping[str, Any] | None, *, coerce_strings: bool = False
) -> dict[str, Any]:
    """Check ``parameters`` against the pipeline's declared ones and return them (as given or coerced).

    Args:
        info: The pipeline's declaration.
        parameters: Values by name.
        coerce_strings: Convert string values to the declared type (the CLI's ``--param k=v``).

    Secret values (declared secure parameters, string values with a secret's shape, values given
    as :class:`~mlops_sdk.core.secrets.Secret`) come back as ``Secret``: backends store ``***`` for
    them and hand the real value only to the run.

    Raises:
        ConfigurationError: an unknown parameter, a value of the wrong type, a float that is NaN or
            infinite, or a missing required one; the message names the parameter and the expected type.
    """
    given = dict(parameters or {})
    if REQUEST_ID_PARAMETER in given:
        raise ConfigurationError(
            f"parameter {REQUEST_ID_PARAMETER!r} is set by the SDK; pass idempotency_key=... instead",
            details={"parameter": REQUEST_ID_PARAMETER},
        )
    declared = {name: spec for name, spec in info.parameters.items() if name != REQUEST_ID_PARAMETER}
    result: dict[str, Any] = {}
    for name, value in given.items():
        if not isinstance(name, str) or name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigurationError(
                f"pipeline {info.name!r} has no parameter {name!r}; declared parameters: {known}",
                details={"parameter": name, "known": sorted(declared)},
            )
        kind = declared[name].type
        if kind in ("string", "securestring") and isinstance(value, str | SecretStr):
            result[name] = protect(value, declared=declared[name].is_secret)
            continue
        if coerce_strings and isinstance(value, str) and kind not in ("string", "securestring"):
            value = _coerce(name, value, kind)
        expected = _PYTHON_TYPES[kind]
        if not isinstance(value, expected) or (kind in ("int", "float") and isinstance(value, bool)):
            shown = MASK if declared[name].is_secret or is_secret(value) else repr(value)
            raise ConfigurationError(
                f"parameter {name!r} of pipeline {info.name!r} must be {kind}, got {type(value).__name__} {shown}",
                details={"parameter": name, "type": kind, "got": type(value).__name__},
            )
        if _beyond_int64(value):  # DuckDB would make it a DECIMAL column, Data Factory refuses it
            raise ConfigurationError(
                f"parameter {name!r} of pipeline {info.name!r} must be a 64-bit integer "
                f"(at most {_INT64_MAX} in size), got {value!r}",
                details={"parameter": name, "type": kind, "got": repr(value)},
            )
        bad = _non_finite(value)
        if bad is not None:
            # NaN compares false with everything (a filter would silently drop every row); JSON has neither,
            # so an array or object holding one could not even be sent to Data Factory.
            what = "a finite number" if isinstance(value, float) else f"{kind} of finite numbers (it holds {bad!r})"
            raise ConfigurationError(
                f"parameter {name!r} of pipeline {info.name!r} must be {what}, got {_short(value)}",
                details={"parameter": name, "type": kind, "got": repr(bad)},
            )
        result[name] = list(value) if isinstance(value, tuple) else value
    missing = [name for name, spec in declared.items() if spec.required and name not in result]
    if missing:
        raise ConfigurationError(
            f"pipeline {info.name!r} needs parameter(s) {', '.join(repr(m) for m in missing)}: they have no default",
            details={"missing": missing},
        )
    return result
