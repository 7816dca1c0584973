"""Write scikit-learn's bundled diabetes data set to a CSV file (no download needed).

python prepare_data.py data/diabetes.csv
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_diabetes_csv(path: str | Path) -> Path:
    """Write the 442-row diabetes data (10 features + ``target``) to ``path`` and return it."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a killed run never leaves a half-written CSV behind; a name of its own per process, so two runs at
    # once never rename each other's file
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    frame.to_csv(partial, index=False)
    partial.replace(target)
    return target


def write_data_card(csv: str | Path) -> Path:
    """Write the data set's card next to ``csv`` (``<name>-card.md``; the pipeline's ``data_card`` input)."""
    card = Path(csv).with_name(f"{Path(csv).stem}-card.md")
    card.write_text(
        "Diabetes (scikit-learn): 442 patients, 10 baseline features, target = progression after one year.\n",
        encoding="utf-8",
    )
    return card


if __name__ == "__main__":
    written = write_diabetes_csv(sys.argv[1] if len(sys.argv) > 1 else "data/diabetes.csv")
    write_data_card(written)
    print(written)
