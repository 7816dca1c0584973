"""Typed service keys: ``backend.service(MODELS)`` is the same service as the older string form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.spi.keys import BUILTIN_KEYS, MODELS, TRAINING, ServiceKey
from mlops_sdk.backends.spi.models import ModelService
from mlops_sdk.core.errors import ConfigurationError


@pytest.fixture
def hub() -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", show_progress=False) as client:
        yield client


def test_a_key_and_the_string_form_return_the_same_service(hub: MLOpsClient) -> None:
    backend = hub.models._context.backend
    by_key = backend.service(MODELS)
    by_name = backend.service("models", ModelService)  # type: ignore[type-abstract]  # the legacy form on purpose
    assert by_key is by_name
    assert backend.service(TRAINING) is backend.service("training", object)
    assert by_key is not backend.service(TRAINING)


def test_a_key_the_backend_lacks_is_a_configuration_error_naming_it(hub: MLOpsClient) -> None:
    with pytest.raises(ConfigurationError) as caught:
        hub.models._context.backend.service(ServiceKey("monitoring_plugin_x", "Nope"))
    assert caught.value.details["capability"] == "monitoring_plugin_x"


@pytest.mark.parametrize("key", BUILTIN_KEYS, ids=str)
def test_every_key_names_its_spi_protocol(key: ServiceKey[object]) -> None:
    protocol = key.load_protocol()
    assert protocol.__name__ == key.protocol
    assert protocol.__module__ == f"mlops_sdk.backends.spi.{key.name}"


def test_state_folder_is_the_local_store_and_none_elsewhere(tmp_path: Path) -> None:
    with MLOpsClient(f"local://{tmp_path / 'store'}", show_progress=False) as local:
        assert local.state_folder == (tmp_path / "store").resolve()
        assert local.training.state_folder == local.state_folder
    with MLOpsClient("memory://", show_progress=False) as memory:
        assert memory.state_folder is None


def test_a_flow_on_a_local_client_journals_into_its_store(tmp_path: Path) -> None:
    from mlops_sdk.flows import Flow

    with MLOpsClient(f"local://{tmp_path / 'store'}", show_progress=False) as local:
        with Flow("journal-here", run_id="r1", client=local) as flow:
            flow.step("one", lambda ctx: 1)
        with Flow("journal-here", run_id="r1", client=local) as again:
            calls: list[int] = []
            assert again.step("one", lambda ctx: calls.append(1) or 2) == 1
        assert calls == []
    assert (tmp_path / "store" / "mlops.db").is_file()


def test_every_spi_service_protocol_has_a_key() -> None:
    import importlib
    import pkgutil
    import typing

    import mlops_sdk.backends.spi as spi

    protocols = set()
    for info in pkgutil.iter_modules(spi.__path__):
        if info.name.startswith("_"):  # private helpers (a driver base's own protocol) are not capabilities
            continue
        module = importlib.import_module(f"{spi.__name__}.{info.name}")
        for name, value in vars(module).items():
            if (
                name.endswith("Service")
                and getattr(value, "_is_protocol", False)
                and value.__module__ == module.__name__
            ):
                protocols.add((info.name, name))
    assert protocols == {(key.name, key.protocol) for key in BUILTIN_KEYS}, "add a ServiceKey in spi/keys.py"
    assert typing.get_args(ServiceKey[ModelService]) == (ModelService,)
