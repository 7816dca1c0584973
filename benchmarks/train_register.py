"""Local train + register + alias + load + predict: mlops_sdk vs the same steps in plain MLflow.

Each variant runs in a fresh interpreter (imports included, as a CI step pays them) on a fresh store,
``--repeat`` times (default 3); the table shows medians and the ratio to the plain MLflow script.

* ``plain mlflow``: one script: train Ridge, log params/metrics, ``log_model`` with signature and input
  example (MLflow infers pip requirements, its default), register, set alias ``champion``, load
  ``models:/diabetes@champion``, predict.
* ``plain mlflow, explicit reqs``: the same with ``pip_requirements=[...]`` (what examples/diabetes/train.py does).
* ``mlops_sdk local``: ``client.training.begin_train(examples/diabetes job).result()`` (subprocess, pre-created
  MLflow run, lineage recorded), ``client.models.register``, ``set_alias``, ``resolve("diabetes:champion")``,
  load the version's MLflow model, predict.

    python benchmarks/train_register.py [--repeat N]
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
EXAMPLE = ROOT / "examples" / "diabetes"

PLAIN = """
import sys
import mlflow, sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

folder, explicit = sys.argv[1], sys.argv[2] == "explicit"
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
mlflow.set_experiment("diabetes")
frame = pd.read_csv(f"{folder}/diabetes.csv")
features = frame.drop(columns=["target"])
x_train, x_test, y_train, y_test = train_test_split(features, frame["target"], test_size=0.2, random_state=42)
with mlflow.start_run() as run:
    mlflow.log_params({"alpha": 0.5, "rows": len(frame), "features": features.shape[1]})
    model = Ridge(alpha=0.5).fit(x_train, y_train)
    predictions = model.predict(x_test)
    mlflow.log_metrics({"rmse": float(mean_squared_error(y_test, predictions) ** 0.5),
                        "mae": float(mean_absolute_error(y_test, predictions)),
                        "r2": float(r2_score(y_test, predictions))})
    requirements = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"]
    extra = {"pip_requirements": requirements} if explicit else {}
    info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x_test, predictions),
                                    input_example=x_test.head(3), **extra)
version = mlflow.register_model(info.model_uri, "diabetes")
mlflow.MlflowClient().set_registered_model_alias("diabetes", "champion", version.version)
loaded = mlflow.pyfunc.load_model("models:/diabetes@champion")
assert len(loaded.predict(x_test.head(5))) == 5
"""

OURS = """
import sys
import pandas as pd
from mlops_sdk import MLOpsClient, TrainingJob

folder, example = sys.argv[1], sys.argv[2]
with MLOpsClient(f"local://{folder}/store", show_progress=False) as client:
    job = TrainingJob.from_yaml(f"{example}/job.yaml")
    job = TrainingJob.build({**job.model_dump(), "inputs": {"data": f"{folder}/diabetes.csv", "alpha": 0.5}})
    run = client.training.begin_train(job, idempotency_key="bench").result()
    version = client.models.register(run, name="diabetes")
    client.models.set_alias("diabetes", "champion", version.version)
    champion = client.models.resolve("diabetes:champion")
    assert champion.lineage.training_run_id == run.id and run.metrics["r2"] > 0
    import mlflow.pyfunc
    loaded = mlflow.pyfunc.load_model(champion.source)
    frame = pd.read_csv(f"{folder}/diabetes.csv").drop(columns=["target"])
    assert len(loaded.predict(frame.head(5))) == 5
"""


def _once(script: str, *args: str) -> float:
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as folder:
        sys.path.insert(0, str(EXAMPLE))
        from prepare_data import write_diabetes_csv

        write_diabetes_csv(Path(folder) / "diabetes.csv")
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", script, folder, *args], cwd=folder, capture_output=True, text=True, timeout=180
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median reported), 1..10")
    repeat = max(1, min(10, parser.parse_args().repeat))
    variants = {
        "plain mlflow (inferred reqs)": (PLAIN, "inferred"),
        "plain mlflow (explicit reqs)": (PLAIN, "explicit"),
        "mlops_sdk local": (OURS, str(EXAMPLE)),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):  # interleaved, so machine noise hits every variant alike
        for name, (script, arg) in variants.items():
            timings[name].append(_once(script, arg))
    baseline = statistics.median(timings["plain mlflow (inferred reqs)"])
    explicit = statistics.median(timings["plain mlflow (explicit reqs)"])
    print(f"train + register + alias + load + predict, median of {repeat} (fresh interpreter and store each)")
    print(f"{'variant':32} {'median s':>9} {'min s':>7} {'vs plain':>9} {'vs explicit':>12}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:32} {median:9.2f} {min(values):7.2f} {median / baseline:8.2f}x {median / explicit:11.2f}x")


if __name__ == "__main__":
    main()
