"""Train a Ridge regression on the diabetes data; log with MLflow; save an MLflow model.

The same script runs unchanged in a notebook, as a local run of ``mlops train submit`` and as an
Azure ML command job: metrics go to whatever MLflow tracking the environment points at
(``MLFLOW_TRACKING_URI`` / ``MLFLOW_RUN_ID`` are set by the local backend and by Azure ML).

    python train.py --data data/diabetes.csv --alpha 0.5 --model outputs/model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _read(data: Path):  # -> pandas.DataFrame
    import pandas as pd

    if data.is_dir():
        files = sorted([*data.glob("*.csv"), *data.glob("*.parquet")])
        if not files:
            raise SystemExit(f"no .csv or .parquet file in {data}")
        data = files[0]
    return pd.read_parquet(data) if data.suffix == ".parquet" else pd.read_csv(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="CSV/Parquet file or a folder holding one")
    parser.add_argument("--alpha", type=float, default=1.0, help="Ridge regularisation strength")
    parser.add_argument("--model", type=Path, required=True, help="folder to save the MLflow model to")
    args = parser.parse_args()

    import mlflow
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    frame = _read(args.data)
    features = frame.drop(columns=["target"])
    x_train, x_test, y_train, y_test = train_test_split(features, frame["target"], test_size=0.2, random_state=42)

    with mlflow.start_run():
        mlflow.log_params({"alpha": args.alpha, "rows": len(frame), "features": features.shape[1]})
        model = Ridge(alpha=args.alpha).fit(x_train, y_train)
        predictions = model.predict(x_test)
        mlflow.log_metrics(
            {
                "rmse": float(mean_squared_error(y_test, predictions) ** 0.5),
                "mae": float(mean_absolute_error(y_test, predictions)),
                "r2": float(r2_score(y_test, predictions)),
            }
        )
        # Explicit requirements: MLflow otherwise infers them in a subprocess (~2.5 s per save).
        mlflow.sklearn.save_model(
            model,
            path=str(args.model),
            signature=infer_signature(x_test, predictions),
            input_example=x_test.head(3),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
        )
    print(f"saved model to {args.model}")


if __name__ == "__main__":
    main()
