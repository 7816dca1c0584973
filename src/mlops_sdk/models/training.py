"""Value types of training: the job spec users write (:class:`TrainingJob`) and the run they get back.

The command uses Azure ML's own placeholder syntax, ``${{inputs.NAME}}`` and ``${{outputs.NAME}}``,
so one spec runs unchanged as a local subprocess and as an Azure ML command job. Every placeholder
must name a declared input or output: a typo is a :class:`~mlops_sdk.core.errors.ConfigurationError`
naming it, raised when the spec is built, before anything is submitted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from mlops_sdk.core.datadigest import snapshot_version
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.invalid_input import inside, invalid_input
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import Secret
from mlops_sdk.core.status import Status
from mlops_sdk.models._spec_fields import (
    coerce_values,
    load_yaml_mapping,
    protect_environment,
    redacted,
    resource_name,
)

__all__ = [
    "PLACEHOLDER",
    "TrainingInput",
    "TrainingJob",
    "TrainingOutput",
    "TrainingRun",
]

PLACEHOLDER = re.compile(r"\$\{\{\s*(?P<body>[^}]*?)\s*\}\}")
"""Any ``${{ ... }}`` placeholder in a command."""
_NAMED = re.compile(r"^(?P<kind>inputs|outputs)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

InputType = Literal["uri_folder", "uri_file", "mltable", "literal"]
OutputType = Literal["uri_folder", "uri_file", "mlflow_model", "custom_model"]

# Attribute names probed on data objects (data factory refresh outputs, snapshots) for lineage.
EnvironmentValue = Annotated[str | Secret, Field(union_mode="left_to_right")]
"""An environment variable's value: a plain string, or a :class:`~mlops_sdk.core.secrets.Secret`."""

_VERSION_ATTRIBUTES = ("data_version", "version", "digest", "snapshot_id", "snapshot")
_REFRESH_ATTRIBUTES = ("refresh_run_id", "run_id")


