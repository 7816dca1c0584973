"""The app-team example (examples/app_scoring) passes with the SDK's pytest plugin: served_model for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "app_scoring"


def test_the_example_app_test_passes_against_a_served_model(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), *sys.path])}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(EXAMPLE),
            "-p",
            "mlops_sdk.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(EXAMPLE),
            "--basetemp",
            str(tmp_path / "basetemp"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert "1 passed" in completed.stdout
    # The endpoint the fixture started lived in the test's store and was deleted after the test.
    stores = list((tmp_path / "basetemp").rglob(".mlops"))
    assert [(store / "endpoints").is_dir() for store in stores] == [True]
    assert not (stores[0] / "endpoints" / "pricing-test").exists()
