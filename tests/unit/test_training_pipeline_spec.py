"""The training pipeline spec: bindings, typed errors naming the step and field, YAML <-> Python."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_sdk.core.errors import (
    ConfigurationError,
    PipelineCycleError,
    PipelineReferenceError,
    PipelineSpecError,
    PipelineTypeError,
)
from mlops_sdk.models.training import TrainingJob
from mlops_sdk.models.training_pipeline import Binding, PipelineInput, Step, TrainingPipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes" / "pipeline.yaml"


def _step(name: str, *, inputs: dict | None = None, outputs: tuple[str, ...] = ("out",)) -> Step:
    return Step(name, code=Path("."), command="python s.py", inputs=inputs or {}, outputs=dict.fromkeys(outputs))


def test_the_example_yaml_reads_as_the_azure_ml_layout_says() -> None:
    pipeline = TrainingPipeline.from_yaml(EXAMPLE)
    assert pipeline.name == "diabetes-pipeline"
    assert pipeline.experiment == "diabetes"
    assert pipeline.compute == "cpu-cluster"
    assert pipeline.order() == ["prep", "featurize", "train"]
    featurize = pipeline.step("featurize")
    assert featurize.inputs["clean"] == Binding(source="step_output", step="prep", name="clean", type="uri_folder")
    assert pipeline.step("train").inputs["alpha"] == Binding(source="parent_input", name="alpha")
    assert pipeline.step("prep").cache_ignore == ["data_card"]
    assert pipeline.outputs["model"].step == "train"
    assert pipeline.step("train").outputs["model"].type == "mlflow_model"  # typed by the top-level declaration
    assert pipeline.inputs["raw"].uri == str(EXAMPLE.parent / "data" / "diabetes.csv")
    assert pipeline.step("prep").code == EXAMPLE.parent


def test_yaml_and_python_describe_the_same_pipeline(tmp_path: Path) -> None:
    job = TrainingJob(
        code=tmp_path,
        command="python t.py ${{inputs.data}} ${{outputs.model}}",
        inputs={"data": str(tmp_path)},
        outputs={"model": "mlflow_model"},
    )
    prep = Step(
        "prep",
        code=tmp_path,
        command="python p.py ${{inputs.raw}} ${{outputs.clean}}",
        inputs={"raw": PipelineInput("raw")},
        outputs={"clean": None},
    )
    train = Step("train", job=job, inputs={"data": prep.output("clean")})
    pipeline = TrainingPipeline(
        "p", steps=[train, prep], inputs={"raw": str(tmp_path)}, outputs={"model": train.output("model")}
    )
    assert train.command == job.command
    assert train.inputs["data"] == Binding(source="step_output", step="prep", name="clean")
    written = tmp_path / "p.yaml"
    written.write_text(yaml.safe_dump(pipeline.to_yaml_dict(), sort_keys=False))
    again = TrainingPipeline.from_yaml(written)
    assert again.model_dump() == pipeline.model_dump()
    assert TrainingPipeline.model_validate_json(pipeline.model_dump_json()) == pipeline


def test_a_dangling_step_reference_names_the_step_and_field() -> None:
    with pytest.raises(PipelineReferenceError, match="no step 'prepp'") as caught:
        TrainingPipeline(
            "p", steps=[_step("prep"), _step("train", inputs={"data": "${{parent.jobs.prepp.outputs.out}}"})]
        )
    assert caught.value.details == {"step": "train", "field": "inputs.data"}
    with pytest.raises(PipelineReferenceError, match="has no output 'clean'") as caught:
        TrainingPipeline(
            "p", steps=[_step("prep"), _step("train", inputs={"data": "${{parent.jobs.prep.outputs.clean}}"})]
        )
    assert caught.value.details == {"step": "train", "field": "inputs.data"}
    with pytest.raises(PipelineReferenceError, match="no input 'raw'") as caught:
        TrainingPipeline("p", steps=[_step("prep", inputs={"raw": "${{parent.inputs.raw}}"})])
    assert caught.value.details == {"step": "prep", "field": "inputs.raw"}
    with pytest.raises(PipelineReferenceError) as caught:
        TrainingPipeline("p", steps=[_step("prep")], outputs={"model": "${{parent.jobs.prep.outputs.model}}"})
    assert caught.value.details == {"step": "prep", "field": "outputs.model"}
    with pytest.raises(PipelineReferenceError, match="no output 'model'"):
        _step("prep").output("model")


def test_command_placeholders_and_cache_ignore_must_name_the_steps_inputs() -> None:
    with pytest.raises(PipelineReferenceError, match=r"\$\{\{inputs.data\}\}") as caught:
        Step("train", command="python t.py ${{inputs.data}}")
    assert caught.value.details == {"step": "train", "field": "command"}
    with pytest.raises(PipelineSpecError, match="bindings to other steps go in the step's inputs"):
        Step("train", command="python t.py ${{parent.jobs.prep.outputs.out}}")
    with pytest.raises(PipelineReferenceError, match="cache_ignore names 'notes'") as caught:
        Step("train", command="python t.py", inputs={"data": "x"}, cache_ignore=["notes"])
    assert caught.value.details == {"step": "train", "field": "cache_ignore"}


def test_type_mismatches_are_refused_before_anything_runs() -> None:
    file_out = Step("prep", command="python p.py", outputs={"out": "uri_file"})
    wants_folder = _step("train", inputs={"data": {"type": "uri_folder", "path": "${{parent.jobs.prep.outputs.out}}"}})
    with pytest.raises(PipelineTypeError, match="expects uri_folder") as caught:
        TrainingPipeline("p", steps=[file_out, wants_folder])
    assert caught.value.details["step"] == "train"
    assert caught.value.details["field"] == "inputs.data"
    assert (caught.value.details["expected"], caught.value.details["found"]) == ("uri_folder", "uri_file")
    wants_literal = _step("train", inputs={"alpha": {"type": "literal", "path": "${{parent.inputs.data}}"}})
    with pytest.raises(PipelineTypeError, match="expects literal"):
        TrainingPipeline("p", steps=[wants_literal], inputs={"data": {"path": "/data", "type": "uri_folder"}})
    model_into_folder = _step("train", inputs={"m": {"type": "uri_folder", "path": "${{parent.jobs.prep.outputs.m}}"}})
    TrainingPipeline("p", steps=[Step("prep", command="x", outputs={"m": "mlflow_model"}), model_into_folder])


def test_bad_specs_are_configuration_errors() -> None:
    with pytest.raises(PipelineSpecError, match="at least one step"):
        TrainingPipeline("p", steps=[])
    with pytest.raises(PipelineSpecError, match="two steps are named 'a'"):
        TrainingPipeline("p", steps=[_step("a"), _step("a")])
    with pytest.raises(ConfigurationError, match="steps"):
        TrainingPipeline.build({"name": "p", "steps": [{"name": "a b", "command": "x"}]})
    with pytest.raises(ConfigurationError, match="does not exist"):
        TrainingPipeline.from_yaml("/no/such/pipeline.yaml")


def test_a_yaml_output_declared_but_never_bound_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(
        "type: pipeline\ndisplay_name: p\noutputs:\n  model: {type: mlflow_model}\njobs:\n  a:\n    command: x\n"
    )
    with pytest.raises(PipelineReferenceError, match="model"):
        TrainingPipeline.from_yaml(spec)


def test_a_cycle_names_its_steps_and_a_binding_on_it() -> None:
    steps = [
        _step("a", inputs={"x": "${{parent.jobs.c.outputs.out}}"}),
        _step("b", inputs={"x": "${{parent.jobs.a.outputs.out}}"}),
        _step("c", inputs={"x": "${{parent.jobs.b.outputs.out}}"}),
        _step("d"),
    ]
    with pytest.raises(PipelineCycleError, match="cycle") as caught:
        TrainingPipeline("p", steps=steps)
    cycle = caught.value.details["cycle"]
    assert set(cycle) == {"a", "b", "c"}
    assert cycle[0] == cycle[-1]
    assert caught.value.details["field"] == "inputs.x"


def _has_cycle(edges: dict[int, set[int]]) -> bool:
    """Reference: a DFS with colours (the oracle the spec's detection is checked against)."""
    colour = dict.fromkeys(edges, 0)

    def visit(node: int) -> bool:
        colour[node] = 1
        for nxt in edges[node]:
            if colour[nxt] == 1 or (colour[nxt] == 0 and visit(nxt)):
                return True
        colour[node] = 2
        return False

    return any(colour[node] == 0 and visit(node) for node in edges)


@st.composite
def graphs(draw: st.DrawFn) -> dict[int, set[int]]:
    size = draw(st.integers(min_value=1, max_value=8))
    return {node: set(draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=3))) for node in range(size)}


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_random_graphs_are_refused_exactly_when_they_have_a_cycle(edges: dict[int, set[int]]) -> None:
    steps = [
        _step(f"s{node}", inputs={f"from_s{up}": f"${{{{parent.jobs.s{up}.outputs.out}}}}" for up in sorted(ups)})
        for node, ups in edges.items()
    ]
    if _has_cycle(edges):
        with pytest.raises(PipelineCycleError) as caught:
            TrainingPipeline("p", steps=steps)
        cycle = caught.value.details["cycle"]
        step, field = caught.value.details["step"], caught.value.details["field"]
        assert cycle[0] == cycle[-1]
        for before, after in itertools.pairwise(cycle):  # every hop is a real binding
            assert int(before[1:]) in edges[int(after[1:])]
        assert step in cycle
        assert field.removeprefix("inputs.from_") in cycle
    else:
        order = TrainingPipeline("p", steps=steps).order()
        position = {name: index for index, name in enumerate(order)}
        assert all(position[f"s{up}"] < position[f"s{node}"] for node, ups in edges.items() for up in ups)


