"""Every backend's service class has every method of its SPI protocol, with the protocol's parameters.

The services are looked up at run time (``Backend.service``), so mypy cannot see a backend that misses a
method the protocol gained: this test does, for each built-in backend and capability.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest

CAPABILITIES = {
    "approvals": "ApprovalService",
    "data_factory": "DataFactoryService",
    "deployments": "DeploymentService",
    "models": "ModelService",
    "monitoring": "MonitoringService",
    "pipelines": "PipelineService",
    "training": "TrainingService",
    "training_pipeline": "TrainingPipelineService",
    "validation": "ValidationService",
}
BACKENDS = ("local", "azure", "memory", "github")  # github: approvals_provider = "github"


def _service_class(backend: str, capability: str) -> type | None:
    try:
        module = importlib.import_module(f"mlops_sdk.backends.{backend}.{capability}")
    except ModuleNotFoundError as error:
        if error.name == f"mlops_sdk.backends.{backend}.{capability}":
            return None  # the backend does not offer this capability
        raise
    returned = module.create_service.__annotations__["return"]  # a name (postponed annotations)
    if returned == "NoReturn":
        return None  # the capability is refused with a reason (e.g. Azure DevOps pipelines on local://)
    if hasattr(module, returned):
        return typing.cast(type, getattr(module, returned))
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):  # a package: the class is in a submodule
        submodule = importlib.import_module(f"{module.__name__}.{info.name}")
        if hasattr(submodule, returned):
            return typing.cast(type, getattr(submodule, returned))
    raise AssertionError(f"{module.__name__}.create_service returns {returned}, which cannot be found")


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_service_implements_its_protocol(backend: str, capability: str) -> None:
    pytest.importorskip("azure.ai.ml") if backend == "azure" else None
    service = _service_class(backend, capability)
    if service is None:
        pytest.skip(f"{backend} has no {capability} capability")
    spi = importlib.import_module(f"mlops_sdk.backends.spi.{capability}")
    protocol = getattr(spi, CAPABILITIES[capability])
    for name, expected in _methods(protocol).items():
        assert hasattr(service, name), f"{service.__qualname__} lacks {name}() of {protocol.__qualname__}"
        actual = inspect.signature(getattr(service, name))
        accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in actual.parameters.values())
        missing = [p for p in expected.parameters if p not in actual.parameters and p != "self"]
        assert accepts_any or not missing, f"{service.__qualname__}.{name}() does not take {missing}"
