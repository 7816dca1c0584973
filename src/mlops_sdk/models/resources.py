"""Sizing and runtime settings of an online deployment: ``begin_deploy(..., resources=Resources(...))``.

The names follow Azure ML managed online deployments (instance type and count, environment, request
settings, liveness/readiness probes) plus autoscale through Azure Monitor autoscale settings. The
local backend accepts every field and reports the ones it cannot honour in
``DeploymentResult.resources_ignored`` (field -> reason), so one script runs on both backends.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from mlops_sdk.core.input_spec import InputSpec

__all__ = ["Autoscale", "Probe", "RequestSettings", "Resources", "iso_duration"]

_INSTANCE_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,63}$")


def _seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration (``PT5S``, ``PT0.5S``, ``PT1M30S``), as Azure expects."""
    whole_minutes, rest = divmod(seconds, 60)
    minutes = int(whole_minutes)
    text = "PT"
    if minutes:
        text += f"{minutes}M"
    if rest or not minutes:
        text += f"{rest:g}S"
    return text


class _Seconds(InputSpec):
    @field_validator("*", mode="before")
    @classmethod
    def _timedelta_to_seconds(cls, value: Any) -> Any:
        return _seconds(value)


class Probe(_Seconds):
    """A liveness or readiness probe of the serving container (Azure ``ProbeSettings``), in whole seconds.

    Attributes:
        initial_delay: Seconds before the first probe.
        period: Seconds between probes.
        timeout: Seconds one probe may take.
        failure_threshold: Failed probes in a row before the container counts as unhealthy.
        success_threshold: Successful probes in a row before it counts as healthy again.
    """

    initial_delay: int = Field(default=10, ge=0)
    period: int = Field(default=10, ge=1)
    timeout: int = Field(default=2, ge=1)
    failure_threshold: int = Field(default=30, ge=1)
    success_threshold: int = Field(default=1, ge=1)


class RequestSettings(_Seconds):
    """How each instance takes scoring requests (Azure ``OnlineRequestSettings``).

    Attributes:
        request_timeout: Seconds a scoring request may take (Azure caps it at 180 s).
        max_concurrent_requests_per_instance: Requests one instance works on at once.
    """

    request_timeout: float = Field(default=5.0, gt=0, le=180)
    max_concurrent_requests_per_instance: int = Field(default=1, ge=1, le=1000)


class Autoscale(_Seconds):
    """CPU-based autoscale of a deployment through Azure Monitor autoscale settings.

    Attributes:
        min_instances: Fewest instances.
        max_instances: Most instances.
        scale_out_cpu: Average CPU percent over ``window`` above which one instance is added.
        scale_in_cpu: Average CPU percent over ``window`` below which one instance is removed.
        window: Seconds of metrics each decision looks at (Azure: 5 minutes to 12 hours).
        cooldown: Seconds after a scale action before the next one (Azure: up to 1 week).
    """

    min_instances: int = Field(default=1, ge=1)
    max_instances: int = Field(ge=1)
    scale_out_cpu: float = Field(default=70.0, gt=0, lt=100)
    scale_in_cpu: float = Field(default=25.0, gt=0, lt=100)
    window: float = Field(default=300.0, ge=300, le=43200)
    cooldown: float = Field(default=300.0, ge=60, le=604800)

    @model_validator(mode="after")
    def _check_bounds(self) -> Autoscale:
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) must be at least min_instances ({self.min_instances})"
            )
        if self.scale_in_cpu >= self.scale_out_cpu:
            raise ValueError(
                f"scale_in_cpu ({self.scale_in_cpu:g}) must be below scale_out_cpu ({self.scale_out_cpu:g}), "
                "or instances would be added and removed in turn"
            )
        return self


class Resources(InputSpec):
    """Sizing and runtime settings of a new deployment (``begin_deploy(..., resources=...)``).

    Attributes:
        instance_type: VM size of each instance, e.g. ``Standard_DS3_v2`` (Azure's default here).
        instance_count: Instances at creation (with ``autoscale``: within its bounds).
        environment: Serving environment: ``azureml:<name>:<version>`` or ``azureml:<name>@latest``
            (None: Azure builds one for the MLflow model).
        request: Request timeout and concurrency per instance.
        liveness_probe: When the container is restarted.
        readiness_probe: When the container takes traffic.
        autoscale: Optional CPU-based autoscale (Azure Monitor autoscale setting on the deployment).
    """

    instance_type: str | None = None
    instance_count: int = Field(default=1, ge=1, le=1000)
    environment: str | None = None
    request: RequestSettings | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    autoscale: Autoscale | None = None

    @field_validator("instance_type")
    @classmethod
    def _check_instance_type(cls, value: str | None) -> str | None:
        if value is not None and not _INSTANCE_TYPE.match(value):
            raise ValueError(f"instance_type {value!r} is not a VM size name such as 'Standard_DS3_v2'")
        return value

    @field_validator("environment")
    @classmethod
    def _check_environment(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^azureml:(//)?[^\s]+$", value):
            raise ValueError(
                f"environment {value!r} must name a registered environment: 'azureml:<name>:<version>' "
                "or 'azureml:<name>@latest'"
            )
        return value

    @model_validator(mode="after")
    def _check_count(self) -> Resources:
        scale = self.autoscale
        if scale is not None and not scale.min_instances <= self.instance_count <= scale.max_instances:
            raise ValueError(
                f"instance_count ({self.instance_count}) must lie within autoscale's bounds "
                f"[{scale.min_instances}, {scale.max_instances}]"
            )
        return self

    def given(self) -> list[str]:
        """Names of the fields the user set (defaults left out)."""
        return sorted(self.model_fields_set)
