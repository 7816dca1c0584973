"""A missing input path says which file declared it and what it resolved against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.cli.main import run
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.training import TrainingJob


def _project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('hi')\n")
    spec = root / "jobs" / "job.yaml"
    spec.parent.mkdir()
    spec.write_text(
        "code: ../src\ncommand: python train.py ${{inputs.data}}\ninputs:\n  data:\n    path: data/train.csv\n"
    )
    return spec


def test_a_spec_file_input_names_the_file_and_its_folder(tmp_path: Path) -> None:
    spec = _project(tmp_path / "project")
    with MLOpsClient(f"local://{tmp_path / 'store'}") as client, pytest.raises(ConfigurationError) as caught:
        client.training.begin_train(TrainingJob.from_yaml(spec))
    message = str(caught.value)
    assert f"{spec.parent / 'data' / 'train.csv'} does not exist" in message
    assert f"declared as 'data/train.csv' in {spec}, resolved against {spec.parent}" in message
    assert "working directory" not in message  # the old message blamed the working directory
    assert not (tmp_path / "store" / "runs").exists() or not any((tmp_path / "store" / "runs").iterdir())


def test_the_cli_says_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path / "project")
    assert run(["-o", "json", "-t", f"local://{tmp_path / 'store'}", "train", "submit", str(spec)]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["details"]["origin"] == f"declared as 'data/train.csv' in {spec}, resolved against {spec.parent}"


def test_a_python_input_names_the_working_directory(tmp_path: Path) -> None:
    code = _project(tmp_path / "project").parent.parent / "src"
    job = {"code": code, "command": "python train.py ${{inputs.data}}", "inputs": {"data": "nope.csv"}}
    with MLOpsClient(f"local://{tmp_path / 'store'}") as client, pytest.raises(ConfigurationError) as caught:
        client.training.begin_train(job)
    assert f"given as 'nope.csv', resolved against the working directory {Path.cwd()}" in str(caught.value)
