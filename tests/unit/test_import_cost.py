"""`import mlops_sdk` and `mlops --help` stay light: no Azure, MLflow, DuckDB or web stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("azure", "mlflow", "duckdb", "uvicorn", "starlette", "pandas", "pyarrow", "sklearn", "numpy", "msrest")

PROBE = """
import json, sys
{body}
loaded = sorted({{name.split('.')[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps(loaded))
"""


def _loaded_after(body: str) -> list[str]:
    code = PROBE.format(body=body, heavy=HEAVY)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_import_mlops_sdk_is_light() -> None:
    assert _loaded_after("import mlops_sdk; mlops_sdk.MLOpsClient; mlops_sdk.Status; mlops_sdk.Operation") == []


def test_creating_a_local_client_is_light(tmp_path: object) -> None:
    assert _loaded_after(f"import mlops_sdk; mlops_sdk.MLOpsClient('local://{tmp_path}').close()") == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["config", "show"]])
def test_cli_startup_is_light(argv: list[str]) -> None:
    body = (
        "import contextlib, io\n"
        "from mlops_sdk.cli.main import run\n"
        f"with contextlib.redirect_stdout(io.StringIO()): run({argv!r})"
    )
    assert _loaded_after(body) == []


def test_the_endpoint_server_process_skips_the_backend_configuration_machinery() -> None:
    # The server starts as its own process (cold start counts): it needs the web stack, not the SDK's
    # configuration layer, which the local backend's package used to import on the way in.
    code = (
        "import json, sys\n"
        "import mlops_sdk.backends.local.serving.server\n"
        "print(json.dumps(sorted({'pydantic_settings', 'tenacity'} & {n.split('.')[0] for n in sys.modules})))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_the_local_backend_class_still_loads_from_its_package() -> None:
    from mlops_sdk.backends import local
    from mlops_sdk.backends.registry import backend_class

    assert backend_class("local") is local.LocalBackend
    with pytest.raises(AttributeError):
        _ = local.NoSuchThing  # type: ignore[attr-defined]
