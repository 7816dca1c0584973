"""Models and a load-paced clock for the guarded-rollout tests (real servers, bounded load)."""

from __future__ import annotations

import json
import math
import textwrap
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mlops_sdk.core.clock import SystemClock
from tests.loadgen import LoadRun

COLUMNS = ["a", "b", "c"]
FAILING_C = 9.0
"""The ``c`` value the failing model cannot score (2 payloads of 101 carry it: 2 % of inputs)."""
SHIFT = 2.0
"""What the shifted model adds to every prediction (about 0.9 standard deviations of y = 2a + b)."""

_PYFUNC = textwrap.dedent(
    """
    import time
    import mlflow.pyfunc
    from mlflow.models import set_model

    MODE = {mode!r}

    class Model(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            if MODE == "failing" and (model_input["c"] == {failing}).any():
                raise RuntimeError("cannot score this row")
            if MODE == "slow":
                time.sleep(0.03)
            return (2 * model_input["a"] + model_input["b"]).tolist()

    set_model(Model())
    """
)


@dataclass(frozen=True)
class GuardedModels:
    """Saved models: the production one, a healthy successor and three faulty ones."""

    base: Path
    healthy: Path
    failing: Path
    slow: Path
    shifted: Path


def save_guarded_models(folder: Path) -> GuardedModels:
    """y = 2a + b by scikit-learn (base, healthy, shifted by :data:`SHIFT`) and by pyfunc (failing, slow)."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(11)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=COLUMNS)
    paths: dict[str, Path] = {}
    for name, offset, seed_noise in (("base", 0.0, 0.0), ("healthy", 0.0, 1e-3), ("shifted", SHIFT, 0.0)):
        target = 2 * frame.a + frame.b + offset + seed_noise * frame.c
        model = LinearRegression().fit(frame, target)
        path = folder / f"model_{name}"
        mlflow.sklearn.save_model(
            model, str(path), signature=infer_signature(frame, model.predict(frame)), pip_requirements=["scikit-learn"]
        )
        paths[name] = path
    for mode in ("failing", "slow"):
        code = folder / f"{mode}_model.py"
        code.write_text(_PYFUNC.format(mode=mode, failing=FAILING_C))
        path = folder / f"model_{mode}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.save_model(
                str(path),
                python_model=str(code),
                signature=infer_signature(frame, frame.a),
                pip_requirements=["pandas"],
            )
        paths[mode] = path
    return GuardedModels(**paths)


def payloads(count: int = 101, seed: int = 3) -> list[bytes]:
    """``count`` one-row ``input_data`` bodies; two of them have ``c`` = :data:`FAILING_C`.

    101 is prime: the server routes by a repeating 100-slot schedule, and a pool whose size shares
    a factor with it would send the canary a fixed subset of the payloads (a biased sample).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(count, 3)).round(4).tolist()
    rows[count // 3][2] = rows[2 * count // 3][2] = FAILING_C
    return [json.dumps({"input_data": {"columns": COLUMNS, "data": [row]}}).encode() for row in rows]


class LoadPacedClock(SystemClock):
    """Simulated time that advances as the load generator answers: ``rate`` answers per simulated second.

    A rollout's wait of ``seconds`` lasts until ``seconds * rate`` more answers arrived (at most
    ``cap`` real seconds), then simulated time jumps to its end: bakes of minutes take as long
    as the traffic they need, and the servers see real requests throughout.
    """

    def __init__(self, load: LoadRun, rate: float, cap: float = 30.0) -> None:
        self.load, self.rate, self.cap = load, rate, cap
        self.offset = 0.0

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        if seconds <= 0.2:
            time.sleep(max(0.0, seconds))
            return
        wanted = len(self.load.samples) + math.ceil(seconds * self.rate)
        start = time.monotonic()
        while len(self.load.samples) < wanted and not self.load.done and time.monotonic() - start < self.cap:
            time.sleep(0.01)
        self.offset += max(0.0, seconds - (time.monotonic() - start))
