"""One server per local endpoint, even when a launcher was killed before it recorded the server it started.

A launcher killed between starting an endpoint's server and recording it (``starting.json``) makes
the next launcher start another one. The second must give way to the first instead of serving, and
persisting the endpoint's state, next to it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_sdk.backends.local.serving.process import EndpointServer

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")


def test_a_second_server_of_an_endpoint_gives_way_to_the_running_one(tmp_path: Path) -> None:
    server = EndpointServer(tmp_path / "endpoints" / "solo", "solo")
    server.create()
    first = server.start(timeout=120)
    try:
        announced = json.loads((server.folder / "server.json").read_text())
        second = subprocess.run(
            [sys.executable, "-m", "mlops_sdk.backends.local.serving.server", str(server.folder)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr
        assert "another server" in second.stderr
        assert json.loads((server.folder / "server.json").read_text()) == announced  # still the first one's
        assert server.running() == first
    finally:
        server.stop()


def test_an_endpoint_whose_keys_could_not_be_written_does_not_exist(tmp_path: Path) -> None:
    server = EndpointServer(tmp_path / "endpoints" / "half", "half")
    (server.folder / "secrets.json").mkdir(parents=True)  # writing the keys fails, as a kill there would stop it
    with pytest.raises(OSError):  # noqa: PT011 - whichever OSError the file system gives
        server.create()
    assert not server.exists  # so the next create() writes it whole instead of keeping a keyless endpoint
    (server.folder / "secrets.json").rmdir()
    server.create()
    assert server.exists
    assert set(server.keys()) == {"primary_key", "secondary_key", "admin_key"}
