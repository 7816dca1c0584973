"""The full local loop next to a plain MLflow script and a 5-step ZenML local pipeline, in one run.

* ``mlops_sdk full loop``: one round of examples/diabetes/demo.py: refresh (DuckDB snapshots) ->
  train (subprocess, MLflow) -> register -> validate (4 checks, report) -> policy approval (audited) ->
  blue/green 10/50/100 with smoke tests on a real endpoint server -> score -> HTML report -> stop.
* ``plain mlflow``: train + register + alias + load + predict only (the script of
  benchmarks/train_register.py, MLflow inferring pip requirements as it does by default), and the same
  script with explicit ``pip_requirements`` (what examples/diabetes/train.py passes: MLflow then skips
  the ~2.5 s inference subprocess), the stricter like-for-like comparison.
* ``zenml 5-step``: load -> split -> train -> evaluate -> register as a ZenML local pipeline, first run
  and cached run; needs a Python with zenml (``--zenml-python``; `nox -s bench` builds one), else skipped.

Each variant runs in a fresh interpreter on a fresh folder; medians of ``--repeat`` runs.
Goal (issue "Composition..."): our full loop <= 1.0x the plain MLflow script.

    python benchmarks/demo_loop.py [--repeat 3] [--zenml-python /path/to/python]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_register import PLAIN  # noqa: E402  (the same plain MLflow script, not a copy)

ZENML = """
import sys, os
from zenml import pipeline, step
from zenml.client import Client

@step
def load() -> dict:
    from sklearn.datasets import load_diabetes
    x, y = load_diabetes(return_X_y=True)
    return {"x": x.tolist(), "y": y.tolist()}

@step
def split(data: dict) -> dict:
    n = int(len(data["y"]) * 0.8)
    return {"xt": data["x"][:n], "yt": data["y"][:n], "xv": data["x"][n:], "yv": data["y"][n:]}

@step
def train(parts: dict) -> bytes:
    import pickle
    from sklearn.linear_model import Ridge
    return pickle.dumps(Ridge(alpha=0.5).fit(parts["xt"], parts["yt"]))

@step
def evaluate(model: bytes, parts: dict) -> float:
    import pickle
    from sklearn.metrics import r2_score
    return float(r2_score(parts["yv"], pickle.loads(model).predict(parts["xv"])))

@step
def register(model: bytes, score: float) -> str:
    return f"registered r2={score:.3f}"

@pipeline(enable_cache=True)
def five_steps() -> None:
    data = load()
    parts = split(data)
    model = train(parts)
    score = evaluate(model, parts)
    register(model, score)

five_steps()
"""


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env, check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return elapsed


def _diabetes_csv(folder: Path) -> Path:
    """The input CSV, written before the clock starts (for every variant alike)."""
    sys.path.insert(0, str(ROOT / "examples" / "diabetes"))
    from prepare_data import write_diabetes_csv

    return write_diabetes_csv(folder / "diabetes.csv")


def ours(folder: Path) -> float:
    data = _diabetes_csv(folder)
    demo = ROOT / "examples" / "diabetes" / "demo.py"
    return timed(
        [sys.executable, str(demo), "--workdir", str(folder / "demo"), "--rounds", "1", "--data", str(data)], folder
    )


def plain(folder: Path, requirements: str) -> float:
    _diabetes_csv(folder)
    return timed([sys.executable, "-c", PLAIN, str(folder), requirements], folder)


def zenml(folder: Path, python: str) -> float:
    """One run of the 5-step pipeline; the first call in ``folder`` starts from an empty store and cache."""
    import os

    folder.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "ZENML_CONFIG_PATH": str(folder / "zenml-config"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_LOGGING_VERBOSITY": "ERROR",
        "AUTO_OPEN_DASHBOARD": "false",
    }
    script = folder / "five_steps.py"
    script.write_text(ZENML)
    return timed([python, str(script)], folder, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zenml-python", help="a Python interpreter with zenml installed")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"mlops_sdk full loop": [], "plain mlflow": [], "plain mlflow, explicit reqs": []}
    if args.zenml_python:
        samples["zenml 5-step, first run"] = []
        samples["zenml 5-step, cached"] = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.repeat):
            base = Path(scratch) / f"r{round_number}"
            for name in samples:
                if name.startswith("zenml"):
                    # first run, then the cached re-run, in the same fresh ZenML store
                    samples[name].append(zenml(base / "zenml", args.zenml_python))
                    continue
                folder = base / name.replace(" ", "_")
                folder.mkdir(parents=True)
                if name == "mlops_sdk full loop":
                    samples[name].append(ours(folder))
                else:
                    samples[name].append(plain(folder, "explicit" if "explicit" in name else "inferred"))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    reference = medians["plain mlflow"]
    print(f"median of {args.repeat} runs, each in a fresh interpreter and folder")
    print(f"{'variant':<28}{'seconds':>9}{'vs plain mlflow':>17}")
    for name, value in medians.items():
        print(f"{name:<28}{value:>9.2f}{value / reference:>16.2f}x")
    if not args.zenml_python:
        print("zenml: skipped (pass --zenml-python; `nox -s bench` builds a zenml environment)")
    ratio = medians["mlops_sdk full loop"] / reference
    strict = medians["mlops_sdk full loop"] / medians["plain mlflow, explicit reqs"]
    print(f"\nfull loop / plain mlflow = {ratio:.2f}x (goal <= 1.0x): {'PASS' if ratio <= 1.0 else 'MISS'}")
    print(f"full loop / plain mlflow with explicit requirements = {strict:.2f}x")


if __name__ == "__main__":
    main()
