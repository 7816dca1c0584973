"""Composition: ``Flow`` (resumable steps keyed by run id, gates, dry run) and CI output helpers."""

from mlops_sdk.flows.ci import add_summary, detect_ci, mask_secret, set_output
from mlops_sdk.flows.flow import Flow, FlowStopped, PlannedEffect, StepContext, StepRecord, default_run_id

__all__ = [
    "Flow",
    "FlowStopped",
    "PlannedEffect",
    "StepContext",
    "StepRecord",
    "add_summary",
    "default_run_id",
    "detect_ci",
    "mask_secret",
    "set_output",
]
