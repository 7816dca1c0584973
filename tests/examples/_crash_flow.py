"""A full local loop as one flow that SIGKILLs itself where ``MLOPS_TEST_KILL`` says (test helper).

python _crash_flow.py <workdir> <run id>      MLOPS_TEST_KILL=<step>:<before|mid|after>
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "diabetes"))

from demo import FEATURES, PIPELINE_NAME, refresh_pipeline, training_job  # noqa: E402

from mlops_sdk import MLOpsClient  # noqa: E402
from mlops_sdk.checks import MetricThreshold  # noqa: E402
from mlops_sdk.flows import Flow  # noqa: E402
from mlops_sdk.models.approvals import ApprovalPolicy, AutoApproveRule  # noqa: E402
from mlops_sdk.models.deployments import BlueGreen, SmokeTest  # noqa: E402

KILL = os.environ.get("MLOPS_TEST_KILL", "")


def die_if(step: str, moment: str) -> None:
    if f"{step}:{moment}" == KILL:
        os.kill(os.getpid(), signal.SIGKILL)


def step(flow: Flow, name: str, start: Any, *, gate: bool = False) -> Any:
    """Run ``start(step)``; for ``mid`` kills, die after the side effect started but before it finished."""

    def action(context: Any) -> Any:
        started = start(context)
        if hasattr(started, "result"):
            die_if(name, "mid")
            return started.result()
        die_if(name, "mid")
        return started

    die_if(name, "before")
    value = (flow.gate if gate else flow.step)(name, action)
    die_if(name, "after")
    return value


def main() -> None:
    workdir, run_id = Path(sys.argv[1]), sys.argv[2]
    sample = {
        "input_data": {"columns": FEATURES, "data": [[0.04, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]]}
    }
    with MLOpsClient(f"local://{workdir / '.mlops'}", show_progress=False) as client:
        client.data_factory.define(refresh_pipeline(workdir / "lake"))
        with Flow("crash", client=client, run_id=run_id) as flow:
            refresh = step(flow, "refresh", lambda s: client.data_factory.begin_refresh(PIPELINE_NAME))
            run = step(
                flow, "train", lambda s: client.training.begin_train(training_job(refresh.outputs["train_set"], 0.05))
            )
            model = step(flow, "register", lambda s: client.models.register(run, name="diabetes"))
            report = step(
                flow,
                "validate",
                lambda s: client.validation.validate(
                    model, data=refresh.outputs["eval_set"], checks=[MetricThreshold("r2", min=0.1)]
                ),
                gate=True,
            )
            policy = ApprovalPolicy(approvers=("release@example.com",), auto_approve_when=(AutoApproveRule(),))
            request = step(flow, "request", lambda s: client.approvals.request(model, report=report, policy=policy))
            step(flow, "approval", lambda s: client.approvals.begin_wait(request.id), gate=True)
            smoke = SmokeTest(payload=sample, shape=[1], dtype="number", ready_deadline=60)
            step(
                flow,
                "deploy",
                lambda s: client.deployments.begin_deploy(
                    model, endpoint="crash", strategy=BlueGreen(steps=[10, 50, 100], smoke_test=smoke)
                ),
            )
        print(flow.outcome)


if __name__ == "__main__":
    main()
