"""``MonitoringClient``: captured inferences, late ground truth, and monitors that turn them into signals.

.. code-block:: python

    client.deployments.begin_deploy(model, endpoint="churn", capture=Capture(sample_rate=1.0)).result()
    # ... production traffic; every answer carries x-mlops-correlation-id ...
    client.monitoring.log_ground_truth("churn", ids=ids, labels=labels)
    report = client.monitoring.run(Monitor(endpoint="churn", window="24h", signals=[
        DataDrift(), PredictionDrift(), DataQuality(), ModelPerformance(thresholds={"accuracy": 0.8}),
    ]))
    if not report.passed:
        decision = decide_retrain(monitor_report=report)
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops_sdk.backends.spi.keys import MODELS, MONITORING
from mlops_sdk.backends.spi.monitoring import MonitoringService
from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import check_deployment_name, check_endpoint_name
from mlops_sdk.core.tracing import annotate
from mlops_sdk.models.monitoring import (
    CaptureStats,
    DataBaseline,
    ModelPerformance,
    Monitor,
    MonitorReport,
    TimeWindow,
    TrainingBaseline,
    WindowBaseline,
)

__all__ = ["MonitoringClient"]

_log = get_logger(__name__)


def _monitor(monitor: Monitor | dict[str, Any] | str | Path) -> Monitor:
    if isinstance(monitor, Monitor):
        # checked again: model_copy(update=...) skips validation (a window "2h" as text, a bad threshold)
        return Monitor.from_dict(monitor.model_dump())
    if isinstance(monitor, dict):
        return Monitor.from_dict(monitor)
    if isinstance(monitor, (str, Path)):
        return Monitor.from_toml(monitor)
    raise ConfigurationError(
        f"monitor must be a Monitor, a dict or a TOML file path, got {type(monitor).__name__}",
        details={"field": "monitor"},
    )


def _window(value: Any, field: str) -> TimeWindow:
    from mlops_sdk.models.monitoring.spec import as_window

    return as_window(value, field)


def _dataset(data: Any, field: str) -> Any:
    """``load_dataset(data)``; a DataFrame whose version cannot be computed (a column of mixed types,
    repeated column names: pandas accepts them, Arrow does not) is still taken, its columns kept by the
    capture writer's rule, with no version."""
    import pandas

    from mlops_sdk.checks.data import Dataset, load_dataset
    from mlops_sdk.monitoring.inputs import frame_table

    if isinstance(data, pandas.DataFrame):
        frame_table(data.head(0), field)  # refuses repeated column names, naming the field
        try:
            return load_dataset(data, field=field)
        except ConfigurationError:  # no version for it: a column mixing kinds of values is data here
            return Dataset(data, "")
    return load_dataset(data, field=field)


def _labels_frame(data: Any, id_column: str) -> Any:
    """Labels from ``data``; a CSV / JSON file's id column is read as text: ``00042`` stays ``00042``
    (pandas would read 42, or 1e5 as 100000.0, and the label would join no captured row)."""
    import pandas

    path = Path(data) if isinstance(data, (str, Path)) and "://" not in str(data) else None
    suffix = path.suffix.lower() if path is not None else ""
    if path is not None and path.is_file() and suffix in (".csv", ".json", ".jsonl"):
        try:
            if suffix == ".csv":
                return pandas.read_csv(path, dtype={id_column: str})
            return pandas.read_json(path, lines=suffix == ".jsonl", dtype={id_column: str})
        except (OSError, ValueError):
            pass  # the generic reader says what is wrong, naming the field
    return _dataset(data, "data").frame


def _arrow(frame: Any, field: str = "baseline_data") -> Any:
    from mlops_sdk.monitoring.inputs import frame_table

    return frame_table(frame, field)