_VALID_JOB = {"command": "python a.py --o ${{outputs.o}}", "code": ".", "outputs": {"o": {"type": "uri_folder"}}}


@pytest.mark.parametrize(
    ("layout", "step", "field"),
    [
        ({"inputs": 5}, None, "inputs"),
        ({"settings": "gpu"}, None, "settings"),
        ({"outputs": ["model"]}, None, "outputs"),
        ({"outputs": {1: {"type": "uri_folder"}}}, None, "outputs"),
        ({"jobs": {"a": {**_VALID_JOB, "inputs": "x"}}}, "a", "inputs"),
        ({"jobs": {"a": {**_VALID_JOB, "outputs": 3}}}, "a", "outputs"),
        (
            {
                "outputs": {"m": "mlflow_model"},
                "jobs": {"a": {**_VALID_JOB, "outputs": {"o": "${{parent.outputs.m}}"}}},
            },
            None,
            "outputs.m",
        ),
    ],
)
def test_a_yaml_part_of_the_wrong_shape_is_a_spec_error_naming_it(
    tmp_path: Path, layout: dict, step: str | None, field: str
) -> None:
    # these parts were read as mappings unchecked: AttributeError / TypeError from inside the loader
    spec = tmp_path / "p.yaml"
    spec.write_text(yaml.safe_dump({"type": "pipeline", "display_name": "p", "jobs": {"a": _VALID_JOB}, **layout}))
    with pytest.raises(PipelineSpecError) as caught:
        TrainingPipeline.from_yaml(spec)
    assert (caught.value.details["step"], caught.value.details["field"]) == (step, field)
    assert str(spec) in caught.value.message


