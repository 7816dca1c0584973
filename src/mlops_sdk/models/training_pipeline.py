"""Training pipelines: several training steps wired output -> input, cached and resumable.

The spec mirrors Azure ML's pipeline job YAML (``type: pipeline``, ``jobs:``, ``${{parent.inputs.x}}``
and ``${{parent.jobs.prep.outputs.train}}`` bindings, ``${{parent.outputs.model}}`` on a step output),
so one file runs locally and as an Azure ML pipeline job. In Python, references work too::

    prep = Step("prep", command="python prep.py --raw ${{inputs.raw}} --out ${{outputs.train}}",
                code="src", inputs={"raw": "data/raw.csv"}, outputs={"train": None})
    train = Step("train", job=train_job, inputs={"data": prep.output("train")})
    pipeline = TrainingPipeline("diabetes", steps=[prep, train], outputs={"model": train.output("model")})

Everything is checked when the pipeline is built, before anything runs: a cycle
(:class:`~mlops_sdk.core.errors.PipelineCycleError`), a binding naming a step, output or input that
does not exist (:class:`~mlops_sdk.core.errors.PipelineReferenceError`) and a binding between
incompatible types (:class:`~mlops_sdk.core.errors.PipelineTypeError`) each name the step and the field.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops_sdk.core.errors import (
    ConfigurationError,
    PipelineCycleError,
    PipelineReferenceError,
    PipelineSpecError,
    PipelineTypeError,
)
from mlops_sdk.core.input_spec import InputSpec
from mlops_sdk.core.invalid_input import inside, invalid_input, location
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.redaction import redact
from mlops_sdk.core.secrets import Secret
from mlops_sdk.core.status import Status
from mlops_sdk.models._spec_fields import coerce_values, load_yaml_mapping
from mlops_sdk.models.training import (
    PLACEHOLDER,
    EnvironmentVariables,
    RedactedText,
    ResourceName,
    TrainingInput,
    TrainingInputs,
    TrainingJob,
    TrainingOutputs,
    TrainingRun,
)

__all__ = [
    "Binding",
    "PipelineInput",
    "PipelineRunResult",
    "Step",
    "StepOutputRef",
    "StepRunResult",
    "TrainingPipeline",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARENT_INPUT = re.compile(r"^\$\{\{\s*parent\.inputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_STEP_OUTPUT = re.compile(
    r"^\$\{\{\s*parent\.jobs\.(?P<step>[A-Za-z_][A-Za-z0-9_]*)\.outputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$"
)
_PARENT_OUTPUT = re.compile(r"^\$\{\{\s*parent\.outputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_ANY_BINDING = re.compile(r"^\$\{\{.*\}\}$", re.DOTALL)
_COMMAND_NAMED = re.compile(r"^(?P<kind>inputs|outputs)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")

# Which source types an input of a declared type accepts (an undeclared input accepts any data).
_ACCEPTS: dict[str, frozenset[str]] = {
    "uri_folder": frozenset({"uri_folder", "mlflow_model", "custom_model", "mltable"}),
    "uri_file": frozenset({"uri_file"}),
    "mltable": frozenset({"mltable", "uri_folder"}),
    "literal": frozenset({"literal"}),
}


class Binding(InputSpec):
    """A step input bound to a pipeline input or to an earlier step's output.

    Attributes:
        source: ``parent_input`` (``${{parent.inputs.NAME}}``) or ``step_output``
            (``${{parent.jobs.STEP.outputs.NAME}}``).
        name: The pipeline input's or the step output's name.
        step: The producing step (``step_output`` only).
        type: The type the consuming step expects (checked against the source's type), if declared.
    """

    source: Literal["parent_input", "step_output"]
    name: str
    step: str | None = None
    type: Literal["uri_folder", "uri_file", "mltable", "literal"] | None = None

    @property
    def expression(self) -> str:
        """The Azure ML expression of this binding."""
        if self.source == "parent_input":
            return f"${{{{parent.inputs.{self.name}}}}}"
        return f"${{{{parent.jobs.{self.step}.outputs.{self.name}}}}}"

    @classmethod
    def parse(cls, text: str, *, type: str | None = None) -> Binding | None:
        """The binding a ``${{...}}`` string denotes, ``None`` for a string that is no binding."""
        found = _PARENT_INPUT.match(text.strip())
        if found:
            return cls.model_validate({"source": "parent_input", "name": found["name"], "type": type})
        found = _STEP_OUTPUT.match(text.strip())
        if found:
            return cls.model_validate(
                {"source": "step_output", "step": found["step"], "name": found["name"], "type": type}
            )
        return None


class StepOutputRef(BaseModel):
    """A Python reference to a step's output (``prep.output("train")``), usable as a later step's input."""

    model_config = ConfigDict(frozen=True)

    step: str
    name: str

    def binding(self) -> Binding:
        """This reference as a :class:`Binding`."""
        return Binding(source="step_output", step=self.step, name=self.name)


class PipelineInput(InputSpec):
    """A Python reference to a pipeline input (``PipelineInput("raw")``), usable as a step input."""

    name: str

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    def binding(self) -> Binding:
        """This reference as a :class:`Binding`."""
        return Binding(source="parent_input", name=self.name)


StepInputValue = TrainingInput | Binding


def _spec_error(cls: type[PipelineSpecError], message: str, *, step: str | None, field: str, **more: Any) -> Any:
    return cls(message, details={"step": step, "field": field, **more})


class Step(InputSpec):
    """One step of a :class:`TrainingPipeline`: a training job (or a bare command) with bound inputs.

    ``Step("train", job=train_job, inputs={"data": prep.output("train")})`` takes the job's code,
    command, outputs, environment and the rest, with ``inputs`` added to (or replacing) the job's.
    ``Step("prep", command="python prep.py ...", code="src", inputs=..., outputs=...)`` is the same
    without a job object.

    Attributes:
        name: Step name (letters, digits, ``_``; unique in the pipeline); Azure ML's node name.
        code: Folder holding the step's code (default: the pipeline's ``code``).
        command: Command with ``${{inputs.NAME}}`` / ``${{outputs.NAME}}`` placeholders.
        inputs: Name -> data, literal, or a binding (``${{parent.inputs.x}}``,
            ``${{parent.jobs.prep.outputs.train}}``, ``PipelineInput("x")``, ``prep.output("train")``).
        outputs: Name -> output spec (``None``: a folder).
        environment: Azure ML environment (default: the pipeline's).
        compute: Azure ML compute of this step (default: the pipeline's).
        environment_variables: Extra environment variables (secrets stay secrets, as in ``TrainingJob``).
        timeout: Seconds after which the step fails.
        display_name: Human name.
        cache: Reuse the outputs of an earlier successful run of the same step with the same cache
            key instead of running it (default True).
        cache_ignore: Inputs left out of the cache key: changing them alone does not re-run the step.
    """

    name: str
    code: Path | None = None
    command: str
    inputs: dict[str, StepInputValue] = Field(default_factory=dict)
    outputs: TrainingOutputs = Field(default_factory=dict)
    environment: str | None = None
    compute: str | None = None
    environment_variables: EnvironmentVariables = Field(default_factory=dict)
    timeout: float | None = None
    display_name: str | None = None
    cache: bool = True
    cache_ignore: list[str] = Field(default_factory=list)

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _expand_job(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("job") is None:
            return data
        data = dict(data)
        job = TrainingJob.build(data.pop("job"))
        step_inputs = data.pop("inputs", None) or {}
        merged: dict[str, Any] = {**job.inputs, **dict(step_inputs)}
        data["inputs"] = merged
        data.setdefault("outputs", dict(job.outputs))
        for name in ("code", "command", "environment", "compute", "timeout", "display_name"):
            if data.get(name) is None:
                data[name] = getattr(job, name)
        if not data.get("environment_variables"):
            data["environment_variables"] = dict(job.environment_variables)
        return data

    @field_validator("name")
    @classmethod
    def _step_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits and '_', starting with a letter or '_' (an Azure ML node name)")
        return value

    @field_validator("inputs", mode="before")
    @classmethod
    def _coerce_inputs(cls, value: Any) -> Any:
        return coerce_values(_coerce_input)(value)

    @model_validator(mode="after")
    def _own_fields(self) -> Step:
        for name in (*self.inputs, *self.outputs):
            if not _NAME.match(name):
                raise _spec_error(
                    PipelineSpecError,
                    f"step {self.name!r}: input/output name {name!r} must be letters, digits and '_'",
                    step=self.name,
                    field=f"inputs.{name}" if name in self.inputs else f"outputs.{name}",
                )
        for kind, name in _command_placeholders(self.name, self.command):
            declared = self.inputs if kind == "inputs" else self.outputs
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise _spec_error(
                    PipelineReferenceError,
                    f"step {self.name!r}: the command uses ${{{{{kind}.{name}}}}} but the step declares no "
                    f"{kind[:-1]} {name!r} (declared: {known}); add it to the step's {kind} or fix the placeholder",
                    step=self.name,
                    field="command",
                )
        for name in self.cache_ignore:
            if name not in self.inputs:
                raise _spec_error(
                    PipelineReferenceError,
                    f"step {self.name!r}: cache_ignore names {name!r}, which is not one of its inputs "
                    f"({', '.join(sorted(self.inputs)) or 'none'})",
                    step=self.name,
                    field="cache_ignore",
                )
        return self

    def output(self, name: str) -> StepOutputRef:
        """A reference to this step's output ``name``, to bind to a later step's input.

        Raises:
            PipelineReferenceError: the step has no such output.
        """
        if name not in self.outputs:
            raise _spec_error(
                PipelineReferenceError,
                f"step {self.name!r} has no output {name!r} (outputs: {', '.join(sorted(self.outputs)) or 'none'})",
                step=self.name,
                field=f"outputs.{name}",
            )
        return StepOutputRef(step=self.name, name=name)

    def bindings(self) -> dict[str, Binding]:
        """The inputs that are bindings, by input name."""
        return {name: item for name, item in self.inputs.items() if isinstance(item, Binding)}

    def upstream(self) -> set[str]:
        """Names of the steps whose outputs this step consumes."""
        return {item.step for item in self.bindings().values() if item.step is not None}

    def training_job(
        self, inputs: Mapping[str, TrainingInput], *, experiment: str, tags: Mapping[str, str]
    ) -> TrainingJob:
        """The command job this step runs once its bindings are resolved to ``inputs``."""
        resolved = {name: item for name, item in self.inputs.items() if isinstance(item, TrainingInput)}
        return TrainingJob.build(
            {
                "code": self.code or Path.cwd(),
                "command": self.command,
                "inputs": {**resolved, **inputs},
                "outputs": self.outputs,
                "environment": self.environment,
                "compute": self.compute,
                "experiment": experiment,
                "display_name": self.display_name or self.name,
                "environment_variables": self.environment_variables,
                "timeout": self.timeout,
                "tags": dict(tags),
            }
        )


def _command_placeholders(step: str, command: str) -> list[tuple[str, str]]:
    found = []
    for match in PLACEHOLDER.finditer(command):
        named = _COMMAND_NAMED.match(match["body"])
        if named is None:
            raise _spec_error(
                PipelineSpecError,
                f"step {step!r}: placeholder ${{{{{match['body']}}}}} in the command is not of the form "
                "${{inputs.NAME}} or ${{outputs.NAME}} (bindings to other steps go in the step's inputs)",
                step=step,
                field="command",
            )
        found.append((named["kind"], named["name"]))
    return found


def _coerce_input(value: Any) -> Any:
    if isinstance(value, Binding | TrainingInput):
        return value
    if isinstance(value, StepOutputRef | PipelineInput):
        return value.binding()
    if isinstance(value, str) and _ANY_BINDING.match(value.strip()):
        binding = Binding.parse(value)
        if binding is None:
            raise ValueError(
                f"{value!r} is not a binding of the form ${{{{parent.inputs.NAME}}}} or "
                "${{parent.jobs.STEP.outputs.NAME}}"
            )
        return binding
    if isinstance(value, Mapping) and "source" in value:
        return Binding.model_validate(dict(value))
    if isinstance(value, Mapping):
        path = value.get("path")
        if isinstance(path, str) and _ANY_BINDING.match(path.strip()):
            binding = Binding.parse(path, type=value.get("type"))
            if binding is None:
                raise ValueError(f"{path!r} is not a binding of the form ${{{{parent.jobs.STEP.outputs.NAME}}}}")
            return binding
    return TrainingInput.coerce(value)


class PipelineOutput(InputSpec):
    """A pipeline output: which step output it is, and its type.

    Attributes:
        step: The producing step.
        output: The step's output name.
    """

    step: str
    output: str


class TrainingPipeline(InputSpec):
    """Training steps wired output -> input; runs locally as a DAG and on Azure ML as a pipeline job.

    Attributes:
        name: Pipeline name (the Azure ML pipeline job's display name; locally its runs are listed by it).
        steps: The steps, in any order (dependencies come from the bindings).
        inputs: Pipeline inputs (data or literals) steps bind to with ``${{parent.inputs.NAME}}``.
        outputs: Pipeline outputs: name -> a step output (``train.output("model")`` or
            ``${{parent.jobs.train.outputs.model}}``).
        experiment: Experiment the step runs are grouped under.
        code: Default code folder of steps that name none.
        environment: Default Azure ML environment of steps that name none.
        compute: Default compute of steps that name none (Azure ML ``settings.default_compute``).
        description: Free text.
        tags: Tags recorded on the pipeline run and its steps.
        force_rerun: Run every step even when a cached result exists (Azure ML ``settings.force_rerun``).
    """

    name: ResourceName
    steps: list[Step]
    inputs: TrainingInputs = Field(default_factory=dict)
    outputs: dict[str, PipelineOutput] = Field(default_factory=dict)
    experiment: str = "Default"
    code: Path | None = None
    environment: str | None = None
    compute: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    force_rerun: bool = False

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("steps", mode="before")
    @classmethod
    def _coerce_steps(cls, value: Any) -> Any:
        if isinstance(value, Mapping):  # YAML ``jobs:`` style: name -> step
            return [{**dict(item), "name": name} if isinstance(item, Mapping) else item for name, item in value.items()]
        return value

    @field_validator("outputs", mode="before")
    @classmethod
    def _coerce_outputs(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        outputs: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, StepOutputRef):
                outputs[str(key)] = {"step": item.step, "output": item.name}
            elif isinstance(item, str):
                found = _STEP_OUTPUT.match(item.strip())
                if found is None:
                    raise ValueError(f"output {key!r}: {item!r} is not ${{{{parent.jobs.STEP.outputs.NAME}}}}")
                outputs[str(key)] = {"step": found["step"], "output": found["name"]}
            else:
                outputs[str(key)] = item
        return outputs

    @model_validator(mode="after")
    def _wiring(self) -> TrainingPipeline:
        if not self.steps:
            raise _spec_error(PipelineSpecError, "a pipeline needs at least one step", step=None, field="steps")
        by_name: dict[str, Step] = {}
        for step in self.steps:
            if step.name in by_name:
                raise _spec_error(
                    PipelineSpecError,
                    f"two steps are named {step.name!r}; step names must be unique",
                    step=step.name,
                    field="name",
                )
            by_name[step.name] = step
        for step in self.steps:
            for input_name, binding in step.bindings().items():
                self._check_binding(step, input_name, binding, by_name)
        for output_name, output in self.outputs.items():
            producer = by_name.get(output.step)
            if producer is None or output.output not in producer.outputs:
                raise _spec_error(
                    PipelineReferenceError,
                    f"pipeline output {output_name!r} is bound to {output.step}.{output.output}, which "
                    + ("is no step" if producer is None else f"is no output of step {output.step!r}"),
                    step=output.step,
                    field=f"outputs.{output_name}",
                )
        self.order()
        return self

    def _check_binding(self, step: Step, input_name: str, binding: Binding, by_name: Mapping[str, Step]) -> None:
        field = f"inputs.{input_name}"
        source_type: str
        if binding.source == "parent_input":
            source = self.inputs.get(binding.name)
            if source is None:
                raise _spec_error(
                    PipelineReferenceError,
                    f"step {step.name!r} input {input_name!r} is bound to ${{{{parent.inputs.{binding.name}}}}}, "
                    f"but the pipeline has no input {binding.name!r} "
                    f"(inputs: {', '.join(sorted(self.inputs)) or 'none'})",
                    step=step.name,
                    field=field,
                )
            source_type = "literal" if source.is_literal else (source.type or "uri_folder")
            if binding.type is not None and source.type is None and not source.is_literal:
                source_type = binding.type  # an untyped data path takes the type the step declares
        else:
            producer = by_name.get(str(binding.step))
            if producer is None:
                raise _spec_error(
                    PipelineReferenceError,
                    f"step {step.name!r} input {input_name!r} is bound to {binding.expression}, but there is no "
                    f"step {binding.step!r} (steps: {', '.join(sorted(by_name))})",
                    step=step.name,
                    field=field,
                )
            if binding.name not in producer.outputs:
                raise _spec_error(
                    PipelineReferenceError,
                    f"step {step.name!r} input {input_name!r} is bound to {binding.expression}, but step "
                    f"{producer.name!r} has no output {binding.name!r} "
                    f"(outputs: {', '.join(sorted(producer.outputs)) or 'none'})",
                    step=step.name,
                    field=field,
                )
            source_type = producer.outputs[binding.name].type
        if binding.type is not None and source_type not in _ACCEPTS[binding.type]:
            raise _spec_error(
                PipelineTypeError,
                f"step {step.name!r} input {input_name!r} expects {binding.type} but is bound to "
                f"{binding.expression}, which is {source_type}; change the input's type or bind another output",
                step=step.name,
                field=field,
                expected=binding.type,
                found=source_type,
            )

    def step(self, name: str) -> Step:
        """The step called ``name``.

        Raises:
            PipelineReferenceError: no such step.
        """
        for step in self.steps:
            if step.name == name:
                return step
        raise _spec_error(
            PipelineReferenceError,
            f"pipeline {self.name!r} has no step {name!r} (steps: {', '.join(s.name for s in self.steps)})",
            step=name,
            field="steps",
        )

    def order(self) -> list[str]:
        """Step names in an order where every step comes after the steps it consumes.

        Raises:
            PipelineCycleError: the bindings form a cycle (the message walks it).
        """
        graph = {step.name: step.upstream() for step in self.steps}
        sorter = graphlib.TopologicalSorter(graph)
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as error:
            cycle: list[str] = list(error.args[1])
            first = self.step(cycle[1]) if len(cycle) > 1 else self.step(cycle[0])
            upstream = cycle[0]
            field = next((f"inputs.{name}" for name, b in first.bindings().items() if b.step == upstream), "inputs")
            raise _spec_error(
                PipelineCycleError,
                f"the steps form a cycle (each feeds the next): {' -> '.join(cycle)}; step {first.name!r} "
                f"({field}) consumes an output that depends on its own; remove one of these bindings",
                step=first.name,
                field=field,
                cycle=cycle,
            ) from None

    def downstream(self, names: Sequence[str]) -> set[str]:
        """``names`` and every step that consumes (directly or not) one of their outputs."""
        found = set(names)
        changed = True
        while changed:
            changed = False
            for step in self.steps:
                if step.name not in found and step.upstream() & found:
                    found.add(step.name)
                    changed = True
        return found

    def step_code(self, step: Step) -> Path:
        """The code folder a step runs in (its own, else the pipeline's, else the working directory)."""
        return Path(step.code or self.code or Path.cwd())

    def effective(self, step: Step) -> Step:
        """``step`` with the pipeline's defaults (code, environment, compute) filled in."""
        return step.model_copy(
            update={
                "code": self.step_code(step),
                "environment": step.environment or self.environment,
                "compute": step.compute or self.compute,
            }
        )

    @classmethod
    def build(cls, spec: TrainingPipeline | Mapping[str, Any], *, where: str | None = None) -> TrainingPipeline:
        """Accept the model or a plain dict; invalid input is a :class:`ConfigurationError` naming the
        field (and ``where`` it was read from, a pipeline file)."""
        if isinstance(spec, TrainingPipeline):
            return spec
        try:
            with inside():
                return cls.model_validate(dict(spec))
        except ValidationError as error:
            raise _config_error(error, where=where) from error
        except ConfigurationError as error:  # a validator's own error (cycle, reference, type)
            _in_file(error, where)
            raise

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainingPipeline:
        """Load an Azure ML-style pipeline job YAML (``type: pipeline``, ``jobs:``).

        Accepted keys: ``name`` (or ``display_name``), ``jobs`` (name -> ``code``, ``command``,
        ``inputs``, ``outputs``, ``environment``, ``compute``, ``environment_variables``, ``timeout``,
        ``display_name``, ``cache``, ``cache_ignore``, ``is_deterministic``), ``inputs``, ``outputs``,
        ``experiment_name``, ``code``, ``environment``, ``compute``, ``settings`` (``default_compute``,
        ``force_rerun``), ``description``, ``tags``. Relative paths resolve against the file's folder.
        A step output written ``${{parent.outputs.NAME}}`` becomes pipeline output ``NAME``, typed by
        the top-level ``outputs`` declaration as in Azure ML.
        """
        source = Path(path)
        data = load_yaml_mapping(source, what="pipeline spec", needs="'jobs'")
        return cls.build(_from_azure_layout(data, source.resolve().parent, str(source)), where=str(source))

    def to_yaml_dict(self) -> dict[str, Any]:
        """The Azure ML pipeline job YAML layout of this pipeline (what :meth:`from_yaml` reads back)."""
        bound_outputs = {(o.step, o.output): name for name, o in self.outputs.items()}
        jobs: dict[str, Any] = {}
        for step in self.steps:
            job: dict[str, Any] = {"type": "command", "command": step.command}
            if step.code is not None:
                job["code"] = str(step.code)
            inputs: dict[str, Any] = {}
            for name, item in step.inputs.items():
                if isinstance(item, Binding):
                    inputs[name] = {"type": item.type, "path": item.expression} if item.type else item.expression
                else:
                    inputs[name] = _input_yaml(item)
            job["inputs"] = inputs
            outputs: dict[str, Any] = {}
            for name, output in step.outputs.items():
                parent = bound_outputs.get((step.name, name))
                outputs[name] = (
                    f"${{{{parent.outputs.{parent}}}}}"
                    if parent
                    else output.model_dump(exclude_none=True, exclude_defaults=False)
                )
            job["outputs"] = outputs
            for key in ("environment", "compute", "timeout", "display_name"):
                if getattr(step, key) is not None:
                    job[key] = getattr(step, key)
            if step.environment_variables:
                job["environment_variables"] = {
                    k: "***" if isinstance(v, Secret) else v for k, v in step.environment_variables.items()
                }
            if not step.cache:
                job["cache"] = False
            if step.cache_ignore:
                job["cache_ignore"] = list(step.cache_ignore)
            jobs[step.name] = job
        data: dict[str, Any] = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
            "type": "pipeline",
            "display_name": self.name,
            "experiment_name": self.experiment,
            "inputs": {name: _input_yaml(item) for name, item in self.inputs.items()},
            "outputs": {name: {"type": self.step(o.step).outputs[o.output].type} for name, o in self.outputs.items()},
            "settings": {
                key: value
                for key, value in {"default_compute": self.compute, "force_rerun": self.force_rerun or None}.items()
                if value is not None
            },
            "jobs": jobs,
        }
        for key in ("code", "environment", "description"):
            if getattr(self, key) is not None:
                data[key] = str(getattr(self, key))
        if self.tags:
            data["tags"] = dict(self.tags)
        return data


def _input_yaml(item: TrainingInput) -> Any:
    if item.is_literal:
        return item.value
    data = {"type": item.type, "path": redact(item.uri or ""), "mode": item.mode}
    return {key: value for key, value in data.items() if value is not None}


def _resolve(base: Path, value: Any) -> Any:
    """A relative local path in a spec file resolves against the file's folder."""
    if (
        isinstance(value, str)
        and "://" not in value
        and not _ANY_BINDING.match(value)
        and not Path(value).is_absolute()
    ):
        return str((base / value).resolve())
    return value


def _mapping(value: Any, source: str, field: str, *, step: str | None = None) -> dict[str, Any]:
    """A mapping of the YAML layout with text keys (absent or empty: ``{}``), else a :class:`PipelineSpecError`."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        where = f"job {step!r}: " if step is not None else ""
        raise PipelineSpecError(
            f"{source}: {where}{field!r} must map names to values, got {type(value).__name__} {str(value)[:60]!r}",
            details={"step": step, "field": field},
        )
    return value


def _from_azure_layout(data: dict[str, Any], base: Path, source: str) -> dict[str, Any]:
    data = dict(data)
    data.pop("$schema", None)
    kind = data.pop("type", "pipeline")
    if kind != "pipeline":
        raise ConfigurationError(f"{source}: type is {kind!r}; a pipeline spec has 'type: pipeline'")
    if "display_name" in data and "name" not in data:
        data["name"] = data.pop("display_name")
    else:
        data.pop("display_name", None)
    if "experiment_name" in data:
        data["experiment"] = data.pop("experiment_name")
    settings = _mapping(data.pop("settings", None), source, "settings")
    if settings.get("default_compute") and not data.get("compute"):
        data["compute"] = str(settings["default_compute"]).removeprefix("azureml:")
    if settings.get("force_rerun"):
        data["force_rerun"] = True
    if data.get("code") is not None:
        data["code"] = _resolve(base, str(data["code"]))
    inputs = _mapping(data.get("inputs"), source, "inputs")
    data["inputs"] = {
        name: {**item, "path": _resolve(base, item["path"])}
        if isinstance(item, dict) and "path" in item
        else _resolve(base, item)
        if isinstance(item, str)
        else item
        for name, item in inputs.items()
    }
    declared_outputs = _mapping(data.pop("outputs", None), source, "outputs")
    pipeline_outputs: dict[str, Any] = {}
    jobs = data.pop("jobs", None)
    if not isinstance(jobs, dict) or not jobs:
        raise ConfigurationError(f"{source}: 'jobs' must map step names to steps", details={"field": "jobs"})
    steps = []
    for name, job in jobs.items():
        if not isinstance(job, dict):
            raise PipelineSpecError(
                f"{source}: job {name!r} must be a mapping", details={"step": name, "field": "jobs"}
            )
        job = dict(job)
        job_type = job.pop("type", "command")
        if job_type != "command":
            raise PipelineSpecError(
                f"{source}: job {name!r} has type {job_type!r}; only command steps are supported",
                details={"step": name, "field": "type"},
            )
        job.pop("name", None)
        if "is_deterministic" in job and "cache" not in job:
            job["cache"] = bool(job.pop("is_deterministic"))
        job.pop("is_deterministic", None)
        if job.get("code") is not None:
            job["code"] = _resolve(base, str(job["code"]))
        if isinstance(job.get("compute"), str):
            job["compute"] = job["compute"].removeprefix("azureml:")
        job["inputs"] = {
            key: {**item, "path": _resolve(base, item["path"])}
            if isinstance(item, dict) and "path" in item
            else _resolve(base, item)
            if isinstance(item, str)
            else item
            for key, item in _mapping(job.get("inputs"), source, "inputs", step=name).items()
        }
        outputs = {}
        for key, item in _mapping(job.get("outputs"), source, "outputs", step=name).items():
            text = item if isinstance(item, str) else None
            found = _PARENT_OUTPUT.match(text.strip()) if text else None
            if found:
                declared = _mapping(declared_outputs.get(found["name"]), source, f"outputs.{found['name']}")
                outputs[key] = {k: v for k, v in declared.items() if k in ("type", "mode", "path")}
                pipeline_outputs[found["name"]] = {"step": name, "output": key}
            else:
                outputs[key] = item
        job["outputs"] = outputs
        steps.append({**job, "name": name})
    unbound = sorted(set(declared_outputs) - set(pipeline_outputs))
    if unbound:
        raise PipelineReferenceError(
            f"{source}: pipeline output(s) {unbound} are declared but no job binds an output to "
            f"${{{{parent.outputs.{unbound[0]}}}}}",
            details={"step": None, "field": f"outputs.{unbound[0]}"},
        )
    data["steps"] = steps
    data["outputs"] = pipeline_outputs
    return data


def _in_file(error: ConfigurationError, where: str | None) -> ConfigurationError:
    """``error`` with the spec file it was read from named first (a project may hold several)."""
    if where and where not in error.message:
        error.message = f"{where}: {error.message}"
        error.args = (error.message,)
    return error


def _config_error(error: ValidationError, *, where: str | None = None) -> ConfigurationError:
    translated = invalid_input(error, what="training pipeline", where=where, root="spec", model=TrainingPipeline)
    problems = translated.details.get("errors")
    if problems is None:  # a validator raised our own error: it already names step and field
        return _in_file(translated, where)
    step = None
    loc = location(error)
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step = f"#{loc[1]}"
    place = f" in {where}" if where else ""
    return PipelineSpecError(
        f"invalid training pipeline{place}: " + "; ".join(problems),
        details={"errors": problems, "step": step, "field": ".".join(str(p) for p in loc[2:]) or None},
    )


class StepRunResult(BaseModel):
    """One step of a pipeline run.

    Attributes:
        name: The step.
        status: Its state (``NOT_STARTED`` for a step that never ran because an upstream one failed).
        run: The training run that produced the step's outputs (for a cached step: the earlier run).
        cached: True when the step did not run because a successful run with the same cache key existed.
        reused: True when a resumed pipeline run kept this step's result from the run it resumes.
        cache_key: The step's cache key (``sha256:...``), once its inputs were known.
        outputs: Output name -> where it is (content-addressed folder locally, ``azureml://`` on Azure).
        output_digests: Output name -> content digest (local backends).
        metrics: The run's metrics.
        error: Why the step failed (with the last log lines), if it did.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    status: Status
    run: TrainingRun | None = None
    cached: bool = False
    reused: bool = False
    cache_key: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict)
    output_digests: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    error: RedactedText = None


class PipelineRunResult(BaseModel):
    """A pipeline run as the backend reports it.

    Attributes:
        id: Pipeline run id (local id, or the Azure ML pipeline job name).
        backend: ``local``, ``memory`` or ``azure``.
        name: The pipeline's name.
        status: Lifecycle state.
        native_status: The backend's own word for it.
        steps: Step name -> :class:`StepRunResult`, in execution order.
        outputs: Pipeline output name -> where it is.
        idempotency_key: Key the run was submitted with.
        resumed_from: The pipeline run this one resumed (kept its succeeded steps).
        lineage: Git commit, CI build, input data versions of the submission.
        created_at: When it was submitted.
        ended_at: When it finished.
        error: Why it failed (naming the failed step and its log tail).
        log_location: The Azure ML studio URL of the pipeline job (Azure).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    backend: str
    name: str
    status: Status
    native_status: str | None = None
    steps: dict[str, StepRunResult] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = None
    resumed_from: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    created_at: datetime | None = None
    ended_at: datetime | None = None
    error: RedactedText = None
    log_location: str | None = None

    def step(self, name: str) -> StepRunResult:
        """The step ``name``.

        Raises:
            ConfigurationError: the pipeline has no such step.
        """
        if name not in self.steps:
            raise ConfigurationError(
                f"pipeline run {self.id} has no step {name!r} (steps: {', '.join(self.steps)})",
                details={"field": "step", "value": name},
            )
        return self.steps[name]

    @property
    def cached_steps(self) -> list[str]:
        """Names of the steps whose results came from the cache."""
        return [name for name, step in self.steps.items() if step.cached]

    @property
    def failed_step(self) -> str | None:
        """The first step that failed, if any."""
        return next((name for name, step in self.steps.items() if step.status is Status.FAILED), None)