class MonitoringClient(BaseClient):
    """Inference capture, ground truth and monitors. Also ``MLOpsClient(...).monitoring``."""

    _capability = "monitoring"

    def _svc(self) -> MonitoringService:
        return self._service(MONITORING)

    def _now(self) -> datetime:
        now = self._context.clock.now()
        return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    @staticmethod
    def _name(endpoint: str) -> str:
        # the same rule on every backend: a name memory:// took would otherwise fail on local / Azure
        return check_endpoint_name(endpoint)

    # -- capture -----------------------------------------------------------------------------------

    def capture_stats(self, endpoint: str) -> CaptureStats:
        """Capture counters of ``endpoint``: rows captured, written, dropped (queue full), failed (write
        errors), sampled out. Locally they count since the endpoint server started; a backend that keeps
        none answers zeros."""
        endpoint = self._name(endpoint)
        return self._svc().capture_stats(endpoint) or CaptureStats(endpoint=endpoint)

    def read_captures(self, endpoint: str, *, window: Any = "24h", deployment: str | None = None) -> Any:
        """Captured rows of ``endpoint`` in ``window`` as a pandas DataFrame (newest data flushed first).

        Columns: ``_id`` (correlation id), ``_ts``, ``_deployment``, ``_model``, ``_prediction`` and the inputs.
        """
        endpoint = self._name(endpoint)
        if deployment is not None:
            check_deployment_name(deployment)
        start, end = _window(window, "window").resolve(self._now())
        service = self._svc()
        service.flush(endpoint)
        return service.read_captures(endpoint, start=start, end=end, deployment=deployment).to_pandas()

    def log_inferences(
        self,
        endpoint: str,
        data: Any,
        *,
        predictions: Any = None,
        prediction_column: str | None = None,
        ids: Any = None,
        deployment: str = "external",
        model: str | None = None,
        at: datetime | None = None,
    ) -> list[str]:
        """Record inferences made outside the SDK's endpoints (your own service, a batch job) as captures.

        Args:
            endpoint: The endpoint name they are monitored under.
            data: The inputs: a DataFrame, a Parquet/CSV/JSON path or records.
            predictions: The predictions, one per row (or name a column with ``prediction_column``).
            prediction_column: Column of ``data`` holding the predictions (removed from the inputs).
            ids: Correlation ids, one per row (default: new ids, returned).
            deployment: Deployment name to file them under.
            model: ``name@version`` that produced them (used for a training baseline).
            at: Their time (default now).

        Returns:
            The correlation ids of the rows, in order (log their labels with these).
        """
        import pyarrow as pa

        from mlops_sdk.monitoring.inputs import correlation_ids, frame_table, input_column
        from mlops_sdk.monitoring.tables import feature_column

        endpoint = self._name(endpoint)
        check_deployment_name(deployment)
        if at is not None and not isinstance(at, datetime):
            raise ConfigurationError(f"at must be a datetime, got {type(at).__name__}", details={"field": "at"})
        frame = _dataset(data, "data").frame.copy()
        if prediction_column is not None:
            if prediction_column not in frame.columns:
                raise ConfigurationError(
                    f"prediction_column {prediction_column!r} is not a column of data ({list(frame.columns)})",
                    details={"field": "prediction_column"},
                )
            predictions = frame.pop(prediction_column).tolist()
        rows = len(frame)
        # an input named like a capture column (_id) is kept as input__id, as the endpoint server keeps it
        renamed = {c: feature_column(str(c)) for c in frame.columns if str(c).startswith("_")}
        clashes = [f"{c} -> {name}" for c, name in renamed.items() if name in frame.columns]
        if clashes:
            raise ConfigurationError(
                f"input columns starting with '_' are kept as input_<name>, which data already has: {clashes}",
                details={"field": "data"},
            )
        frame = frame.rename(columns=renamed)
        id_list = [uuid.uuid4().hex for _ in range(rows)] if ids is None else correlation_ids(ids)
        if len(id_list) != rows:
            raise ConfigurationError(f"ids need one value per row of data ({rows} rows)", details={"field": "ids"})
        if len(set(id_list)) < rows:
            raise ConfigurationError(
                "ids repeat: each row needs its own correlation id (a label joins to every row of its id)",
                details={"field": "ids"},
            )
        if predictions is not None:
            if isinstance(predictions, (str, bytes, dict)) or not hasattr(predictions, "__iter__"):
                raise ConfigurationError(
                    f"predictions must be a list with one value per row, got {type(predictions).__name__}",
                    details={"field": "predictions"},
                )
            predictions = list(predictions)
            if len(predictions) != rows:
                raise ConfigurationError(
                    f"predictions need one value per row of data ({rows} rows, {len(predictions)} predictions)",
                    details={"field": "predictions"},
                )
        stamp = (
            (at or self._now()).astimezone(timezone.utc)
            if (at is None or at.tzinfo)
            else at.replace(tzinfo=timezone.utc)
        )  # a naive time is UTC, as in windows
        columns = {
            "_id": pa.array(id_list, pa.string()),
            "_request_id": pa.array(id_list, pa.string()),
            "_row": pa.array([0] * rows, pa.int32()),
            "_ts": pa.array([stamp] * rows, pa.timestamp("us", tz="UTC")),
            "_deployment": pa.array([deployment] * rows, pa.string()),
            "_model": pa.array([model] * rows, pa.string()),
        }
        # one rule for every column with the capture writer's: values that share no type become text
        inputs = frame_table(frame, "data")
        for name in inputs.column_names:
            columns[name] = inputs.column(name)
        if predictions is not None:
            columns["_prediction"] = input_column(predictions)
        table = pa.table(columns)
        self._svc().write_captures(endpoint, table)
        return id_list

    # -- ground truth ------------------------------------------------------------------------------

    def log_ground_truth(
        self,
        endpoint: str,
        ids: Any = None,
        labels: Any = None,
        *,
        data: Any = None,
        id_column: str = "correlation_id",
        label_column: str = "label",
    ) -> int:
        """Record the true outcome of scored rows, joined to their predictions by correlation id.

        Labels may come days later and in parts; a later label of the same id replaces the earlier one.
        The ids are the ``x-mlops-correlation-id`` of the answers (``<id>:<row>`` for row ``row`` of a
        batch). Stored durably before this returns (locally: an atomically written Parquet part).

        Args:
            endpoint: The endpoint that scored the rows.
            ids: Correlation ids (a list, array or Series).
            labels: The labels, one per id.
            data: Instead of ids/labels: a DataFrame, a Parquet/CSV/JSON path or a refresh output with
                ``id_column`` and ``label_column``.
            id_column: Column of ``data`` with the ids.
            label_column: Column of ``data`` with the labels.

        Returns:
            The number of labels recorded.
        """
        from mlops_sdk.monitoring.inputs import labels_table

        endpoint = self._name(endpoint)
        if data is not None:
            if ids is not None or labels is not None:
                raise ConfigurationError("give ids and labels, or data=, not both", details={"field": "data"})
            frame = _labels_frame(data, id_column)
            missing = [c for c in (id_column, label_column) if c not in frame.columns]
            if missing:
                raise ConfigurationError(
                    f"data has no column {', '.join(missing)} (columns: {list(frame.columns)}); "
                    "name them with id_column= / label_column=",
                    details={"field": "data"},
                )
            ids, labels = frame[id_column].tolist(), frame[label_column].tolist()
        if ids is None or labels is None:
            raise ConfigurationError("pass ids= and labels= (or data=)", details={"field": "ids"})
        table = labels_table(ids, labels, at=self._now())
        annotate({"endpoint": endpoint, "labels": table.num_rows})
        return self._svc().write_labels(endpoint, table)

    # -- monitors ----------------------------------------------------------------------------------

    def run(
        self,
        monitor: Monitor | dict[str, Any] | str | Path,
        *,
        baseline_data: Any = None,
    ) -> MonitorReport:
        """Compute the monitor's signals over its window and return the report (alerts are a value).

        Args:
            monitor: A :class:`Monitor`, its dict form, or a TOML file path.
            baseline_data: The baseline rows (DataFrame or path), overriding ``monitor.baseline``'s data
                (its ``target`` still names the label column).

        Raises:
            ConfigurationError: bad monitor, or a baseline that cannot be found (the message says what to pass).
        """
        from mlops_sdk.monitoring.engine import run_signals

        spec = _monitor(monitor)
        now = self._now()
        start, end = spec.time_window.resolve(now)
        service = self._svc()
        service.flush(spec.endpoint)
        needs_labels = any(isinstance(signal, ModelPerformance) for signal in spec.signals)
        current = service.read_captures(
            spec.endpoint, start=start, end=end, deployment=spec.deployment, ids=needs_labels
        )
        needs_baseline = any(not isinstance(signal, ModelPerformance) for signal in spec.signals)
        baseline = self._baseline(spec, current, now, baseline_data) if needs_baseline and current.num_rows else None
        labels = service.read_labels(spec.endpoint) if needs_labels else None
        report = run_signals(
            spec,
            current=current,
            baseline=baseline,
            labels=labels,
            window=(start, end),
            capture=service.capture_stats(spec.endpoint),
            backend=self._context.backend.name,
            now=now,
        )
        _log.info("monitor %s on %s: %s (%d rows)", spec.name, spec.endpoint, report.outcome, report.rows)
        return report

    def _baseline(self, spec: Monitor, current: Any, now: datetime, baseline_data: Any) -> Any:
        from mlops_sdk.monitoring.engine import PREDICTION, BaselineData

        chosen = spec.baseline
        target = getattr(chosen, "target", None)
        if baseline_data is not None:
            dataset = _dataset(baseline_data, "baseline_data")
            return BaselineData(
                _arrow(dataset.frame), target, {"kind": "data", "version": dataset.version, "rows": dataset.rows}
            )
        if isinstance(chosen, DataBaseline):
            if chosen.path is None:
                raise ConfigurationError(
                    "a data baseline needs path= (or pass baseline_data= to run)", details={"field": "baseline.path"}
                )
            dataset = _dataset(chosen.path, "baseline.path")
            return BaselineData(
                _arrow(dataset.frame), target, {"kind": "data", "version": dataset.version, "rows": dataset.rows}
            )
        if isinstance(chosen, WindowBaseline):
            start, end = chosen.time_window.resolve(now)
            table = self._svc().read_captures(
                spec.endpoint, start=start, end=end, deployment=spec.deployment, ids=False
            )
            if table.num_rows == 0:
                raise ConfigurationError(
                    f"the baseline window {start.isoformat()} - {end.isoformat()} holds no captured rows of "
                    f"{spec.endpoint}; choose another window",
                    details={"field": "baseline.window"},
                )
            description = {"kind": "window", "start": start.isoformat(), "end": end.isoformat(), "rows": table.num_rows}
            return BaselineData(table, PREDICTION, description)
        assert isinstance(chosen, TrainingBaseline)
        return self._training_baseline(spec, chosen, current)

    def _training_baseline(self, spec: Monitor, chosen: TrainingBaseline, current: Any) -> Any:
        from mlops_sdk.checks.data import load_dataset
        from mlops_sdk.models.registry import parse_model_ref
        from mlops_sdk.monitoring.engine import BaselineData

        reference = chosen.model
        if reference is None:
            served = (
                Counter(v for v in current.column("_model").to_pylist() if v)
                if "_model" in current.column_names
                else Counter()
            )
            if not served:
                raise ConfigurationError(
                    f"the captured rows of {spec.endpoint} do not name their model; set "
                    "TrainingBaseline(model='name@version') or pass baseline_data=",
                    details={"field": "baseline.model"},
                )
            reference = served.most_common(1)[0][0]
        try:
            name, version, alias = parse_model_ref(reference)
        except ConfigurationError:
            where = (
                f"baseline.model {reference!r} is"
                if chosen.model is not None
                else f"the captured rows of {spec.endpoint} were served by {reference!r},"
            )
            raise ConfigurationError(
                f"{where} not a registered model version (name@version or name@alias), so there is no training "
                "lineage to take a baseline from; set TrainingBaseline(model='name@version') or pass baseline_data=",
                details={"field": "baseline.model"},
            ) from None
        models = self._context.backend.service(MODELS)
        found = models.get(name, version) if version is not None else models.get_by_alias(name, alias or "")
        versions = found.lineage.data_versions
        key = chosen.input or (next(iter(versions)) if len(versions) == 1 else "data")
        data_version = versions.get(key)
        if data_version is None:
            raise ConfigurationError(
                f"{found.ref} records no training data version{' for input ' + repr(key) if versions else ''} "
                f"(lineage data_versions: {versions or 'none'}); train it on a refresh output, or pass "
                "baseline_data= / a DataBaseline",
                details={"field": "baseline"},
            )
        try:
            located = self._svc().training_data(data_version)
        except ResourceNotFoundError as error:
            raise ConfigurationError(error.message, details={"field": "baseline"}) from None
        dataset = load_dataset(located, field="baseline")
        description = {"kind": "training", "model": found.ref, "input": key, "version": data_version,
                       "rows": dataset.rows}  # fmt: skip
        return BaselineData(_arrow(dataset.frame), chosen.target, description)
