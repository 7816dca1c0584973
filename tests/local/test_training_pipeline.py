"""Local training pipelines for real: the diabetes 3-step example, the step cache, resume, cancel, keys.

Every step is a real training run (supervised subprocess, MLflow on SQLite); the example's scripts
are copied to a temporary folder so a test can change them or their data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.errors import ConfigurationError, ConflictError, OperationCanceledError, OperationFailedError
from mlops_sdk.core.status import Status
from mlops_sdk.models.training_pipeline import Step, TrainingPipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes"
FILES = ("pipeline.yaml", "prep.py", "featurize.py", "train.py", "prepare_data.py", ".amlignore")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store per module (the MLflow database is created once)."""
    return tmp_path_factory.mktemp("store")


@pytest.fixture
def client(store: Path) -> Iterator[MLOpsClient]:
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        yield hub


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example's pipeline and scripts in a fresh folder, with its data written by prepare_data.py."""
    folder = tmp_path / "diabetes"
    folder.mkdir()
    for name in FILES:
        shutil.copy2(EXAMPLE / name, folder / name)
    subprocess.run(
        [sys.executable, "prepare_data.py", "data/diabetes.csv"], cwd=folder, check=True, capture_output=True
    )
    return folder


def _training_run_ids(client: MLOpsClient) -> set[str]:
    return {run.id for run in client.training.list_runs(limit=500)}


def _ran(result) -> list[str]:  # steps that really ran (neither cached nor kept from a resumed run)
    return [name for name, step in result.steps.items() if not step.cached and not step.reused]


def test_the_example_runs_and_an_unchanged_rerun_skips_every_step(client: MLOpsClient, example: Path) -> None:
    before = _training_run_ids(client)
    first = client.training.begin_pipeline(example / "pipeline.yaml").result()

    assert first.status is Status.SUCCEEDED
    assert list(first.steps) == ["prep", "featurize", "train"]
    assert _ran(first) == ["prep", "featurize", "train"]
    train = first.step("train")
    assert set(train.metrics) == {"rmse", "mae", "r2"}
    assert (Path(first.outputs["model"]) / "MLmodel").is_file()
    clean = Path(first.step("prep").outputs["clean"]) / "diabetes.csv"
    assert clean.read_text().splitlines()[0].endswith("target")
    features = Path(first.step("featurize").outputs["features"]) / "diabetes.csv"
    assert "bmi_bp" in features.read_text().splitlines()[0]
    # content-addressed: the folder is named after the digest of what is in it
    assert Path(first.step("prep").outputs["clean"]).name == first.step("prep").output_digests["clean"].replace(
        ":", "-"
    )
    created = _training_run_ids(client) - before
    assert created == {step.run.id for step in first.steps.values() if step.run}
    assert {client.training.get_run(run_id).tags["mlops.pipeline_run_id"] for run_id in created} == {first.id}

    again = client.training.begin_pipeline(example / "pipeline.yaml").result()
    assert again.status is Status.SUCCEEDED
    assert again.id != first.id
    assert again.cached_steps == ["prep", "featurize", "train"]
    assert _training_run_ids(client) - before == created  # nothing ran
    assert again.outputs == first.outputs
    assert again.step("train").metrics == train.metrics
    assert {name: step.run.id for name, step in again.steps.items() if step.run} == {
        name: step.run.id for name, step in first.steps.items() if step.run
    }

    version = client.models.register(again, step="train", name="diabetes-pipeline")
    assert version.tags["mlops.pipeline_run_id"] == again.id
    assert version.tags["mlops.pipeline_step"] == "train"
    assert version.tags["mlops.training_run_id"] == train.run.id
    shown = client.training.get_pipeline_run(again.id)
    assert shown.cached_steps == ["prep", "featurize", "train"]
    assert [run.id for run in client.training.list_pipeline_runs(name="diabetes-pipeline", limit=2)] == [
        again.id,
        first.id,
    ]

    # a cached re-run in a fresh interpreter opens neither MLflow nor the training libraries
    probe = (
        "import sys\nfrom mlops_sdk import MLOpsClient\n"
        f"with MLOpsClient('local://{client.target.removeprefix('local://')}', show_progress=False) as c:\n"
        f"    r = c.training.begin_pipeline({str(example / 'pipeline.yaml')!r}).result()\n"
        "print(r.cached_steps, sorted(m for m in ('mlflow', 'pandas', 'sklearn') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path])}
    printed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert printed.strip() == "['prep', 'featurize', 'train'] []"


def test_new_csv_content_reruns_prep_and_downstream_an_ignored_input_does_not(
    client: MLOpsClient, example: Path
) -> None:
    spec = example / "pipeline.yaml"
    client.training.begin_pipeline(spec).result()

    card = example / "data" / "diabetes-card.md"
    card.write_text("Diabetes, revised card: nothing about the data changed.\n", encoding="utf-8")
    ignored = client.training.begin_pipeline(spec).result()
    assert ignored.cached_steps == ["prep", "featurize", "train"]

    csv = example / "data" / "diabetes.csv"
    csv.write_text(csv.read_text())  # rewritten, same bytes: still cached
    assert client.training.begin_pipeline(spec).result().cached_steps == ["prep", "featurize", "train"]

    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-40]) + "\n")  # same name, new content
    changed = client.training.begin_pipeline(spec).result()
    assert changed.status is Status.SUCCEEDED
    assert _ran(changed) == ["prep", "featurize", "train"]
    assert changed.step("prep").cache_key != ignored.step("prep").cache_key
    clean = Path(changed.step("prep").outputs["clean"]) / "diabetes.csv"
    assert len(clean.read_text().splitlines()) == len(lines) - 40


