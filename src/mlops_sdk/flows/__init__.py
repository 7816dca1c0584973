"""Composition: ``Flow`` (resumable steps keyed by run id, gates, dry run), retraining decisions, CI outputs."""

from mlops_sdk.flows.ci import add_summary, detect_ci, mask_secret, set_output
from mlops_sdk.flows.flow import Flow, FlowStopped, PlannedEffect, StepContext, StepRecord, default_run_id
from mlops_sdk.flows.retrain import RetrainDecision, decide_retrain

__all__ = [
    "Flow",
    "FlowStopped",
    "PlannedEffect",
    "RetrainDecision",
    "StepContext",
    "StepRecord",
    "add_summary",
    "decide_retrain",
    "default_run_id",
    "detect_ci",
    "mask_secret",
    "set_output",
]
