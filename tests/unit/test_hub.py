"""MLOpsClient: configuration, lazy sub-clients, closing, resume routing, missing extras."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlops_sdk
from mlops_sdk import ConfigurationError, MLOpsClient
from mlops_sdk.backends.base import require_modules
from mlops_sdk.backends.local import LocalBackend


def test_from_config_uses_the_file_and_arguments_win(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text('target = "local://from-file"\n[profiles.ci]\ntarget = "local://ci"\n')
    with MLOpsClient.from_config() as client:
        assert client.target == "local://from-file"
        assert client.config.sources["target"].endswith("mlops.toml")
    with MLOpsClient.from_config(profile="ci") as client:
        assert client.target == "local://ci"
    with MLOpsClient("local://arg") as client:
        assert client.target == "local://arg"


def test_backend_is_created_lazily_and_closed_with_the_hub(tmp_path: Path) -> None:
    client = MLOpsClient("local://store")
    assert client._context._backend is None
    backend = client._context.backend
    assert isinstance(backend, LocalBackend)
    assert backend.store.path == (tmp_path / "store" / "mlops.db").resolve()
    client.close()
    assert client._context._backend is None
    client.close()  # idempotent


def test_unknown_setting_argument_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown configuration key 'data_factroy'"):
        MLOpsClient("local://x", data_factroy="f")


def test_resume_of_unknown_kind_names_the_clients() -> None:
    token = '{"v":1,"kind":"nothing.here","id":"x","target":"local://.mlops","state":{}}'
    with MLOpsClient() as client, pytest.raises(ConfigurationError, match="known clients: approvals, data_factory"):
        client.resume_operation(token)


def test_every_public_name_resolves() -> None:
    for name in mlops_sdk.__all__:
        assert getattr(mlops_sdk, name) is not None
    with pytest.raises(AttributeError):
        mlops_sdk.NoSuchThing  # noqa: B018


def test_missing_extra_names_the_pip_install() -> None:
    with pytest.raises(ConfigurationError, match=r"pip install 'mlops-sdk\[local\]'") as caught:
        require_modules(("definitely_not_installed_pkg",), extra="local", purpose="serving")
    assert caught.value.details["missing"] == ["definitely_not_installed_pkg"]


def test_azure_backend_without_the_azure_extra(tmp_path: Path) -> None:
    # A regular package named `azure` first on the path hides every installed azure.* namespace package.
    (tmp_path / "shadow" / "azure").mkdir(parents=True)
    (tmp_path / "shadow" / "azure" / "__init__.py").write_text("")
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "shadow")!r})
        from mlops_sdk import MLOpsClient, ConfigurationError
        client = MLOpsClient("azureml://subscriptions/s/resourceGroups/rg/workspaces/ws")
        try:
            client._context.backend
        except ConfigurationError as error:
            print(error)
        """
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'mlops-sdk[azure]'" in completed.stdout
    assert "azure.identity" in completed.stdout


def test_polling_comes_from_the_backend_unless_configured(tmp_path: Path) -> None:
    from mlops_sdk.clients._base import BaseClient
    from mlops_sdk.core.operation import PollingOptions

    local = BaseClient("local://.mlops")
    assert local._polling() == PollingOptions(initial_interval=0.05, max_interval=0.5, factor=1.3)
    assert local._polling(PollingOptions(initial_interval=1.0, max_interval=15.0)).initial_interval == 1.0
    configured = BaseClient("local://.mlops", settings={"poll_interval": 5, "poll_max_interval": 60})
    assert configured._polling() == PollingOptions(initial_interval=5.0, max_interval=60.0, factor=1.3)
    assert configured._polling(PollingOptions(initial_interval=1.0)).initial_interval == 5.0


def test_public_names_are_declared_consistently() -> None:
    import ast
    import inspect

    assert set(mlops_sdk.__all__) == {*mlops_sdk._EXPORTS, "__version__"}
    tree = ast.parse(inspect.getsource(mlops_sdk))
    guarded = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for item in node.body
        if isinstance(item, ast.ImportFrom)
        for alias in item.names
    }
    assert guarded == set(mlops_sdk._EXPORTS)
