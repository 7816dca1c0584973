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
from mlops_sdk.core.errors import ResourceNotFoundError
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

        def read() -> list[tuple[str, str, bytes]]:
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
                        found.append(
                            (deployment_name, match["collection"], container.download_blob(blob.name).readall())
                        )
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
        import pyarrow as pa
        import pyarrow.parquet as pq

        from mlops_sdk.monitoring.tables import empty_labels

        prefix = f"{LABELS_ROOT}/{_check(endpoint)}/labels/"

        def read() -> list[bytes]:
            with self._container() as container:
                return [
                    container.download_blob(blob.name).readall()
                    for blob in container.list_blobs(name_starts_with=prefix)
                    if blob.name.endswith(".parquet")
                ]

        parts = self._call(f"reading labels of {endpoint}", read)
        tables = [pq.read_table(io.BytesIO(part)) for part in parts]
        return pa.concat_tables(tables, promote_options="permissive") if tables else empty_labels()

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


def _captured_table(files: list[tuple[str, str, bytes]], start: datetime, end: datetime) -> Any:
    """Join input and output lines by correlation id and row into the captured-table shape."""
    import pyarrow as pa

    inputs: dict[str, tuple[str, datetime, list[Any]]] = {}
    outputs: dict[str, list[Any]] = {}
    for deployment, collection, body in files:
        for line in body.decode("utf-8").splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
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
    table = pa.Table.from_pylist(records)
    return table.set_column(
        table.schema.get_field_index("_ts"), "_ts", table.column("_ts").cast(pa.timestamp("us", tz="UTC"))
    )
