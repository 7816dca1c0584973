"""Online endpoints whose deployments really serve their MLflow model: the inference container, emulated.

:class:`FakeOnlineEndpoints` answers ``[N.0] * rows`` for a deployment of model version N. This
subclass instead does what Azure ML's no-code MLflow deployment does: when a deployment is created it
fetches the registered model version's files from the workspace's blob datastore (Azurite), loads them
with ``mlflow.pyfunc`` (MLflow's own loader, not the SDK's), and scores ``input_data`` with them. A
model that cannot be loaded makes the deployment's operation fail, with the loader's error in the
container log (``getLogs``), as a crashing inference server does.

A deployment created with ``properties.dataCollector`` gets the data collector an MLflow deployment
without a scoring script runs: every scored request (sampled by the collections' ``samplingRate``) is
written to the workspace's blob datastore as the collector's CloudEvents JSON lines,
``modelDataCollector/<endpoint>/<deployment>/<collection>/<yyyy>/<MM>/<dd>/<HH>/<file>.jsonl`` for the
enabled ``model_inputs`` (the input rows as records) and ``model_outputs`` (the predictions), both
carrying the request's ``x-request-id`` as ``correlationid``. Unlike the service, which buffers and
rolls its files, the fake writes one file per request at once (readers list a folder either way).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import FakeOnlineEndpoints
from tests.fakes.azurite import Azurite
from tests.fakes.server import FakeService, Request, Response

_DATASTORE_PATH = re.compile(r"/datastores/(?P<store>[^/]+)/paths/(?P<path>.+)$")
_MODEL_ID = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


class ServingOnlineEndpoints(FakeOnlineEndpoints):
    """Online endpoints whose deployments load and score the registered MLflow model's files."""

    def __init__(self, service: FakeService, aml: FakeAzureML, azurite: Azurite, container: str, workdir: Path):
        super().__init__(service, aml.ws)
        self.aml = aml
        self.azurite = azurite
        self.container = container
        self.workdir = workdir
        self.loaded: dict[tuple[str, str], Any] = {}
        self.collectors: dict[tuple[str, str], dict[str, Any]] = {}
        self._load_lock = threading.Lock()

    def _model_files(self, model_id: str) -> Path:
        """Download the files of the model version ``model_id`` (an ARM id) from the datastore."""
        found = _MODEL_ID.search(model_id)
        if found is None:
            raise ValueError(f"deployment names no registered model version: {model_id!r}")
        version = self.aml.models.get(found["name"], {}).get(found["version"])
        if version is None:
            raise ValueError(f"model {found['name']}:{found['version']} is not registered")
        uri = str(version["properties"].get("modelUri") or "")
        where = _DATASTORE_PATH.search(uri)
        if where is None:
            raise ValueError(f"model {found['name']}:{found['version']} is not on a datastore ({uri})")
        prefix = where["path"].strip("/")
        target = Path(tempfile.mkdtemp(prefix="served-", dir=self.workdir))
        blobs = self.azurite.service_client().get_container_client(self.container)
        for blob in blobs.list_blobs(name_starts_with=prefix + "/"):
            local = target / blob.name[len(prefix) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(blobs.download_blob(blob.name).readall())
        found_model = next((path.parent for path in sorted(target.rglob("MLmodel"))), None)
        if found_model is None:
            raise ValueError(f"no MLmodel file under {uri}")
        return found_model

    def _put_deployment(self, request: Request, match: re.Match[str]) -> Response:
        endpoint, name = match["e"], match["d"]
        properties = (request.json or {}).get("properties") or {}
        model_id = str(properties.get("model") or "")
        collector = properties.get("dataCollector")
        if isinstance(collector, dict):
            self.collectors[(endpoint, name)] = collector
        else:
            self.collectors.pop((endpoint, name), None)
        error: str | None = None
        try:
            import mlflow.pyfunc

            with self._load_lock:
                loaded = mlflow.pyfunc.load_model(str(self._model_files(model_id)))
            self.loaded[(endpoint, name)] = loaded
        except Exception as failure:  # what the inference server would print before exiting
            error = f"{type(failure).__name__}: {failure}"
            self.loaded.pop((endpoint, name), None)
        if error is not None:
            self.failing_models.add(model_id)
        answer = super()._put_deployment(request, match)
        if error is not None:
            self.failing_models.discard(model_id)
            self.logs[name] = f"Traceback (most recent call last):\nmlflow model load failed: {error}"
        return answer

    def _score(self, request: Request, match: re.Match[str]) -> Response:
        endpoint = self.endpoints.get(match["e"])
        if endpoint is None:
            return Response(404, {"message": "no endpoint"})
        if request.headers.get("authorization") not in {f"Bearer {key}" for key in self.keys.values()}:
            return Response(401, {"message": "key missing or wrong"})
        name = request.headers.get("azureml-model-deployment")
        if not name:
            traffic = {key: value for key, value in endpoint["properties"]["traffic"].items() if value}
            if not traffic:
                return Response(503, {"message": "no live traffic"})
            name = self._pick(match["e"], traffic)
        deployment = self.deployments.get(match["e"], {}).get(name or "")
        model = self.loaded.get((match["e"], name or ""))
        if deployment is None or deployment["properties"]["provisioningState"] != "Succeeded" or model is None:
            return Response(404, {"message": f"deployment {name} not ready"})
        import pandas as pd

        data = (request.json or {}).get("input_data")
        try:
            frame = (
                pd.DataFrame(data["data"], columns=data.get("columns"))
                if isinstance(data, dict)
                else pd.DataFrame(data)
            )
            output = model.predict(frame)
        except Exception as failure:
            return Response(400, {"message": f"{type(failure).__name__}: {failure}"})
        answer = output.tolist() if hasattr(output, "tolist") else list(output)
        request_id = request.headers.get("x-request-id") or request.headers.get("x-ms-client-request-id")
        request_id = request_id or str(uuid.uuid4())
        self._collect(match["e"], name or "", request_id, frame.to_dict(orient="records"), answer)
        return Response(200, answer, headers={"x-request-id": request_id})

    def _collect(self, endpoint: str, deployment: str, request_id: str, rows: list[Any], answer: list[Any]) -> None:
        """Write what the deployment's data collector would: one line per enabled collection."""
        collector = self.collectors.get((endpoint, deployment))
        if not collector:
            return
        enabled = {
            name: spec
            for name, spec in (collector.get("collections") or {}).items()
            if name in ("model_inputs", "model_outputs")
            and str(spec.get("dataCollectionMode", "")).lower() == "enabled"
        }
        rate = min((float(spec.get("samplingRate", 1.0)) for spec in enabled.values()), default=1.0)
        if not enabled or random.random() >= rate:  # sampling, as the collector does
            return
        moment = datetime.now(timezone.utc)
        blobs = self.azurite.service_client().get_container_client(self.container)
        for name in enabled:
            event = {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": f"/onlineEndpoints/{endpoint}/deployments/{deployment}",
                "type": f"azureml.inference.{name}",
                "datacontenttype": "application/json",
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "data": rows if name == "model_inputs" else answer,
                "correlationid": request_id,
                "xrequestid": request_id,
                "modelversion": "default",
                "collectdatatype": "pandas.core.frame.DataFrame",
                "agent": "azureml-ai-monitoring/0.1.0b4",
            }
            path = f"modelDataCollector/{endpoint}/{deployment}/{name}/{moment:%Y/%m/%d/%H}/{uuid.uuid4().hex}.jsonl"
            blobs.upload_blob(path, json.dumps(event) + "\n")

    def _pick(self, endpoint: str, traffic: dict[str, int]) -> str:
        """Weighted round robin over the live deployments (deterministic: every 100 requests follow the map)."""
        counter = self.__dict__.setdefault("_counters", {}).setdefault(endpoint, 0)
        self._counters[endpoint] = counter + 1
        slot = counter % 100
        for name in sorted(traffic):
            if slot < traffic[name]:
                return name
            slot -= traffic[name]
        return max(traffic, key=lambda key: traffic[key])