def test_a_failing_featurize_step_resumes_with_featurize_and_train_only(client: MLOpsClient, example: Path) -> None:
    original = (example / "featurize.py").read_text()
    (example / "featurize.py").write_text(original.replace('frame["bmi"] * frame["bp"]', 'frame["bmi"] * frame["bpx"]'))
    before = _training_run_ids(client)
    with pytest.raises(OperationFailedError, match="step 'featurize'") as caught:
        client.training.begin_pipeline(example / "pipeline.yaml").result()
    assert caught.value.details["step"] == "featurize"
    assert "KeyError" in caught.value.message  # the log tail
    assert "bpx" in caught.value.message
    failed = client.training.get_pipeline_run(str(caught.value.operation_id))
    assert failed.status is Status.FAILED
    assert [failed.steps[n].status for n in ("prep", "featurize", "train")] == [
        Status.SUCCEEDED,
        Status.FAILED,
        Status.NOT_STARTED,
    ]
    assert failed.failed_step == "featurize"

    (example / "featurize.py").write_text(original + "\n# fixed\n")
    after_failure = _training_run_ids(client)
    resumed = client.training.begin_resume_pipeline(failed.id).result()
    assert resumed.status is Status.SUCCEEDED
    assert resumed.resumed_from == failed.id
    assert resumed.step("prep").reused
    assert resumed.step("prep").run.id == failed.step("prep").run.id
    assert _ran(resumed) == ["featurize", "train"]
    new_runs = _training_run_ids(client) - after_failure
    assert new_runs == {resumed.step("featurize").run.id, resumed.step("train").run.id}
    assert len(_training_run_ids(client) - before) == 4  # prep, failed featurize, featurize, train

    # resuming it again re-attaches to the successful resumption; a succeeded run cannot be resumed
    assert client.training.begin_resume_pipeline(failed.id).result().id == resumed.id
    with pytest.raises(ConflictError, match="only a failed or canceled run"):
        client.training.begin_resume_pipeline(resumed.id)