class TrainingInput(InputSpec):
    """One input of a training job: data (a path or URI) or a literal value.

    Build it directly, or pass what you have to :class:`TrainingJob` and let it convert: a local path
    (``str`` / :class:`~pathlib.Path`), an ``azureml://`` or ``file://`` URI, anything with a ``.uri``
    attribute (a refresh output or data snapshot from ``client.data_factory``), or a number / bool
    (a literal). A refresh output brings its data version and refresh run id; the path of a local
    refresh snapshot (content-addressed, ``.../datasets/88/8805....parquet``) brings its data version.

    Attributes:
        uri: Local path, ``file://`` or ``azureml://`` URI of the data.
        value: The literal value (numbers, strings, booleans), when this input is not data.
        type: ``uri_folder``, ``uri_file``, ``mltable`` or ``literal``; decided from the value when unset.
        mode: Azure ML input mode (``ro_mount``, ``download``, ...); locally data is always a path.
        data_version: Version of the data (snapshot digest, data asset version) recorded as lineage.
        refresh_run_id: Id of the data refresh run that produced the data, recorded as lineage.
    """

    model_config = ConfigDict(populate_by_name=True)

    uri: str | None = Field(default=None, alias="path")
    value: str | int | float | bool | None = None
    type: InputType | None = None
    mode: str | None = None
    data_version: str | None = None
    refresh_run_id: str | None = None
    # (spec file, path as written there) when the input came from a spec file: for error messages only.
    _declared_in: tuple[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_of(self) -> TrainingInput:
        if (self.uri is None) == (self.value is None):
            raise ValueError("give exactly one of 'path' (data) or 'value' (a literal)")
        if self.value is not None and self.type not in (None, "literal"):
            raise ValueError(f"a literal value cannot have type {self.type!r}")
        return self

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact(value) if name == "uri" and isinstance(value, str) else value

    @field_serializer("uri", when_used="json")
    def _uri_shown(self, value: str | None) -> str | None:
        # A SAS signature in a data URI is a credential: JSON output and stored specs mask it.
        return redact(value) if value else value

    @property
    def is_literal(self) -> bool:
        """True when this input is a literal value rather than data."""
        return self.value is not None

    def origin(self) -> str:
        """Where this input's path was written and what a relative path there resolves against.

        ``declared as 'data/train.csv' in /p/job.yaml, resolved against /p`` for a spec file;
        for an input built in Python, the working directory a relative path resolves against.
        """
        if self._declared_in is not None:
            spec, written = self._declared_in
            if Path(written).is_absolute():
                return f"declared as {written!r} in {spec}"
            return f"declared as {written!r} in {spec}, resolved against {Path(spec).parent}"
        written = self.uri or ""
        if written.startswith("file://") or Path(written).expanduser().is_absolute():
            return f"given as {written!r}"
        return f"given as {written!r}, resolved against the working directory {Path.cwd()}"

    @classmethod
    def coerce(cls, value: Any) -> TrainingInput:
        """Convert what a user passes for an input into a :class:`TrainingInput`."""
        if isinstance(value, TrainingInput):
            return value
        if isinstance(value, Mapping):
            fields = dict(value)
            path = fields.get("path", fields.get("uri"))
            if isinstance(path, str) and fields.get("data_version") is None and snapshot_version(path):
                fields["data_version"] = snapshot_version(path)
            return cls.model_validate(fields)
        if isinstance(value, bool | int | float):
            return cls(value=value, type="literal")
        if isinstance(value, str | Path):
            return cls.model_validate({"uri": str(value), "data_version": snapshot_version(str(value))})
        uri = getattr(value, "uri", None)
        if isinstance(uri, str | Path):
            return cls.model_validate(
                {
                    "uri": str(uri),
                    "data_version": _first_attr(value, _VERSION_ATTRIBUTES),
                    "refresh_run_id": _refresh_run_id(value),
                }
            )
        raise TypeError(
            f"cannot use a {type(value).__name__} as a training input; pass a path, a URI, a number, "
            "or an object with a .uri attribute (a data factory refresh output)"
        )


def _first_attr(value: Any, names: tuple[str, ...]) -> str | None:
    for name in names:
        found = getattr(value, name, None)
        if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
            return str(found)
    return None


def _refresh_run_id(value: Any) -> str | None:
    found = _first_attr(value, _REFRESH_ATTRIBUTES)
    if found is None and "refresh" in type(value).__name__.lower():
        found = _first_attr(value, ("id",))
    return found


class TrainingOutput(InputSpec):
    """One output of a training job: a folder (or file) the script writes to.

    Attributes:
        type: ``uri_folder`` (default), ``uri_file``, ``mlflow_model`` or ``custom_model``. Declare the
            model output as ``mlflow_model`` so Azure ML can deploy it without a scoring script.
        path: Azure ML only: datastore URI the output is written to (default: the job's own folder).
        mode: Azure ML output mode (``rw_mount``, ``upload``).
    """

    type: OutputType = "uri_folder"
    path: str | None = None
    mode: str | None = None

    @classmethod
    def coerce(cls, value: Any) -> TrainingOutput:
        """``None`` -> a folder; a type name string -> that type; a mapping -> its fields."""
        if isinstance(value, TrainingOutput):
            return value
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls.model_validate({"type": value})
        if isinstance(value, Mapping):
            return cls.model_validate(dict(value))
        raise TypeError(f"cannot use a {type(value).__name__} as a training output; pass None, a type or a dict")


TrainingInputs = Annotated[dict[str, TrainingInput], BeforeValidator(coerce_values(TrainingInput.coerce))]
"""Input name -> :class:`TrainingInput`, converted from what users pass (a path, a refresh output, a literal)."""
TrainingOutputs = Annotated[dict[str, TrainingOutput], BeforeValidator(coerce_values(TrainingOutput.coerce))]
"""Output name -> :class:`TrainingOutput` (``None`` means a folder)."""
EnvironmentVariables = Annotated[dict[str, EnvironmentValue], BeforeValidator(protect_environment)]
"""Extra environment variables of a command; secret values stay :class:`~mlops_sdk.core.secrets.Secret`."""
ResourceName = Annotated[str, AfterValidator(resource_name)]
"""An experiment or pipeline name (letters, digits, ``-``, ``_``, ``.``)."""
RedactedText = Annotated[str | None, AfterValidator(redacted)]
"""An error text kept with secrets masked."""


class TrainingJob(InputSpec):
    """A training job: THEIR code, run the same way locally and as an Azure ML command job.

    Attributes:
        code: Folder holding the training code (snapshotted at submission: ``.gitignore`` /
            ``.amlignore`` honoured, virtualenvs and caches skipped).
        command: Shell command run in the code snapshot, with ``${{inputs.NAME}}`` /
            ``${{outputs.NAME}}`` placeholders. ``python`` is the interpreter of the environment.
        inputs: Name -> data (path, URI, refresh output) or literal.
        outputs: Name -> output spec (``None`` means a folder).
        environment: Azure ML environment (``azureml:name:version``, ``name@latest`` or a registry URI).
            Required on Azure; locally the command runs in the current Python environment.
        compute: Azure ML compute cluster name (serverless when unset); ignored locally.
        experiment: Experiment (MLflow experiment locally) the run is grouped under.
        display_name: Human name of the run.
        description: Free text.
        tags: Tags recorded on the run (lineage tags ``mlops.*`` are added automatically).
        environment_variables: Extra environment variables for the command. A value that is secret
            (a :class:`~mlops_sdk.core.secrets.Secret`, a connection string / SAS / token by shape, or
            a variable named like ``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``) is held as a
            ``Secret``: ``***`` in ``repr`` and JSON, never stored; only the command's process sees it.
        timeout: Seconds after which the run is stopped and fails (enforced by the backend).
    """

    code: Path
    command: str
    inputs: TrainingInputs = Field(default_factory=dict)
    outputs: TrainingOutputs = Field(default_factory=dict)
    environment: str | None = None
    compute: str | None = None
    experiment: ResourceName = "Default"
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    environment_variables: EnvironmentVariables = Field(default_factory=dict)
    timeout: float | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout_seconds(cls, value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        return value

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("display_name", "description")
    @classmethod
    def _mask_text(cls, value: str | None) -> str | None:
        return redact(value) if value else value  # recorded with the run: never a secret

    @field_validator("tags")
    @classmethod
    def _mask_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return {key: redact(item) for key, item in value.items()}

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _placeholders_resolve(self) -> TrainingJob:
        for name in (*self.inputs, *self.outputs):
            if not _IDENTIFIER.match(name):
                raise ValueError(f"input/output name {name!r} must be a Python identifier (letters, digits, _)")
        both = set(self.inputs) & set(self.outputs)
        if both:
            raise ValueError(f"{sorted(both)} is declared both as an input and as an output")
        for kind, name in self.placeholders():
            declared = self.inputs if kind == "inputs" else self.outputs
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise ConfigurationError(
                    f"the command uses ${{{{{kind}.{name}}}}} but the job declares no {kind[:-1]} {name!r} "
                    f"(declared {kind}: {known}); add it to {kind}= or fix the placeholder",
                    details={"field": "command", "placeholder": f"{kind}.{name}"},
                )
        return self

    def placeholders(self) -> list[tuple[str, str]]:
        """Every ``(kind, name)`` placeholder of the command, in order (``("inputs", "data")``)."""
        found = []
        for match in PLACEHOLDER.finditer(self.command):
            named = _NAMED.match(match["body"])
            if named is None:
                raise ConfigurationError(
                    f"placeholder ${{{{{match['body']}}}}} in the command is not of the form "
                    "${{inputs.NAME}} or ${{outputs.NAME}}",
                    details={"field": "command", "placeholder": match["body"]},
                )
            found.append((named["kind"], named["name"]))
        return found

    def render_command(self, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> str:
        """Replace every placeholder with the given (already quoted, if needed) values."""

        def replace(match: re.Match[str]) -> str:
            named = _NAMED.match(match["body"])
            assert named is not None  # checked at construction
            table = inputs if named["kind"] == "inputs" else outputs
            return table[named["name"]]

        return PLACEHOLDER.sub(replace, self.command)

    def data_lineage(self) -> dict[str, object]:
        """``data_versions`` and ``refresh_run_id`` lineage fields from the inputs that carry them."""
        versions = {name: item.data_version for name, item in self.inputs.items() if item.data_version}
        refresh = next((item.refresh_run_id for item in self.inputs.values() if item.refresh_run_id), None)
        return {"data_versions": versions or None, "refresh_run_id": refresh}

    def with_inputs(self, **inputs: Any) -> TrainingJob:
        """A copy with some inputs replaced, e.g. ``job.with_inputs(data=refresh.outputs["train_set"])``.

        Values are what ``inputs`` accepts (a path, a refresh output, a literal); a refresh output
        brings its data version and refresh run id into the run's lineage.

        Raises:
            ConfigurationError: a value is not a valid input (the message names it).
        """
        return TrainingJob.build({**dict(self), "inputs": {**self.inputs, **inputs}})

    @classmethod
    def build(cls, spec: TrainingJob | Mapping[str, Any], *, where: str | None = None) -> TrainingJob:
        """Accept the model or a plain dict; invalid input is a :class:`ConfigurationError` naming the
        field (and ``where`` it was read from, a spec file)."""
        if isinstance(spec, TrainingJob):
            return spec
        try:
            with inside():
                return cls.model_validate(dict(spec))
        except ValidationError as error:
            raise invalid_input(error, what="training job", where=where, root="spec", model=cls) from error

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainingJob:
        """Load a spec file (YAML, Azure ML command-job style); relative ``code`` resolves against its folder.

        Accepted keys: ``code``, ``command``, ``inputs`` (values: a path, a literal, or a mapping with
        ``path``/``value``/``type``/``mode``), ``outputs``, ``environment``, ``compute``,
        ``experiment`` (or ``experiment_name``), ``display_name``, ``description``, ``tags``,
        ``environment_variables``, ``timeout`` (seconds).
        """
        source = Path(path)
        data = load_yaml_mapping(source, what="training spec", needs="at least 'code' and 'command'")
        data.pop("$schema", None)
        data.pop("type", None)
        if "experiment_name" in data:
            data["experiment"] = data.pop("experiment_name")
        if "code" in data and not Path(str(data["code"])).is_absolute():
            data["code"] = str((source.resolve().parent / str(data["code"])).resolve())
        inputs = data.get("inputs")
        written = {}
        if isinstance(inputs, dict):
            data["inputs"] = {key: _yaml_input(value, source) for key, value in inputs.items()}
            written = {key: _written_path(value) for key, value in inputs.items()}
        job = cls.build(data, where=str(source))
        for name, item in job.inputs.items():
            if written.get(name) is not None and not item.is_literal:
                item._declared_in = (str(source.resolve()), str(written[name]))
        return job


def _yaml_input(value: Any, source: Path) -> Any:
    """Relative local paths in a spec file resolve against the spec's folder."""
    path = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
    if not isinstance(path, str) or "://" in path or Path(path).is_absolute():
        return value
    resolved = str((source.resolve().parent / path).resolve())
    return {**value, "path": resolved} if isinstance(value, dict) else resolved


def _written_path(value: Any) -> str | None:
    path = value.get("path") if isinstance(value, dict) else value
    return path if isinstance(path, str) else None


class TrainingRun(BaseModel):
    """A training run as the backend reports it.

    Attributes:
        id: Run id (local run id, or the Azure ML job name).
        backend: ``"local"`` or ``"azure"``.
        status: Lifecycle state on the one status enum.
        native_status: The backend's own word (``Completed``, ``Finalizing``, ``TimedOut``, ...).
        experiment: Experiment the run belongs to.
        display_name: Human name.
        idempotency_key: Key the run was submitted with, if any.
        metrics: Latest value of each metric the script logged with MLflow.
        params: Parameters the script logged with MLflow.
        outputs: Output name -> where it is (a local folder, or an ``azureml://jobs/...`` URI).
        log_location: Local log folder, or the Azure ML studio URL of the job.
        lineage: Git commit, CI build, input data versions, this run's id.
        tags: Tags of the run (lineage tags included).
        mlflow_run_id: The MLflow run the metrics live in (the job name on Azure ML).
        created_at: When it was submitted.
        ended_at: When it finished, if it did.
        exit_code: Process exit code (local runs).
        error: Why it failed, if it did (with the last log lines locally).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    backend: str
    status: Status
    native_status: str | None = None
    experiment: str | None = None
    display_name: str | None = None
    idempotency_key: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    log_location: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    tags: dict[str, str] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    error: RedactedText = None
