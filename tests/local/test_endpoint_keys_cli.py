"""Closing the loop at the command line: endpoint keys, a ready-to-paste curl line, ``mlops ui``."""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.cli.main import run
from mlops_sdk.cli.ui_cmd import ui_command
from mlops_sdk.core.errors import ConfigurationError
from tests.local._deploy import ROWS, Models, save_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / ".mlops"
    yield folder
    for endpoint in (folder / "endpoints").glob("*"):
        if (endpoint / "config.json").is_file():
            EndpointServer(endpoint, endpoint.name).stop()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(list(args))
    return code, capsys.readouterr().out


def _post(url: str, key: str, body: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL
        url, data=body, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
def test_keys_curl_line_and_regeneration(capsys: pytest.CaptureFixture[str], store: Path, models: Models) -> None:
    target = f"local://{store}"
    code, out = _cli(capsys, "-t", target, "deploy", str(models.a), "-e", "keyed", "--deployment", "blue")
    assert code == 0, out
    # The deploy output ends with a ready-to-paste scoring call; the key comes from a variable, never in clear.
    assert "export MLOPS_ENDPOINT_KEY=$(mlops endpoints keys keyed --primary)" in out
    curl = next(line.strip() for line in out.splitlines() if line.strip().startswith("curl "))
    code, shown = _cli(capsys, "-t", target, "endpoints", "show", "keyed")
    assert code == 0
    assert curl in shown

    code, printed = _cli(capsys, "-t", target, "endpoints", "keys", "keyed", "--primary")
    assert code == 0
    old_key = printed.strip()
    assert old_key not in out
    assert old_key not in shown
    secrets_file = store / "endpoints" / "keyed" / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert json.loads(secrets_file.read_text())["primary_key"] == old_key

    # The printed curl line works as pasted, with the key in the environment.
    (Path.cwd() / "sample-request.json").write_text(json.dumps({"input_data": ROWS}))
    completed = subprocess.run(
        ["/bin/sh", "-c", curl + " -o answer.json -w '%{http_code}'"],
        env={**os.environ, "MLOPS_ENDPOINT_KEY": old_key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.stdout == "200", completed.stderr
    assert len(json.loads(Path("answer.json").read_text())) == len(ROWS)

    code, out = _cli(capsys, "-t", target, "-o", "json", "endpoints", "keys", "keyed", "--regenerate", "primary")
    assert code == 0
    keys = json.loads(out)
    new_key = keys["primary_key"]
    assert new_key != old_key
    assert json.loads(secrets_file.read_text())["primary_key"] == new_key
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    with MLOpsClient(target) as client:
        uri = client.deployments.get_endpoint("keyed").scoring_uri
        assert uri is not None
        body = json.dumps({"input_data": ROWS}).encode()
        assert _post(uri, old_key, body) == 401  # the running server no longer takes the old key
        assert _post(uri, new_key, body) == 200
        assert _post(uri, keys["secondary_key"], body) == 200
        assert client.deployments.get_endpoint("keyed").traffic == {"blue": 100}
        fetched = client.deployments.get_keys("keyed")
        assert new_key not in repr(fetched)
        assert fetched.primary_key.get_secret_value() == new_key
        with pytest.raises(ConfigurationError, match="'primary' or 'secondary'"):
            client.deployments.regenerate_keys("keyed", key="tertiary")  # type: ignore[arg-type]
    code, _ = _cli(capsys, "-t", target, "endpoints", "keys", "keyed", "--regenerate", "both")
    assert code == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_ui_builds_the_mlflow_command_and_answers_on_loopback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = tmp_path / ".mlops"
    with MLOpsClient(f"local://{store}") as client:
        client.models.list()  # creates the MLflow store
    code, out = _cli(capsys, "-t", f"local://{store}", "ui", "--print-command", "--port", "5123")
    assert code == 0
    command = shlex.split(out.strip())
    uri = f"sqlite:///{store}/mlflow.db"
    assert command[1:] == ["-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", "5123"]

    port = _free_port()
    process = subprocess.Popen(ui_command(store, port=port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        status = None
        while status is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    status = response.status
            except OSError:
                time.sleep(0.5)
        assert status == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    capsys.readouterr()
    assert run(["-t", f"local://{tmp_path / 'empty'}", "ui"]) == 1
    assert "no MLflow store" in capsys.readouterr().err