SLEEPER = """
import os, pathlib, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
pathlib.Path(sys.argv[1]).write_text(f"{os.getpid()} {child.pid}")
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_cancel_stops_every_running_step_and_its_processes(client: MLOpsClient, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "sleep.py").write_text(textwrap.dedent(SLEEPER), encoding="utf-8")
    marks = tmp_path / "marks"
    marks.mkdir()

    def sleeper(name: str) -> Step:
        return Step(
            name,
            code=code,
            command=f"python sleep.py {marks / name} ${{{{outputs.out}}}}",
            outputs={"out": None},
            cache=False,
        )

    after = Step(
        "after", code=code, command="python sleep.py x ${{inputs.a}}", inputs={"a": "${{parent.jobs.a.outputs.out}}"}
    )
    pipeline = TrainingPipeline("cancel-me", steps=[sleeper("a"), sleeper("b"), after])
    operation = client.training.begin_pipeline(pipeline)
    deadline = time.monotonic() + 120
    while not all((marks / name).exists() and (marks / name).read_text() for name in ("a", "b")):
        assert time.monotonic() < deadline, "the two independent steps did not both start"
        operation.status()
        time.sleep(0.2)
    pids = [int(pid) for name in ("a", "b") for pid in (marks / name).read_text().split()]
    assert all(_alive(pid) for pid in pids)

    operation.cancel()
    with pytest.raises(OperationCanceledError):
        operation.result(timeout=120)
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes still alive: {[p for p in pids if _alive(p)]}"
        time.sleep(0.2)
    result = client.training.get_pipeline_run(operation.id)
    assert result.status is Status.CANCELED
    assert [result.steps[n].status for n in ("a", "b", "after")] == [Status.CANCELED, Status.CANCELED, Status.CANCELED]
    assert result.step("after").run is None
    assert {result.steps[n].run.status for n in ("a", "b")} == {Status.CANCELED}


SUBMIT_AND_DIE = """
import os, sys
from mlops_sdk import MLOpsClient
client = MLOpsClient(sys.argv[1], show_progress=False)
operation = client.training.begin_pipeline(sys.argv[2], idempotency_key="nightly-2026-12-02")
print(operation.id, flush=True)
os._exit(0)  # the submitter dies without waiting: its first step keeps running on its own
"""


def test_a_keyed_pipeline_survives_its_submitter_and_runs_each_step_once(
    client: MLOpsClient, store: Path, example: Path
) -> None:
    (example / "train.py").write_text((example / "train.py").read_text() + "\n# a new version: no cache hit\n")
    before = _training_run_ids(client)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path])}
    died = subprocess.run(
        [sys.executable, "-c", SUBMIT_AND_DIE, f"local://{store}", str(example / "pipeline.yaml")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    first_id = died.stdout.split()[-1]
    again = client.training.begin_pipeline(example / "pipeline.yaml", idempotency_key="nightly-2026-12-02")
    assert again.id == first_id
    result = again.result()
    assert result.status is Status.SUCCEEDED
    assert result.idempotency_key == "nightly-2026-12-02"
    ran = {step.run.id for step in result.steps.values() if not step.cached}
    assert _training_run_ids(client) - before == ran
    assert len(ran) == len(_ran(result)) == 3


SECRET_SPEC = """
import os, sys
from mlops_sdk import Step, TrainingPipeline

def build(code):
    first = Step("first", code=code, command="python wait.py ${{outputs.o}}", outputs={"o": None}, cache=False)
    second = Step(
        "second",
        code=code,
        command="python check.py ${{inputs.i}}",
        inputs={"i": first.output("o")},
        environment_variables={"DB_PASSWORD": os.environ.get("PIPELINE_SECRET", "")},
        cache=False,
    )
    return TrainingPipeline("secret-pipeline", steps=[first, second])
