"""The diabetes loop split into the two CI stages the example pipelines call.

    python examples/diabetes/ci_flow.py train  [--profile prod]   # refresh -> train -> register -> validate
    python examples/diabetes/ci_flow.py deploy --model diabetes@3  # blue/green rollout, then alias champion

``train`` ends with output variables for later stages (``model``, ``outcome``, ``promote``) and the
validation report as the run's step summary, in Azure DevOps and GitHub Actions alike (detected from
the environment; a no-op on a laptop). A model that is merely not better than the champion gives
``promote=false`` and exit code 0: CI stays green and the deploy stage is skipped. A failed check
exits 1. Between the stages sits the CI system's own human gate (an Azure DevOps environment with an
approval check, a GitHub environment with required reviewers).

The run id defaults to the CI build id, so re-running a failed build re-attaches to its refresh and
training job instead of starting them again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from demo import FEATURES, PIPELINE_NAME, refresh_pipeline, training_job  # noqa: E402

from mlops_sdk import MLOpsClient  # noqa: E402
from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, SignatureCheck  # noqa: E402
from mlops_sdk.flows import Flow, add_summary, set_output  # noqa: E402
from mlops_sdk.models.deployments import BlueGreen, SmokeTest  # noqa: E402

ENDPOINT = "diabetes"


def train(client: MLOpsClient, lake: Path, alpha: float) -> int:
    """Refresh, train, register and validate; publish the outcome for the next stage."""
    if client.target.startswith("local://"):
        client.data_factory.define(refresh_pipeline(lake))  # on Azure the ADF pipeline already exists
    with Flow("diabetes-ci", client=client) as flow:
        refresh = flow.step("refresh", lambda step: client.data_factory.begin_refresh(PIPELINE_NAME))
        run = flow.step(
            "train", lambda step: client.training.begin_train(training_job(refresh.outputs["train_set"], alpha))
        )
        model = flow.step("register", lambda step: client.models.register(run, name="diabetes"))
        checks = [
            MetricThreshold("r2", min=0.1),
            BeatsChampion("rmse", greater_is_better=False),
            DataQuality(not_null=FEATURES, min_rows=40),
            SignatureCheck(rows=3),
        ]
        report = flow.gate(
            "validate",
            lambda step: client.validation.validate(model, data=refresh.outputs["eval_set"], checks=checks),
        )
    report = report if flow.outcome == "completed" else flow.steps[-1].result
    set_output("model", model.ref)
    set_output("outcome", report.outcome)
    set_output("promote", "true" if report.passed else "false")
    add_summary(report.to_markdown(), title="validation")
    print(f"{model.ref}: {report.outcome} (flow {flow.run_id}: {flow.outcome})")
    return 1 if report.outcome == "failed" else 0


def deploy(client: MLOpsClient, model_ref: str) -> int:
    """Blue/green rollout with a smoke test before every step; the new version becomes the champion."""
    model = client.models.resolve(model_ref)
    sample = {
        "input_data": {"columns": FEATURES, "data": [[0.04, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]]}
    }
    smoke = SmokeTest(payload=sample, shape=[1], dtype="number", latency_budget=1.0, ready_deadline=120)
    result = client.deployments.begin_deploy(
        model, endpoint=ENDPOINT, strategy=BlueGreen(steps=[10, 50, 100], smoke_test=smoke)
    ).result()
    set_output("deployment", result.deployment)
    if result.rolled_back:
        add_summary(f"### Rolled back {model.ref}\n\n{result.reason}", title="deploy")
        print(f"rolled back: {result.reason}")
        return 1
    client.models.set_alias(model.name, "champion", model.version)
    add_summary(f"### Deployed {model.ref} to `{ENDPOINT}` ({result.deployment}, 10 -> 50 -> 100 %)", title="deploy")
    print(f"deployed {model.ref} as {result.deployment}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("train", "deploy"))
    parser.add_argument("--profile", help="config profile (mlops.toml), e.g. prod")
    parser.add_argument("--model", help="deploy: the model to roll out, e.g. diabetes@3")
    parser.add_argument("--lake", type=Path, default=Path("data/lake"), help="local runs: folder of raw CSV files")
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    with MLOpsClient.from_config(profile=args.profile, show_progress=False) as client:
        if args.stage == "train":
            return train(client, args.lake.resolve(), args.alpha)
        if not args.model:
            parser.error("deploy needs --model NAME@VERSION")
        return deploy(client, args.model)


if __name__ == "__main__":
    raise SystemExit(main())
