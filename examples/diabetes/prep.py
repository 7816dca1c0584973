"""Pipeline step 1 (prep): read the raw diabetes CSV, drop incomplete rows, write ``clean/diabetes.csv``.

    python prep.py --raw data/diabetes.csv --card data/diabetes-card.md --out outputs/clean

``--card`` is the data set's free-text card: printed for the log, not used for the data (the
pipeline lists it in ``cache_ignore``, so editing it does not re-run anything).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True, help="the raw CSV (prepare_data.py writes one)")
    parser.add_argument("--card", type=Path, help="the data card (printed only)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write diabetes.csv to")
    args = parser.parse_args()

    import pandas as pd

    if args.card is not None and args.card.is_file():
        print(args.card.read_text(encoding="utf-8").splitlines()[0])
    frame = pd.read_csv(args.raw)
    if "target" not in frame.columns:
        raise SystemExit(f"{args.raw} has no 'target' column (columns: {', '.join(frame.columns)})")
    clean = frame.dropna().drop_duplicates()
    args.out.mkdir(parents=True, exist_ok=True)
    clean.to_csv(args.out / "diabetes.csv", index=False)
    print(f"prep: {len(frame)} rows in, {len(clean)} rows out")


if __name__ == "__main__":
    main()
