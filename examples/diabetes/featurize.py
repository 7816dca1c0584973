"""Pipeline step 2 (featurize): add interaction features to the clean data, write ``features/diabetes.csv``.

python featurize.py --data outputs/clean --out outputs/features
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="folder holding the clean diabetes.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder to write diabetes.csv to")
    args = parser.parse_args()

    import pandas as pd

    frame = pd.read_csv(args.data / "diabetes.csv")
    frame["bmi_bp"] = frame["bmi"] * frame["bp"]
    frame["age_bmi"] = frame["age"] * frame["bmi"]
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "diabetes.csv", index=False)
    print(f"featurize: {frame.shape[1] - 1} features")


if __name__ == "__main__":
    main()
