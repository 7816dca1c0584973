"""Monitoring on Azure ML: what the deployments' data collector wrote to the workspace blob datastore,
and ground truth kept next to it.

Captured rows are the data collector's JSON-lines files on the default datastore
(``workspaceblobstore``), one folder per hour (``rollingRate: Hour``, which ``Capture`` sets)::

    modelDataCollector/<endpoint>/<deployment>/model_inputs/<yyyy>/<MM>/<dd>/<HH>/<file>.jsonl
    modelDataCollector/<endpoint>/<deployment>/model_outputs/<yyyy>/<MM>/<dd>/<HH>/<file>.jsonl

Each line is one collected request: ``time``, ``data`` (the rows: records, or one value per row for
outputs), ``correlationid`` (the request's ``x-request-id``; row ``i`` of a batch is ``<id>:<i>``, as on
the local server). Inputs and outputs are joined by correlation id and row. ``log_inferences`` writes
the same layout, so rows logged from elsewhere and collected rows read the same way. Labels are
Parquet parts under ``mlops-monitoring/<endpoint>/labels/``. Every blob is read and written with the
backend's own blob client (its HTTP configuration and ``blob_endpoint``, as model downloads are).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._storage import DatastorePath, _container
from mlops_sdk.backends.azure.training import aml_errors
from mlops_sdk.backends.base import require_modules
from mlops_sdk.backends.spi.keys import MODELS
from mlops_sdk.core.errors import ConfigurationError, ResourceNotFoundError
from mlops_sdk.core.names import check_endpoint_name
from mlops_sdk.models.monitoring import CaptureStats
from mlops_sdk.monitoring.tables import feature_column

if TYPE_CHECKING:
    from mlops_sdk.backends.azure import AzureBackend

__all__ = ["COLLECTOR_ROOT", "AzureMonitoringService", "create_service"]

DATASTORE = "workspaceblobstore"
COLLECTOR_ROOT = "modelDataCollector"
LABELS_ROOT = "mlops-monitoring"
_HOUR = re.compile(r"/(?P<collection>model_inputs|model_outputs)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/")


def create_service(backend: AzureBackend) -> AzureMonitoringService:
    """Entry point used by ``Backend.service("monitoring", ...)``."""
    return AzureMonitoringService(backend)


def _check(endpoint: str) -> str:
    return check_endpoint_name(endpoint)


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class AzureMonitoringService:
    """See the module docstring."""

    def __init__(self, backend: AzureBackend) -> None:
        backend.require("azure.ai.ml", purpose="monitoring on Azure ML")
        # the signals are computed here, with the local extra's data stack
        require_modules(("pyarrow", "duckdb", "pandas", "scipy"), extra="local", purpose="monitoring")
        self._backend = backend

    def _container(self) -> Any:
        models: Any = self._backend.service(MODELS)
        return _container(self._backend, models.ml, DatastorePath(DATASTORE, ""))

    def _call(self, what: str, function: Any) -> Any:
        def attempt() -> Any:
            with aml_errors(what):
                return function()

        return self._backend.retry_policy.call(attempt)

    # -- captures ----------------------------------------------------------------------------------

    def read_captures(
        self, endpoint: str, *, start: datetime, end: datetime, deployment: str | None, ids: bool = True
    ) -> Any:
        """The collector's lines of the hours overlapping the window, joined and filtered on time."""
        from mlops_sdk.monitoring.tables import empty_captures

        prefix = f"{COLLECTOR_ROOT}/{_check(endpoint)}/" + (f"{deployment}/" if deployment else "")
        first = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)

        def read() -> list[tuple[str, str, bytes, str]]:
            found = []
            with self._container() as container:
                for blob in container.list_blobs(name_starts_with=prefix):
                    match = _HOUR.search(blob.name)
                    if match is None:
                        continue
                    hour = datetime(
                        int(match["y"]), int(match["m"]), int(match["d"]), int(match["h"]), tzinfo=timezone.utc
                    )
                    if first <= hour < end:
                        deployment_name = blob.name[len(f"{COLLECTOR_ROOT}/{endpoint}/") :].split("/", 1)[0]
                        body = container.download_blob(blob.name).readall()
                        found.append((deployment_name, match["collection"], body, blob.name))
            return found

        files = self._call(f"reading the data collector's files of {endpoint}", read)
        table = _captured_table(files, start, end)
        return table if table is not None else empty_captures()

    def write_captures(self, endpoint: str, table: Any) -> int:
        """Write the rows as collector lines (one ``model_inputs`` and one ``model_outputs`` file per hour)."""
        rows = table.to_pylist()
        features = [name for name in table.column_names if not name.startswith("_")]
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            stamp: datetime = row["_ts"].astimezone(timezone.utc)
            groups.setdefault((row["_deployment"], stamp.strftime("%Y/%m/%d/%H")), []).append(row)
        uploads = []
        for (deployment, hour), items in groups.items():
            inputs, outputs = [], []
            for item in items:
                base = {"specversion": "1.0", "id": uuid.uuid4().hex, "time": item["_ts"].isoformat(),
                        "correlationid": item["_id"], "datacontenttype": "application/json"}  # fmt: skip
                inputs.append({**base, "type": "azureml.inference.model_inputs",
                               "data": [{name: item[name] for name in features}]})  # fmt: skip
                if "_prediction" in item:
                    outputs.append({**base, "type": "azureml.inference.model_outputs", "data": [item["_prediction"]]})
            name = uuid.uuid4().hex
            folder = f"{COLLECTOR_ROOT}/{_check(endpoint)}/{deployment}"
            uploads.append((f"{folder}/model_inputs/{hour}/{name}.jsonl", inputs))
            if outputs:
                uploads.append((f"{folder}/model_outputs/{hour}/{name}.jsonl", outputs))

        def write() -> None:
            with self._container() as container:
                for path, lines in uploads:
                    body = "".join(json.dumps(line, default=str) + "\n" for line in lines).encode()
                    container.upload_blob(path, body, overwrite=True)

        self._call(f"writing inferences of {endpoint}", write)
        return len(rows)

    # -- labels ------------------------------------------------------------------------------------

    def write_labels(self, endpoint: str, table: Any) -> int:
        """One Parquet part per call (a new blob name: parts are never overwritten)."""
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = f"{LABELS_ROOT}/{_check(endpoint)}/labels/part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"

        def write() -> None:
            with self._container() as container:
                container.upload_blob(path, buffer.getvalue(), overwrite=False)

        self._call(f"writing labels of {endpoint}", write)
        return int(table.num_rows)

    def read_labels(self, endpoint: str) -> Any:
        """Every label part of the endpoint."""
        import pyarrow.parquet as pq

        from mlops_sdk.monitoring.tables import LABEL_COLUMNS, empty_labels, union_tables

        prefix = f"{LABELS_ROOT}/{_check(endpoint)}/labels/"

        def read() -> list[tuple[str, bytes]]:
            with self._container() as container:
                return [
                    (blob.name, container.download_blob(blob.name).readall())
                    for blob in container.list_blobs(name_starts_with=prefix)
                    if blob.name.endswith(".parquet")
                ]

        parts = self._call(f"reading labels of {endpoint}", read)
        tables = []
        for name, part in parts:
            try:
                table = pq.read_table(io.BytesIO(part))
            except (OSError, ValueError) as error:  # ArrowInvalid is a ValueError
                raise ConfigurationError(
                    f"labels file {name} is not a readable Parquet file ({str(error).splitlines()[0][:120]}); move it "
                    "out of the labels folder",
                    details={"field": "labels", "files": [name]},
                ) from None
            missing = [column for column in LABEL_COLUMNS if column not in table.column_names]
            if missing:
                raise ConfigurationError(
                    f"labels file {name} has no column {', '.join(missing)}; move it out of the labels folder",
                    details={"field": "labels", "files": [name]},
                )
            tables.append(table)
        return union_tables(tables) if tables else empty_labels()

    # -- the rest ----------------------------------------------------------------------------------

    def capture_stats(self, endpoint: str) -> CaptureStats | None:
        """Azure ML reports no collector counters the SDK can read."""
        return None

    def flush(self, endpoint: str) -> None:
        """The collector writes on its own schedule; nothing to ask for."""

    def training_data(self, version: str) -> Any:
        """Training snapshots are not located by version on Azure (yet): the caller names the baseline."""
        raise ResourceNotFoundError(
            f"the azure backend cannot locate training data by version {version!r}; pass baseline_data= "
            "(a DataFrame or file) or DataBaseline(path=...)",
            backend="azure",
            details={"version": version},
        )


