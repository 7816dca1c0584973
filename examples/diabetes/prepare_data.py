"""Write scikit-learn's bundled diabetes data set to a CSV file (no download needed).

python prepare_data.py data/diabetes.csv
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_diabetes_csv(path: str | Path) -> Path:
    """Write the 442-row diabetes data (10 features + ``target``) to ``path`` and return it."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    frame.to_csv(partial, index=False)
    partial.replace(target)  # a killed run never leaves a half-written CSV behind
    return target


if __name__ == "__main__":
    print(write_diabetes_csv(sys.argv[1] if len(sys.argv) > 1 else "data/diabetes.csv"))