"""
SUBMIT_SECRET_AND_DIE = """
import os, sys
sys.path.insert(0, sys.argv[3])
from spec import build
from mlops_sdk import MLOpsClient
client = MLOpsClient(sys.argv[1], show_progress=False)
print(client.training.begin_pipeline(build(sys.argv[2])).id, flush=True)
os._exit(0)
"""
SECRET = "pipeline-secret-value-42"


def test_a_step_needing_a_secret_never_starts_without_it_and_resume_with_the_pipeline_runs_it(
    client: MLOpsClient, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "wait.py").write_text(
        "import pathlib, sys, time\ntime.sleep(2)\npathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)\n"
    )
    (code / "check.py").write_text(
        f"import os, sys\nsys.exit(0 if os.environ.get('DB_PASSWORD') == {SECRET!r} else 'wrong or no password')\n"
    )
    (tmp_path / "spec.py").write_text(SECRET_SPEC)
    env = {
        **os.environ,
        "PIPELINE_SECRET": SECRET,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path]),
    }
    died = subprocess.run(
        [sys.executable, "-c", SUBMIT_SECRET_AND_DIE, f"local://{store}", str(code), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    run_id = died.stdout.split()[-1]
    deadline = time.monotonic() + 120
    while (failed := client.training.get_pipeline_run(run_id)).status is Status.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert failed.status is Status.FAILED
    assert failed.step("first").status is Status.SUCCEEDED
    assert failed.step("second").status is Status.FAILED
    assert failed.step("second").run is None  # never started with a masked value
    assert "DB_PASSWORD" in (failed.step("second").error or "")

    monkeypatch.setenv("PIPELINE_SECRET", SECRET)
    monkeypatch.syspath_prepend(str(tmp_path))
    from spec import build  # type: ignore[import-not-found]

    resumed = client.training.begin_resume_pipeline(run_id, pipeline=build(str(code))).result()
    assert resumed.status is Status.SUCCEEDED
    assert resumed.step("first").reused
    assert not resumed.step("second").reused
    for path in store.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".log", ".db-wal"):
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_step_whose_run_could_not_start_is_started_once_when_the_key_is_used_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    code = tmp_path / "code"
    code.mkdir()
    (code / "step.py").write_text("import pathlib, sys\npathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)\n")
    one = Step("one", code=code, command="python step.py ${{outputs.o}}", outputs={"o": None}, cache=False)
    two = Step(
        "two",
        code=code,
        command="python step.py ${{outputs.o}} ${{inputs.i}}",
        inputs={"i": one.output("o")},
        outputs={"o": None},
        cache=False,
    )
    pipeline = TrainingPipeline("wedge", steps=[one, two])
    with MLOpsClient(f"local://{store}", show_progress=False) as hub:
        store.mkdir(exist_ok=True)
        (store / "runs").write_text("not a folder")  # starting a training run now fails before it runs
        with pytest.raises(OSError):  # noqa: PT011 - whichever OSError the file system gives
            hub.training.begin_pipeline(pipeline, idempotency_key="wedge-1")
        [claimed] = hub.training.list_pipeline_runs(name="wedge")
        assert claimed.step("one").status is Status.RUNNING  # claimed; its run never started
        (store / "runs").unlink()

        operation = hub.training.begin_pipeline(pipeline, idempotency_key="wedge-1")
        assert operation.id == claimed.id
        result = operation.result()
        assert result.status is Status.SUCCEEDED
        runs = hub.training.list_runs(limit=50)
        assert sorted(run.tags["mlops.pipeline_step"] for run in runs) == ["one", "two"]  # each started once
        assert {run.status for run in runs} == {Status.SUCCEEDED}


OVERLAP = """
import pathlib, sys, time
marks, name, out = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
me = marks / f"{name}.running"
seen = {p.name for p in marks.glob("*.running")}
me.write_text("")
time.sleep(1.0)
seen |= {p.name for p in marks.glob("*.running") if p != me}
me.unlink()
(marks / f"{name}.seen").write_text(",".join(sorted(seen)))
out.mkdir(parents=True, exist_ok=True)
"""


def test_max_parallel_one_never_runs_two_independent_steps_at_once(client: MLOpsClient, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "overlap.py").write_text(OVERLAP)
    marks = tmp_path / "marks"
    marks.mkdir()
    steps = [
        Step(name, code=code, command=f"python overlap.py {marks} {name} ${{{{outputs.o}}}}", outputs={"o": None})
        for name in ("x", "y", "z")
    ]
    result = client.training.begin_pipeline(TrainingPipeline("one-at-a-time", steps=steps), max_parallel=1).result()
    assert result.status is Status.SUCCEEDED
    assert {name: (marks / f"{name}.seen").read_text() for name in ("x", "y", "z")} == {"x": "", "y": "", "z": ""}
    with pytest.raises(ConfigurationError, match="max_parallel"):
        client.training.begin_pipeline(TrainingPipeline("zero", steps=steps), max_parallel=0)