def _events(body: bytes, blob: str) -> list[dict[str, Any]]:
    """The collector events of one file. Its last line may still be being appended (no newline yet):
    that one is left for the next reading; any other line that is not an event is an error naming the
    file and line (a foreign or damaged file must not silently drop rows)."""
    text = body.decode("utf-8", errors="replace")
    lines = text.split("\n")
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or "time" not in event:
                raise ValueError("not a collector event (an object with 'time')")
            _when(str(event["time"]))
        except ValueError as error:
            if number == len(lines):  # the unfinished last line of a file being appended to
                break
            raise ConfigurationError(
                f"data collector file {blob} line {number} cannot be read ({str(error)[:120]}); move the file out "
                "of the collector's folder",
                details={"field": "capture", "files": [blob]},
            ) from None
        events.append(event)
    return events


def _captured_table(files: list[tuple[str, str, bytes, str]], start: datetime, end: datetime) -> Any:
    """Join input and output lines by correlation id and row into the captured-table shape."""
    import pyarrow as pa

    from mlops_sdk.monitoring.inputs import input_column

    inputs: dict[str, tuple[str, datetime, list[Any]]] = {}
    outputs: dict[str, list[Any]] = {}
    for deployment, collection, body, blob in files:
        for event in _events(body, blob):
            correlation = str(event.get("correlationid") or event.get("xrequestid") or event.get("id"))
            data = event.get("data")
            rows = data if isinstance(data, list) else [data]
            if collection == "model_inputs":
                inputs[correlation] = (deployment, _when(str(event["time"])), rows)
            else:
                outputs[correlation] = rows
    records: list[dict[str, Any]] = []
    for correlation, (deployment, moment, rows) in inputs.items():
        if not start <= moment < end:
            continue
        predicted = outputs.get(correlation, [])
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                features = {feature_column(str(key)): value for key, value in row.items()}
            else:
                features = {"input": row}
            record = {
                "_id": correlation if len(rows) == 1 else f"{correlation}:{index}",
                "_request_id": correlation,
                "_row": index,
                "_ts": moment,
                "_deployment": deployment,
                "_model": None,
                **features,
            }
            if index < len(predicted):
                record["_prediction"] = predicted[index]
            records.append(record)
    if not records:
        return None
    names = list(dict.fromkeys(name for record in records for name in record))
    # column by column with the capture writer's rule: values sharing no one type are kept as text
    columns = {name: input_column([record.get(name) for record in records]) for name in names}
    columns["_ts"] = pa.array([record["_ts"] for record in records], pa.timestamp("us", tz="UTC"))
    columns["_model"] = pa.array([None] * len(records), pa.string())
    return pa.table(columns)
