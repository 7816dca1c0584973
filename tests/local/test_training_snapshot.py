"""Code snapshot rules shared by both backends, and the training spec's own validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_sdk.backends._snapshot import collect_snapshot
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.training import TrainingInput, TrainingJob


def _touch(root: Path, *paths: str) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_gitignore_amlignore_virtualenvs_and_caches(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "train.py",
        "pkg/model.py",
        "pkg/cache.pyc",
        "data/raw.csv",
        "logs/a.log",
        "keep.log",
        "env/pyvenv.cfg",
        "env/lib/site.py",
        ".git/HEAD",
        "__pycache__/x.pyc",
        "sub/notes.tmp",
        "sub/ok.txt",
        ".mlops/mlops.db",
    )
    (tmp_path / ".gitignore").write_text("# comment\n*.log\n!keep.log\n/data/\n")
    (tmp_path / "sub" / ".gitignore").write_text("*.tmp\n")
    files = sorted(p.as_posix() for p in collect_snapshot(tmp_path).files)
    assert files == [".gitignore", "keep.log", "pkg/model.py", "sub/.gitignore", "sub/ok.txt", "train.py"]


def test_amlignore_wins_over_gitignore(tmp_path: Path) -> None:
    _touch(tmp_path, "train.py", "data/raw.csv", "notebook.ipynb")
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / ".amlignore").write_text("*.ipynb\n")
    files = sorted(p.as_posix() for p in collect_snapshot(tmp_path).files)
    assert files == [".amlignore", ".gitignore", "data/raw.csv", "train.py"]


def test_large_snapshot_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_sdk.backends._snapshot as snapshot

    monkeypatch.setattr(snapshot, "WARN_BYTES", 10)
    (tmp_path / "weights.bin").write_bytes(b"0" * 100)
    with caplog.at_level("WARNING", logger="mlops_sdk"):
        collect_snapshot(tmp_path)
    assert "weights.bin" in caplog.text
    assert ".amlignore" in caplog.text


def test_spec_inputs_accept_paths_literals_and_refresh_outputs(tmp_path: Path) -> None:
    class DataOutput:  # what client.data_factory hands out: a uri, a version, the refresh run id
        uri = "file:///data/snapshots/abc.parquet"
        version = "9f86d081884c"
        run_id = "refresh-123"

    job = TrainingJob.build(
        {
            "code": tmp_path,
            "command": "python t.py ${{inputs.data}} ${{inputs.alpha}} ${{inputs.raw}}",
            "inputs": {
                "data": DataOutput(),
                "alpha": 0.1,
                "raw": {"path": "azureml://datastores/x/paths/y", "mode": "download"},
            },
        }
    )
    assert job.inputs["alpha"] == TrainingInput(value=0.1, type="literal")
    assert job.inputs["data"].data_version == "9f86d081884c"
    assert job.data_lineage() == {"data_versions": {"data": "9f86d081884c"}, "refresh_run_id": "refresh-123"}
    assert job.inputs["raw"].mode == "download"
    with pytest.raises(ConfigurationError, match=r"outputs\.model.*declared outputs: none"):
        TrainingJob.build({"code": tmp_path, "command": "python t.py ${{outputs.model}}"})
    with pytest.raises(ConfigurationError, match="both as an input and as an output"):
        TrainingJob.build({"code": tmp_path, "command": "x", "inputs": {"a": 1}, "outputs": {"a": None}})
    with pytest.raises(ConfigurationError, match="experiment"):
        TrainingJob.build({"code": tmp_path, "command": "x", "experiment": "bad name!"})
