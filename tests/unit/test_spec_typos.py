"""A misspelled keyword on any spec users build is a ConfigurationError naming the class and the field.

pydantic's default (``extra="ignore"``) silently drops an unknown keyword and uses the default:
``BlueGreen(step=[10, 100])`` would roll out in ``[10, 50, 100]``. The guard below walks every public
pydantic class: each is either an input spec (refuses unknown keys with our error and a "did you
mean") or listed as a type the SDK returns or reads back, with the reason.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import mlops_sdk
import mlops_sdk.models
from mlops_sdk import (
    BlueGreen,
    Canary,
    Capture,
    ConfigurationError,
    Copy,
    Guardrails,
    MlopsError,
    Resources,
    Shadow,
    SmokeTest,
    Step,
    TrainingJob,
    TrainingPipeline,
)
from mlops_sdk.core.input_spec import InputSpec, read_stored
from mlops_sdk.core.invalid_input import validate_input
from mlops_sdk.models.data_factory import parse_pipeline

# class name -> (minimal valid keywords, a misspelled keyword, the field it misspells)
SPECS: dict[str, tuple[dict[str, Any], str, str]] = {
    "AllAtOnce": ({}, "bkae", "bake"),
    "BlueGreen": ({}, "step", "steps"),
    "Canary": ({}, "percnt", "percent"),
    "Linear": ({}, "step_percnt", "step_percent"),
    "Replace": ({}, "bake_tme", "bake_time"),
    "Shadow": ({}, "mirror_percnt", "mirror_percent"),
    "SmokeTest": ({"payload": {"input_data": [[1]]}, "expected": [1]}, "tolerence", "tolerance"),
    "Capture": ({}, "sampel_rate", "sample_rate"),
    "Guardrails": ({"p95_ms": 100}, "p99ms", "p99_ms"),
    "ApprovalPolicy": ({"approvers": ["alice"]}, "min_approval", "min_approvals"),
    "AutoApproveRule": ({}, "profile", "profiles"),
    "PlannedRollout": ({"endpoint": "churn", "strategy": "blue_green"}, "bake_tme", "bake_time"),
    "Resources": ({}, "instanse_count", "instance_count"),
    "Autoscale": ({"max_instances": 3}, "min_instance", "min_instances"),
    "Probe": ({}, "perod", "period"),
    "RequestSettings": ({}, "request_timout", "request_timeout"),
    "TrainingJob": ({"code": ".", "command": "python train.py"}, "enviroment", "environment"),
    "TrainingInput": ({"uri": "data/train.csv"}, "mdoe", "mode"),
    "TrainingOutput": ({}, "pth", "path"),
    "PipelineParameter": ({}, "defualt", "default"),
    "CopyActivity": ({"name": "raw", "source": "data/*.csv"}, "sorce", "source"),
    "SqlActivity": ({"name": "clean", "query": "select 1"}, "querry", "query"),
    "PythonActivity": ({"name": "fit", "function": "steps:fit"}, "fuction", "function"),
    "RefreshPipeline": ({"name": "sales", "activities": [Copy(name="raw", source="x.csv")]}, "activites", "activities"),
    "Schedule": ({"frequency": "Day"}, "intervall", "interval"),
    "StorageEvent": ({"scope": "/subscriptions/s/x", "blob_path_begins_with": "/c/blobs/"}, "event", "events"),
    "Binding": ({"source": "parent_input", "name": "raw"}, "tpye", "type"),
    "PipelineInput": ({"name": "raw"}, "nmae", "name"),
    "PipelineOutput": ({"step": "train", "output": "model"}, "outptu", "output"),
    "Step": ({"name": "train", "command": "python t.py"}, "cach", "cache"),
    "TrainingPipeline": ({"name": "p", "steps": [Step("train", command="python t.py")]}, "stesp", "steps"),
    "Monitor": ({"endpoint": "churn", "signals": [{"kind": "data_drift"}]}, "windw", "window"),
    "TimeWindow": ({"last": 60}, "lst", "last"),
    "TrainingBaseline": ({}, "modle", "model"),
    "WindowBaseline": ({"window": "7d"}, "windw", "window"),
    "DataBaseline": ({"path": "ref.csv"}, "targt", "target"),
    "DataDrift": ({}, "threshold", "thresholds"),
    "PredictionDrift": ({}, "bin", "bins"),
    "DataQuality": ({}, "feature", "features"),
    "ModelPerformance": ({"thresholds": {"accuracy": 0.8}}, "min_label", "min_labels"),
    "Target": ({"uri": "local://.mlops"}, "ur", "uri"),
    "LocalTarget": ({"uri": "local://.mlops", "folder": ".mlops"}, "foldr", "folder"),
    "AzureMLTarget": (
        {"uri": "azureml://x", "subscription_id": "s", "resource_group": "g", "workspace": "w"},
        "workspce",
        "workspace",
    ),
}

# Types the SDK builds and returns, or reads back from stored data: they stay tolerant of extra keys.
RETURNED: dict[str, str] = {
    "Lineage": "recorded with every run and read back from stored JSON",
    "ModelRef": "parsed from 'name@version' strings; its own check raises ValueError inside other specs",
    "DigestedReport": "base of the reports the SDK returns",
    "ReportModel": "part of a ValidationReport (returned)",
    "ValidationReport": "returned by validation, read back from report files",
    "CheckResult": "part of a ValidationReport (returned)",
    "FeatureDrift": "part of a ValidationReport (returned)",
    "MetricComparison": "part of a ValidationReport (returned)",
    "ReportFacts": "built by the SDK from a report, stored with an approval request",
    "ApproverIdentity": "established by the backend (whoami, votes); stored with every vote",
    "ApprovalVote": "stored and returned with a request",
    "ApprovalDecision": "returned and stored with a request",
    "ApprovalRequest": "returned by client.approvals",
    "AuditVerification": "returned by verify_audit",
    "Tally": "returned by ApprovalPolicy.evaluate",
    "ActivityError": "part of a RefreshRun (returned)",
    "ActivityRun": "part of a RefreshRun (returned)",
    "Column": "part of a DataOutput (returned)",
    "DataOutput": "returned by a refresh",
    "PipelineInfo": "returned by describe_pipeline",
    "RefreshRun": "returned by a refresh, read back from the store",
    "TriggerInfo": "returned by create_trigger",
    "DeploymentInfo": "part of an Endpoint (returned)",
    "DeploymentResult": "returned by a rollout, read back from operation state",
    "Endpoint": "returned by client.deployments",
    "EndpointKeys": "returned by get_keys",
    "HistoryEntry": "returned by history, read back from the store",
    "SmokeResult": "part of a DeploymentResult (returned)",
    "StepResult": "part of a DeploymentResult, read back from operation state",
    "GuardrailBreach": "part of a DeploymentResult, read back from operation state",
    "GuardrailObservation": "part of a StepResult (returned)",
    "CaptureStats": "returned by capture_stats",
    "FeatureStats": "part of a MonitorReport (returned)",
    "MetricValue": "part of a MonitorReport (returned)",
    "MonitorReport": "returned by a monitor run, read back from report files",
    "SignalResult": "part of a MonitorReport (returned)",
    "FailedTask": "part of a PipelineRun (returned)",
    "PipelineRun": "returned by client.pipelines",
    "AliasEvent": "returned by the registry's alias history",
    "ModelVersion": "returned by the registry",
    "LatencySummary": "part of a ShadowReport (returned)",
    "ShadowReport": "returned by shadow comparison",
    "ShadowSlice": "part of a ShadowReport (returned)",
    "TrainingRun": "returned by training, read back from the store",
    "StepOutputRef": "returned by Step.output(name), turned into a Binding",
    "StepRunResult": "part of a PipelineRunResult (returned)",
    "PipelineRunResult": "returned by a training pipeline run",
}


# Configuration read from files: refuses unknown keys with its own error naming the file and profile.
CONFIGURATION = {"Settings": "core.config checks its keys itself (tests/unit/test_config.py)"}


def _public_models() -> dict[str, type[BaseModel]]:
    """Every pydantic class exported by ``mlops_sdk`` or defined (public) in ``mlops_sdk.models``."""
    found: dict[str, type[BaseModel]] = {}
    for name in mlops_sdk.__all__:
        value = getattr(mlops_sdk, name)
        if isinstance(value, type) and issubclass(value, BaseModel):
            found[value.__name__] = value
    for info in pkgutil.walk_packages(mlops_sdk.models.__path__, "mlops_sdk.models."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = value
    return found


PUBLIC = _public_models()


def test_every_public_model_is_an_input_spec_or_a_listed_returned_type() -> None:
    unlisted = sorted(set(PUBLIC) - set(SPECS) - set(RETURNED) - set(CONFIGURATION))
    assert not unlisted, (
        f"{unlisted}: make an input class an InputSpec (mlops_sdk.core.input_spec) and add it to SPECS, "
        "or add a returned/record type to RETURNED with the reason"
    )
    assert not set(SPECS) & set(RETURNED)
    assert not set(SPECS) - set(PUBLIC), "SPECS names a class that is no longer public"
    assert not set(RETURNED) - set(PUBLIC), "RETURNED names a class that is no longer public"
    for name in CONFIGURATION:
        assert PUBLIC[name].model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", sorted(RETURNED))
def test_returned_types_stay_tolerant_of_stored_extra_keys(name: str) -> None:
    assert not issubclass(PUBLIC[name], InputSpec)
    assert PUBLIC[name].model_config.get("extra") in (None, "ignore"), f"{name} is read back from stored data"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_misspelled_keyword_names_the_class_the_key_and_the_field_meant(name: str) -> None:
    model = PUBLIC[name]
    valid, typo, meant = SPECS[name]
    assert issubclass(model, InputSpec)
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True
    assert meant in model.model_fields
    model(**valid)  # the table's arguments are valid
    with pytest.raises(ConfigurationError) as caught:
        model(**valid, **{typo: valid.get(meant)})
    message = str(caught.value)
    assert message.startswith(f"invalid {name}: "), message
    assert f"{typo}: Extra inputs are not permitted; did you mean `{meant}`?" in message
    assert caught.value.details["field"] == f"{name}.{typo}"
    # the same from a plain dict, as client methods accept
    with pytest.raises(ConfigurationError, match=rf"{typo}: Extra inputs are not permitted; did you mean `{meant}`\?"):
        validate_input(model, {**valid, typo: valid.get(meant)}, what=name)


def test_blue_green_step_typo_is_refused_instead_of_running_the_default_steps() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid BlueGreen: step: .*did you mean `steps`\?"):
        BlueGreen(step=[10, 100])
    assert BlueGreen(steps=[10, 100]).steps == [10, 100]


def test_capture_sample_rate_typo_is_refused_instead_of_capturing_everything() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid Capture: sampel_rate: .*did you mean `sample_rate`\?"):
        Capture(sampel_rate=0.5)


def test_canary_and_shadow_percent_typos_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid Canary: percnt: .*did you mean `percent`\?"):
        Canary(percnt=5)
    with pytest.raises(ConfigurationError, match=r"invalid Shadow: mirror_percnt: .*did you mean `mirror_percent`\?"):
        Shadow(mirror_percnt=10)


def test_a_typo_nested_in_another_spec_is_reported_under_the_outer_spec_with_its_path() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Canary(percent=5, bake=60, guardrails={"p99ms": 100})
    assert str(caught.value) == (
        "invalid Canary: guardrails.p99ms: Extra inputs are not permitted; did you mean `p99_ms`?"
    )
    with pytest.raises(ConfigurationError, match=r"smoke_test\.expectd: .*did you mean `expected`\?"):
        BlueGreen(smoke_test={"payload": {"a": 1}, "expectd": [1]})


def test_a_key_with_no_close_match_lists_the_accepted_keys() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Capture(zzz=1)
    assert "zzz: Extra inputs are not permitted; accepted: ack_timeout, durability, flush_interval" in str(caught.value)


def test_value_errors_of_former_pydantic_raisers_are_configuration_errors_too() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid SmokeTest: .*needs an expectation"):
        SmokeTest(payload={"a": 1})
    with pytest.raises(ConfigurationError, match=r"invalid Resources: instance_count: "):
        Resources(instance_count=0)
    with pytest.raises(ConfigurationError, match=r"invalid TrainingJob: .*scrpt: Extra inputs are not permitted"):
        TrainingJob(code=".", command="python t.py", scrpt="t.py")
    with pytest.raises(ConfigurationError, match=r"invalid Guardrails: .*needs at least one threshold"):
        Guardrails(window=timedelta(seconds=30))
    assert issubclass(ConfigurationError, MlopsError)


def test_dict_inputs_of_client_entry_points_name_the_typo_and_the_file() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid training job: enviroment: .*did you mean `environment`\?"):
        TrainingJob.build({"code": ".", "command": "python t.py", "enviroment": "e"})
    with pytest.raises(ConfigurationError, match=r"steps\.0\.cach: .*did you mean `cache`\?"):
        TrainingPipeline.build({"name": "p", "steps": [{"name": "a", "command": "x", "cach": False}]})
    with pytest.raises(
        ConfigurationError,
        match=r"refresh pipeline in pipelines/sales\.toml: .*activities\.0\.copy\.sorce: .*did you mean `source`",
    ):
        parse_pipeline(
            {"name": "sales", "activities": [{"type": "copy", "name": "raw", "sorce": "x.csv"}]},
            where=str(Path("pipelines/sales.toml")),
        )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_stored_spec_reads_back_under_the_forbidding_rule(name: str) -> None:
    # operation tokens, the local store and deployment metadata keep model_dump output and read it back
    model = PUBLIC[name]
    spec = model(**SPECS[name][0])
    assert model.model_validate_json(spec.model_dump_json()) == spec
    assert model.model_validate(spec.model_dump(mode="json")) == spec


def test_nested_specs_read_back_from_their_stored_form() -> None:
    canary = Canary(
        percent=5,
        bake=60,
        guardrails=Guardrails(p99_ms=100, window=30),
        smoke_test=SmokeTest(payload={"input_data": [[1]]}, shape=[1], latency_budget=2),
    )
    assert Canary.model_validate_json(canary.model_dump_json()) == canary
    prep = Step("prep", command="python prep.py --out ${{outputs.train}}", outputs={"train": None})
    pipeline = TrainingPipeline(
        "p",
        inputs={"raw": "data/raw.csv"},
        steps=[
            prep,
            Step("train", command="python t.py ${{inputs.data}}", inputs={"data": prep.output("train")}),
        ],
        outputs={"model": {"step": "prep", "output": "train"}},
    )
    assert TrainingPipeline.model_validate_json(pipeline.model_dump_json()) == pipeline
    job = TrainingJob(
        code=".",
        command="python t.py",
        inputs={"data": "data/train.csv", "rate": 0.1},
        outputs={"model": "mlflow_model"},
        timeout=60,
    )
    assert TrainingJob.model_validate_json(job.model_dump_json()) == job


@pytest.mark.parametrize("name", sorted(SPECS))
def test_stored_copies_with_keys_of_another_sdk_version_still_read_back(name: str) -> None:
    model = PUBLIC[name]
    spec = model(**SPECS[name][0])
    stored = {**spec.model_dump(mode="json"), "added_by_a_later_version": 1}
    assert read_stored(model, stored) == spec
    assert read_stored(model, json.dumps(stored)) == spec
    with pytest.raises(ConfigurationError, match="added_by_a_later_version"):
        model.model_validate(stored)  # what a user passes is still checked


def test_stored_nested_specs_ignore_unknown_keys_at_every_level_but_keep_their_checks() -> None:
    stored = {"percent": 5, "bake": 60, "guardrails": {"p99_ms": 100, "later": True}, "later": "x"}
    assert read_stored(Canary, stored) == Canary(percent=5, bake=60, guardrails=Guardrails(p99_ms=100))
    with pytest.raises(ValidationError):  # a broken record stays an error its reader reports
        read_stored(Canary, {**stored, "percent": 500})


def test_spec_files_with_a_typo_name_the_file_and_the_field_meant(tmp_path: Path) -> None:
    job = tmp_path / "train.yml"
    job.write_text("code: .\ncommand: python train.py\nenviroment: azureml:sklearn@latest\n")
    with pytest.raises(ConfigurationError) as caught:
        TrainingJob.from_yaml(job)
    assert str(caught.value) == (
        f"invalid training job in {job}: enviroment: Extra inputs are not permitted; did you mean `environment`?"
    )
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(
        "type: pipeline\nname: p\njobs:\n  train:\n    code: .\n    command: python t.py\n    cach: false\n"
    )
    with pytest.raises(ConfigurationError, match=rf"in {pipeline}: .*cach: Extra inputs .*did you mean `cache`\?"):
        TrainingPipeline.from_yaml(pipeline)
