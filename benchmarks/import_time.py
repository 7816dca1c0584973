"""Cold import cost of mlops_sdk next to azure.ai.ml and mlflow, measured in one run.

Each import runs in a fresh interpreter; the rounds interleave the three so machine noise hits all
of them alike. Prints medians and the ratio of each to `import azure.ai.ml`.
Target (issue "Foundation"): mlops_sdk below 0.15x azure.ai.ml.

    python benchmarks/import_time.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CANDIDATES = {
    "mlops_sdk": "import mlops_sdk",
    "+ MLOpsClient": "import mlops_sdk; mlops_sdk.MLOpsClient",
    "mlops CLI app": "from mlops_sdk.cli.app import app",
    "azure.ai.ml": "import azure.ai.ml",
    "mlflow": "import mlflow",
}

TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def measure(statement: str) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", TIMER.format(stmt=statement)], capture_output=True, text=True, check=True, timeout=120
    )
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for statement in CANDIDATES.values():  # warm the OS file cache once
        measure(statement)
    samples: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for _ in range(args.rounds):
        for name, statement in CANDIDATES.items():
            samples[name].append(measure(statement))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    reference = medians["azure.ai.ml"]
    print(f"cold import, median of {args.rounds} fresh interpreters")
    print(f"{'import':<18}{'median s':>10}{'vs azure.ai.ml':>16}")
    for name, value in medians.items():
        print(f"{name:<18}{value:>10.3f}{value / reference:>15.3f}x")
    for name in ("mlops_sdk", "+ MLOpsClient"):
        ratio = medians[name] / reference
        print(f"{name} / azure.ai.ml = {ratio:.3f}x (target < 0.15x): {'PASS' if ratio < 0.15 else 'MISS'}")


if __name__ == "__main__":
    main()
