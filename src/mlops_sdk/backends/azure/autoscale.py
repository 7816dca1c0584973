"""CPU autoscale of an Azure ML online deployment through Azure Monitor autoscale settings.

One ``PUT .../providers/Microsoft.Insights/autoscalesettings/{name}?api-version=2022-10-01`` (the
official ``AutoscaleSettings_CreateOrUpdate``) whose target and metric source are the deployment's
ARM id, with one profile: scale out by one instance above ``scale_out_cpu`` percent average CPU
(``CpuUtilizationPercentage``) over the window, scale in by one below ``scale_in_cpu``. The PUT
replaces the whole setting, so repeating it is harmless (retried by the SDK's policy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops_sdk.backends.azure.errors import azure_errors
from mlops_sdk.models.resources import Resources, iso_duration

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["AUTOSCALE_API_VERSION", "CPU_METRIC", "autoscale_body", "autoscale_setting_name", "put_autoscale"]

AUTOSCALE_API_VERSION = "2022-10-01"
CPU_METRIC = "CpuUtilizationPercentage"
"""The Azure ML online deployment metric autoscale rules use (Azure ML docs, "Autoscale online endpoints")."""


def autoscale_setting_name(endpoint: str, deployment: str) -> str:
    """The autoscale setting's name: one per deployment."""
    return f"{endpoint}-{deployment}-autoscale"


def autoscale_body(resources: Resources, *, deployment_id: str, location: str, name: str) -> dict[str, Any]:
    """The ``AutoscaleSettingResource`` JSON for ``resources.autoscale``."""
    scale = resources.autoscale
    assert scale is not None
    window, cooldown = iso_duration(scale.window), iso_duration(scale.cooldown)

    def rule(operator: str, threshold: float, direction: str) -> dict[str, Any]:
        return {
            "metricTrigger": {
                "metricName": CPU_METRIC,
                "metricResourceUri": deployment_id,
                "timeGrain": "PT1M",
                "statistic": "Average",
                "timeWindow": window,
                "timeAggregation": "Average",
                "operator": operator,
                "threshold": threshold,
            },
            "scaleAction": {"direction": direction, "type": "ChangeCount", "value": "1", "cooldown": cooldown},
        }

    return {
        "location": location,
        "tags": {"mlops.created_by": "mlops_sdk"},
        "properties": {
            "name": name,
            "enabled": True,
            "targetResourceUri": deployment_id,
            "profiles": [
                {
                    "name": "mlops-cpu",
                    "capacity": {
                        "minimum": str(scale.min_instances),
                        "maximum": str(scale.max_instances),
                        "default": str(resources.instance_count),
                    },
                    "rules": [
                        rule("GreaterThan", scale.scale_out_cpu, "Increase"),
                        rule("LessThan", scale.scale_in_cpu, "Decrease"),
                    ],
                }
            ],
        },
    }


def put_autoscale(
    backend: AzureBackend, *, endpoint: str, deployment: str, deployment_id: str, location: str, resources: Resources
) -> dict[str, Any]:
    """PUT the autoscale setting of one deployment (retried on transient errors); returns the service's JSON."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
    from azure.core.rest import HttpRequest

    workspace = backend.workspace
    name = autoscale_setting_name(endpoint, deployment)
    body = autoscale_body(resources, deployment_id=deployment_id, location=location, name=name)
    url = (
        f"{backend.cloud.resource_manager.rstrip('/')}/subscriptions/{quote(workspace.subscription_id)}"
        f"/resourceGroups/{quote(workspace.resource_group)}/providers/Microsoft.Insights/autoscalesettings/"
        f"{quote(name)}"
    )
    client: Any = PipelineClient(
        base_url=backend.cloud.resource_manager,
        policies=[
            HeadersPolicy(),
            RetryPolicy(retry_total=0),  # the SDK's own policy retries (and honours Retry-After)
            BearerTokenCredentialPolicy(backend.get_credential(), backend.cloud.arm_scope),
        ],
    )

    def put() -> dict[str, Any]:
        with azure_errors(f"setting the autoscale of deployment {deployment!r} on {endpoint!r}"):
            request = HttpRequest("PUT", url, params={"api-version": AUTOSCALE_API_VERSION}, json=body)
            response = client.send_request(request, connection_verify=backend.connection_verify)
            response.raise_for_status()
            answer: dict[str, Any] = response.json()
            return answer

    try:
        result: dict[str, Any] = backend.retry_policy.call(put)
        return result
    finally:
        client.close()
