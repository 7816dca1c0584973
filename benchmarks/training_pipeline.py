"""The diabetes 3-step pipeline (prep -> featurize -> train): mlops_sdk local vs ZenML vs the scripts by hand.

Every variant runs in a fresh interpreter (imports included, as a CI step pays them), on a fresh
store and copy of examples/diabetes, ``--repeat`` times (default 3); the table shows medians.

* ``mlops_sdk first run``: ``client.training.begin_pipeline("pipeline.yaml").result()`` on an empty
  local store: three supervised training runs, MLflow runs, content-addressed outputs, cache entries.
* ``mlops_sdk cached re-run``: the same command again on that store: every step's cache key (code,
  command, environment, input content) matches, nothing runs.
* ``scripts by hand``: ``python prep.py ...``, ``python featurize.py ...``, ``python train.py ...``
  one after the other (MLflow tracking on SQLite in the folder, as the local store has it).
* ``zenml first run`` / ``zenml cached re-run``: an equivalent ZenML 3-step local pipeline (read the
  CSV and drop incomplete rows -> add the same two features -> fit Ridge and score it), first run on
  an empty ZenML store, then the cached run; needs a Python with zenml (``--zenml-python``; `nox -s
  bench` builds one), else skipped.

Goals: cached re-run <= 0.5x ZenML's cached re-run; first run <= 1.2x the scripts by hand.

    python benchmarks/training_pipeline.py [--repeat 3] [--zenml-python /path/to/python]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "diabetes"
FILES = ("pipeline.yaml", "prep.py", "featurize.py", "train.py", "prepare_data.py", ".amlignore")

OURS = """
import sys
from mlops_sdk import MLOpsClient
with MLOpsClient(f"local://{sys.argv[1]}", show_progress=False) as client:
    result = client.training.begin_pipeline(sys.argv[2]).result()
    assert result.status.value == "Succeeded", result.error
    print(",".join(result.cached_steps))
"""

ZENML = """
import sys
import pandas as pd
from sklearn.linear_model import Ridge
from zenml import pipeline, step

@step
def prep(raw: str) -> pd.DataFrame:
    frame = pd.read_csv(raw)
    return frame.dropna().drop_duplicates()

@step
def featurize(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["bmi_bp"] = frame["bmi"] * frame["bp"]
    frame["age_bmi"] = frame["age"] * frame["bmi"]
    return frame

@step
def train(frame: pd.DataFrame) -> Ridge:
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    features = frame.drop(columns=["target"])
    x_train, x_test, y_train, y_test = train_test_split(features, frame["target"], test_size=0.2, random_state=42)
    model = Ridge(alpha=0.5).fit(x_train, y_train)
    print("r2", r2_score(y_test, model.predict(x_test)))
    return model

@pipeline(enable_cache=True)
def diabetes(raw: str) -> None:
    train(featurize(prep(raw)))

diabetes(raw=sys.argv[1])
"""


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, env=env, check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return elapsed, completed.stdout


def example_copy(folder: Path) -> Path:
    """The example's pipeline and scripts with their data, written before any clock starts."""
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(EXAMPLE / name, folder / name)
    subprocess.run(
        [sys.executable, "prepare_data.py", "data/diabetes.csv"], cwd=folder, check=True, capture_output=True
    )
    return folder


def ours(base: Path) -> tuple[float, float]:
    """(first run, cached re-run) on a fresh store."""
    example = example_copy(base / "example")
    store = base / "store"
    first, printed = timed([sys.executable, "-c", OURS, str(store), str(example / "pipeline.yaml")], base)
    assert printed.strip() == "", f"the first run took steps from the cache: {printed}"
    cached, printed = timed([sys.executable, "-c", OURS, str(store), str(example / "pipeline.yaml")], base)
    assert printed.strip() == "prep,featurize,train", f"the re-run was not fully cached: {printed}"
    return first, cached


def by_hand(base: Path) -> float:
    example = example_copy(base / "example")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}"}
    out = base / "outputs"
    steps = [
        ["prep.py", "--raw", "data/diabetes.csv", "--card", "data/diabetes-card.md", "--out", str(out / "clean")],
        ["featurize.py", "--data", str(out / "clean"), "--out", str(out / "features")],
        ["train.py", "--data", str(out / "features"), "--alpha", "0.5", "--model", str(out / "model")],
    ]
    total = 0.0
    for step in steps:
        elapsed, _ = timed([sys.executable, *step], example, env)
        total += elapsed
    return total


def zenml(base: Path, python: str) -> tuple[float, float]:
    """(first run, cached re-run) in a fresh ZenML store."""
    example = example_copy(base / "example")
    env = {
        **os.environ,
        "ZENML_CONFIG_PATH": str(base / "zenml-config"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_LOGGING_VERBOSITY": "ERROR",
        "AUTO_OPEN_DASHBOARD": "false",
    }
    script = base / "diabetes_zenml.py"
    script.write_text(ZENML)
    raw = str(example / "data" / "diabetes.csv")
    first, _ = timed([python, str(script), raw], base, env)
    cached, _ = timed([python, str(script), raw], base, env)
    return first, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zenml-python", help="a Python interpreter with zenml installed")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {
        "mlops_sdk first run": [],
        "mlops_sdk cached re-run": [],
        "scripts by hand": [],
    }
    if args.zenml_python:
        samples["zenml first run"] = []
        samples["zenml cached re-run"] = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.repeat):
            base = Path(scratch) / f"r{round_number}"
            first, cached = ours(base / "ours")
            samples["mlops_sdk first run"].append(first)
            samples["mlops_sdk cached re-run"].append(cached)
            samples["scripts by hand"].append(by_hand(base / "hand"))
            if args.zenml_python:
                first, cached = zenml(base / "zenml", args.zenml_python)
                samples["zenml first run"].append(first)
                samples["zenml cached re-run"].append(cached)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median of {args.repeat} runs, each in a fresh interpreter (3-step diabetes pipeline)")
    print(f"{'variant':<26}{'seconds':>9}")
    for name, value in medians.items():
        print(f"{name:<26}{value:>9.2f}")
    first_ratio = medians["mlops_sdk first run"] / medians["scripts by hand"]
    print(
        f"\nfirst run / scripts by hand = {first_ratio:.2f}x (goal <= 1.2x): {'PASS' if first_ratio <= 1.2 else 'MISS'}"
    )
    if args.zenml_python:
        cached_ratio = medians["mlops_sdk cached re-run"] / medians["zenml cached re-run"]
        verdict = "PASS" if cached_ratio <= 0.5 else "MISS"
        print(f"cached re-run / zenml cached re-run = {cached_ratio:.2f}x (goal <= 0.5x): {verdict}")
    else:
        print("zenml: skipped (pass --zenml-python; `nox -s bench` builds a zenml environment)")


if __name__ == "__main__":
    main()