@pytest.mark.parametrize(("field", "value"), [("inputs", {"x": None}), ("inputs", {"x": [1]}), ("outputs", {"o": 3})])
def test_an_input_or_output_of_the_wrong_type_is_a_configuration_error(field: str, value: dict) -> None:
    # the field rules raised TypeError, which pydantic passes through untranslated
    for build in (TrainingJob, lambda **kw: Step("s", **kw)):
        with pytest.raises(ConfigurationError) as caught:
            build(command="python a.py", code=".", **{field: value})
        assert caught.value.details["field"].endswith(f".{field}")
        assert next(iter(value)) in caught.value.message


_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(["${{parent.inputs.raw}}", "${{parent.jobs.a.outputs.o}}", "${{parent.outputs.m}}", "uri_folder"]),
)
_KEY = st.sampled_from(
    ["type", "jobs", "inputs", "outputs", "command", "code", "cache", "cache_ignore", "settings", "path", "o", "m"]
)
_TREE = st.recursive(
    _LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEY, inner, max_size=4)), max_leaves=12
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        _TREE,
        st.dictionaries(_KEY, _TREE, max_size=4).map(lambda part: {"jobs": {"a": _VALID_JOB}, **part}),
        st.dictionaries(_KEY, _TREE, max_size=4).map(lambda part: {"jobs": {"a": {**_VALID_JOB, **part}}}),
    )
)
def test_any_yaml_document_loads_or_is_a_configuration_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object
) -> None:
    folder = tmp_path_factory.mktemp("spec")
    spec = folder / "p.yaml"
    spec.write_text(yaml.safe_dump(doc))
    try:
        pipeline = TrainingPipeline.from_yaml(spec)
    except ConfigurationError as error:
        assert str(spec) in error.message  # names the file it could not read
    else:
        assert pipeline.steps
