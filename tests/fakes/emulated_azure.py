"""Emulated Azure: every service the demo's loop touches, on loopback, driven by the REAL client libraries.

One :class:`EmulatedAzure` starts

* ``login``: a Microsoft Entra token endpoint (``/{tenant}/v2.0/.well-known/openid-configuration`` and
  ``/{tenant}/oauth2/v2.0/token``, client-credentials grant) that azure-identity's ``ClientSecretCredential``
  signs in against when ``authority_url`` names it; it checks the client secret and issues one token per scope;
* ``arm``: Azure Resource Manager with the Azure ML workspace (:mod:`tests.fakes.azureml`), its online
  endpoints (:mod:`tests.fakes.azureml_endpoints`) and the Data Factory (:mod:`tests.fakes.data_factory`),
  plus the workspace's MLflow, run history and scoring URIs; requests are reported per service
  (``azureml``, ``datafactory``, ``mlflow``, ``scoring``) by their path;
* ``devops``: the Azure DevOps organization (:mod:`tests.fakes.devops`) with an approval pipeline whose
  environment check is assigned to a release manager, who approves in the "web UI" (a thread) shortly
  after each approval appears;
* ``storage``: Azurite (Microsoft's storage emulator, :mod:`tests.fakes.azurite`) behind a TLS front that
  records every blob request and can inject faults like the other services; the SDK reaches it through
  the ``blob_endpoint`` setting (datastore reads) and the SAS URLs the workspace hands out (code upload).

What the fakes *do*, so that registration and validation see real files:

* a Data Factory run of ``diabetes-features`` reads the CSV files in the ``lake`` container, splits
  them (``row_id % 5 == 0`` is evaluation data) into two Parquet snapshots in the workspace's blob
  datastore and returns their URIs as the pipeline's return value (a Set Variable activity), like the
  pipeline docs/azure-setup.md creates;
* an Azure ML command job downloads the code azure-ai-ml uploaded (from Azurite) and its ``uri_file``
  inputs, runs the command with this Python (MLflow tracking to a per-job SQLite store standing in for
  the workspace's MLflow), uploads ``outputs.model`` to ``azureml/<job>/model/`` in the datastore, and
  serves the logged metrics/params through the workspace's MLflow ``runs/get``; a model version
  registered from ``azureml://jobs/<job>/outputs/model`` is stored with that datastore path, as the
  service resolves it;
* the compute, image build and serving containers are not emulated: a deployment's scoring answers
  come from the endpoint fake (a deployment of version N answers N for every row).

Faults: with ``fault_rate`` > 0 each request to every service (token endpoint included) fails with
that probability, seeded: ``429`` with ``Retry-After: 1`` (blob storage throttles with ``503 Server
Busy`` instead, as Azure Storage does), ``503``, a connection reset before the handler ran, or a
reset after it ran (the side effect happened, the answer was lost). Every injected fault is listed in
:attr:`Chaos.faults`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import http.client
import io
import json
import os
import random
import re
import shlex
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from tests.fakes.azureml import FakeAzureML
from tests.fakes.azureml_endpoints import FakeOnlineEndpoints
from tests.fakes.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, run_azurite
from tests.fakes.data_factory import COPY_ACTIVITY, FakeDataFactory, RunPlan
from tests.fakes.devops import PIPELINE_ID, FakeDevOps, identity
from tests.fakes.server import FakeService, Fault, Request, Response, write_ca

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "mlops-demo-rg"
WORKSPACE = "mlops-demo-ws"
FACTORY = "mlops-demo-adf"
TENANT = "72f988bf-0000-0000-0000-000000000001"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "emulated-client-secret-value-7d1e"
DATASTORE = "workspaceblobstore"
DATASTORE_CONTAINER = "azureml-blobstore"
LAKE_CONTAINER = "lake"
PIPELINE = "diabetes-features"
SP_NAME = "mlops-ci@example.com"
RELEASE_MANAGER = "release-manager@example.com"
DEVOPS_SCOPE_PREFIX = "499b84ac-1321-427f-aa17-267ca6975798"
SERVICES = ("login", "azureml", "datafactory", "mlflow", "scoring", "devops", "storage")


# --- faults ------------------------------------------------------------------------------------------------


@dataclass
class Chaos:
    """Seeded random faults shared by every service of one emulation."""

    rate: float = 0.0
    seed: int = 0
    exempt: str | None = None
    """Regular expression of paths never faulted (to look past a known failure)."""
    faults: list[tuple[str, str, str, str]] = field(default_factory=list)
    """``(service, method, path, kind)`` of every fault injected, in order."""

    log: list[tuple[str, str, str]] = field(default_factory=list)
    """``(service, method, path)`` of every request received, in order."""
    fault_positions: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def seen(self, service: str, method: str, path: str) -> None:
        """Record one request (in arrival order, across services)."""
        with self._lock:
            self.log.append((service, method, path))

    def retried(self) -> int:
        """Faults after which the client sent the same request again (its retries)."""
        count = 0
        for position, (service, method, path, _) in zip(self.fault_positions, self.faults, strict=True):
            if (service, method, path) in self.log[position + 1 :]:
                count += 1
        return count

    def draw(self, service: str, method: str, path: str) -> Fault | None:
        """A fault for this request, or ``None`` (with probability ``1 - rate``)."""
        if self.rate <= 0 or (self.exempt and re.search(self.exempt, path)):
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            kind = self._random.choice(("429", "503", "reset-before", "reset-after"))
            self.faults.append((service, method, path, kind))
            self.fault_positions.append(len(self.log) - 1)
        if kind == "429" and service == "storage":
            # Azure Storage throttles with 503 Server Busy, never 429 (its clients retry 5xx, not 429).
            return Fault(method, ".*", status=503, headers={"Retry-After": "1"}, body=_busy("ServerBusy"))
        if kind == "429":
            return Fault(method, ".*", status=429, headers={"Retry-After": "1"}, body=_busy("TooManyRequests"))
        if kind == "503":
            return Fault(method, ".*", status=503, body=_busy("ServiceUnavailable"))
        return Fault(method, ".*", drop=True, after_handler=kind == "reset-after")


def _busy(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"injected {code}"}}


class ChaosService(FakeService):
    """A :class:`FakeService` that also draws random faults from a :class:`Chaos`."""

    def __init__(self, ca: trustme.CA, name: str, chaos: Chaos, *hostnames: str) -> None:
        super().__init__(ca)
        self.name = name
        self.chaos = chaos
        self.timeline: list[tuple[float, str, str]] = []
        if hostnames:  # a certificate naming the extra hosts (storage account style names)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost", *hostnames).configure_cert(context)
            self._server.socket.context = context  # accepted connections are wrapped with this one

    def classify(self, path: str) -> str:
        """The service name a request counts under."""
        return self.name

    def _dispatch(self, http: Any) -> None:
        self.timeline.append(
            (time.monotonic(), self.classify(http.path.split("?", 1)[0]), f"{http.command} {http.path[:120]}")
        )
        super()._dispatch(http)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        self.chaos.seen(self.classify(path), method, path)
        queued = super()._take_fault(method, path)
        return queued if queued is not None else self.chaos.draw(self.classify(path), method, path)


class ArmService(ChaosService):
    """Azure Resource Manager and the workspace's data-plane hosts, one server, reported per service."""

    def classify(self, path: str) -> str:
        if "/providers/Microsoft.DataFactory/" in path:
            return "datafactory"
        if path.startswith("/mlflow/"):
            return "mlflow"
        if path.startswith("/score/"):
            return "scoring"
        return "azureml"


# --- storage: Azurite behind a recording TLS front -----------------------------------------------------------


class StorageFront(ChaosService):
    """TLS in front of Azurite: records each blob request, injects faults, forwards the rest unchanged."""

    def __init__(self, ca: trustme.CA, chaos: Chaos, azurite: Azurite, *hostnames: str) -> None:
        super().__init__(ca, "storage", chaos, *hostnames)
        self._azurite = azurite
        self._raw = threading.local()

    def _dispatch(self, http: Any) -> None:  # type: ignore[override]
        self._raw.path = http.path
        self._raw.headers = list(http.headers.items())
        super()._dispatch(http)

    def _answer(self, request: Request) -> Response:
        context = ssl.create_default_context(cafile=str(self._azurite.ca_path))
        connection = http.client.HTTPSConnection("127.0.0.1", self._azurite.port, timeout=60, context=context)
        try:
            headers = {key: value for key, value in self._raw.headers if key.lower() != "connection"}
            connection.request(request.method, self._raw.path, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            passed = {
                key: value
                for key, value in answer.getheaders()
                if key.lower() not in ("content-length", "connection", "keep-alive", "transfer-encoding", "date")
            }
            return Response(answer.status, RawBody(body), passed)
        finally:
            connection.close()

    @staticmethod
    def _send(http: Any, response: Response) -> None:
        if not isinstance(response.body, RawBody):
            FakeService._send(http, response)
            return
        payload = response.body.data
        http.send_response(response.status)
        for key, value in response.headers.items():
            http.send_header(key, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        if payload and http.command != "HEAD":
            http.wfile.write(payload)


@dataclass
class RawBody:
    """Bytes passed through unchanged (not JSON-encoded)."""

    data: bytes


# --- login -------------------------------------------------------------------------------------------------


class FakeLogin:
    """A Microsoft Entra tenant's OAuth 2.0 endpoints for one confidential client."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.tokens: dict[str, str] = {}
        service.route("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", self._openid)
        service.route("GET", r"/common/discovery/instance", self._instance_discovery)
        service.route("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self._token)

    def token_for(self, scope: str) -> str:
        """The access token this tenant issues for ``scope`` (one per scope, stable)."""
        digest = hashlib.sha256(scope.encode()).hexdigest()[:24]
        return self.tokens.setdefault(scope, f"emulated-token-{digest}")

    def _openid(self, request: Request, match: re.Match[str]) -> Response:
        base = f"{self.service.url}/{match['tenant']}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
                "tenant_region_scope": "EU",
            },
        )

    def _instance_discovery(self, request: Request, match: re.Match[str]) -> Response:
        host = self.service.url.split("://", 1)[1]
        return Response(
            200,
            {
                "tenant_discovery_endpoint": f"{self.service.url}/{TENANT}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        form = {key: values[-1] for key, values in parse_qs(request.body.decode()).items()}
        if match["tenant"] != TENANT:
            return Response(400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != CLIENT_ID:
            return Response(400, {"error": "unauthorized_client", "error_description": "AADSTS700016"})
        if form.get("client_secret") != CLIENT_SECRET:
            return Response(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."})
        scope = form.get("scope", "")
        resource = next((item for item in scope.split() if item.endswith("/.default")), scope)
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.token_for(resource),
            },
        )


# --- Azure ML that runs its jobs ------------------------------------------------------------------------------


class RunningAzureML(FakeAzureML):
    """:class:`FakeAzureML` whose command jobs really run (see the module docstring) and whose blobs live in Azurite."""

    def __init__(self, service: FakeService, azurite: Azurite, storage: StorageFront, workdir: Path) -> None:
        super().__init__(service, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE)
        self.azurite = azurite
        self.storage = storage
        self.workdir = workdir
        self.runs: dict[str, dict[str, Any]] = {}
        self.attach_storage(
            account=ACCOUNT,
            key=ACCOUNT_KEY,
            container=DATASTORE_CONTAINER,
            code_container_url=self._code_container_url,
            endpoint=storage.storage_suffix,
        )

    def _code_container_url(self, container: str) -> str:
        """A container SAS URL on the storage front, as ``startPendingUpload`` hands out (container created)."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        with contextlib.suppress(Exception):  # exists already (a second upload of the same code name)
            self.azurite.service_client().create_container(container)
        sas = generate_container_sas(
            ACCOUNT,
            container,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(read=True, write=True, create=True, add=True, list=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        )
        return f"{self.storage.url}/{ACCOUNT}/{container}?{sas}"

    def tracking_uri(self, folder: Path) -> str:
        """The MLflow tracking store standing in for the workspace's MLflow while a job runs in ``folder``."""
        return f"sqlite:///{folder / 'mlflow.db'}"

    # -- jobs -----------------------------------------------------------------------------------------

    def _put_job(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        with self._lock:
            existing = self.jobs.get(name)
            if existing is not None:  # a PUT of an existing job changes nothing that already runs
                return Response(200, copy.deepcopy(self._current(name)))
        answer = super()._put_job(request, match)
        with self._lock:
            self.runs[name] = {"state": "Queued"}
        threading.Thread(target=self._execute, args=(name, copy.deepcopy(request.json)), daemon=True).start()
        return answer

    def _current(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        if name in self.canceled:
            job["properties"]["status"] = "Canceled"
        elif name in self.runs:
            job["properties"]["status"] = self.runs[name]["state"]
        else:
            return super()._current(name)
        return job

    def _execute(self, name: str, body: dict[str, Any]) -> None:
        from tests.fakes.azureml import JobPlan

        folder = Path(tempfile.mkdtemp(prefix=f"job-{name[:40]}-", dir=self.workdir))
        properties = body.get("properties") or {}
        try:
            self.runs[name]["state"] = "Running"
            code = folder / "code"
            self._download_code(str(properties.get("codeId") or ""), code)
            command = str(properties.get("command") or "")
            for input_name, item in (properties.get("inputs") or {}).items():
                value = self._input(item, folder / "inputs" / input_name)
                command = command.replace(f"${{{{inputs.{input_name}}}}}", shlex.quote(value))
            outputs: dict[str, Path] = {}
            for output_name in properties.get("outputs") or {}:
                outputs[output_name] = folder / "outputs" / output_name
                command = command.replace(f"${{{{outputs.{output_name}}}}}", shlex.quote(str(outputs[output_name])))
            argv = shlex.split(command)
            if argv and argv[0] in ("python", "python3"):
                argv[0] = sys.executable
            tracking = self.tracking_uri(folder)
            env = {
                **os.environ,
                **{str(k): str(v) for k, v in (properties.get("environmentVariables") or {}).items()},
                "MLFLOW_TRACKING_URI": tracking,
                "MLFLOW_EXPERIMENT_NAME": str(properties.get("experimentName") or "Default"),
                "AZUREML_RUN_ID": name,
            }
            env.pop("MLFLOW_RUN_ID", None)
            result = subprocess.run(argv, cwd=code, env=env, capture_output=True, text=True, timeout=300, check=False)
            (folder / "std_log.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
                self.plans[name] = JobPlan(error={"code": "UserError", "message": "\n".join(tail)})
                self.runs[name]["state"] = "Failed"
                return
            for output_name, path in outputs.items():
                self._upload(path, f"azureml/{name}/{output_name}")
            metrics, params = _mlflow_results(tracking)
            self.plans[name] = JobPlan(metrics=metrics, params=params)
            self.runs[name]["state"] = "Completed"
        except Exception as error:  # the emulator's own failure shows as the job's error
            self.plans[name] = JobPlan(error={"code": "SystemError", "message": repr(error)})
            self.runs[name]["state"] = "Failed"

    def _download_code(self, code_id: str, target: Path) -> None:
        match = re.search(r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", code_id)
        if match is None:
            raise ValueError(f"job has no code asset: {code_id!r}")
        resource = self.codes[(match["name"], match["version"])]
        uri = str((resource.get("properties") or {}).get("codeUri") or "")
        _, _, container_name, prefix = urlsplit(uri).path.split("/", 3)  # /<account>/<container>/<prefix>
        prefix = prefix.rstrip("/")
        container = self.azurite.service_client().get_container_client(container_name)
        for blob in container.list_blobs(name_starts_with=prefix + "/"):
            local = target / blob.name[len(prefix) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(container.download_blob(blob.name).readall())

    def _input(self, item: dict[str, Any], folder: Path) -> str:
        kind = str(item.get("jobInputType") or "").lower()
        if kind == "literal":
            return str(item.get("value"))
        uri = str(item.get("uri") or "")
        match = re.search(r"/datastores/(?P<ds>[^/]+)/paths/(?P<path>.+)$", uri)
        if match is None:
            raise ValueError(f"input {uri!r} is not a datastore path")
        container = self.azurite.service_client().get_container_client(DATASTORE_CONTAINER)
        path = match["path"].rstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "uri_file":
            local = folder / Path(path).name
            local.write_bytes(container.download_blob(path).readall())
            return str(local)
        for blob in container.list_blobs(name_starts_with=path + "/"):
            local = folder / blob.name[len(path) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(container.download_blob(blob.name).readall())
        return str(folder)

    def _upload(self, source: Path, prefix: str) -> None:
        container = self.azurite.service_client().get_container_client(DATASTORE_CONTAINER)
        for path in sorted(source.rglob("*")):
            if path.is_file():
                container.upload_blob(
                    f"{prefix}/{path.relative_to(source).as_posix()}", path.read_bytes(), overwrite=True
                )


def _mlflow_results(tracking: str) -> tuple[dict[str, float], dict[str, str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments]) if experiments else []
    if not runs:
        return {}, {}
    run = runs[0]
    return {k: float(v) for k, v in run.data.metrics.items()}, {k: str(v) for k, v in run.data.params.items()}


# --- Data Factory that runs its pipeline ---------------------------------------------------------------------


class _WallClock:
    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


class RunningDataFactory(FakeDataFactory):
    """:class:`FakeDataFactory` whose ``diabetes-features`` runs split the lake into two Parquet snapshots."""

    def __init__(self, service: FakeService, azurite: Azurite) -> None:
        super().__init__(service, _WallClock())
        self.azurite = azurite
        self.add_pipeline(PIPELINE, plan=RunPlan(states=[("Queued", 0.2), ("InProgress", 0.8), ("Succeeded", 0.0)]))
        self.pipelines[PIPELINE]["properties"]["activities"] = [
            {"name": "raw", "type": "Copy", "typeProperties": {}},
            {"name": "split", "type": "ExecuteDataFlow", "typeProperties": {}},
            {"name": "outputs", "type": "SetVariable", "typeProperties": {"variableName": "pipelineReturnValue"}},
        ]

    def _create_run(self, request: Request, match: re.Match[str]) -> Response:
        answer = super()._create_run(request, match)
        if answer.status != 200 or match["name"] != PIPELINE:
            return answer
        run_id = answer.body["runId"]
        outputs = self._split(run_id)
        with self._lock:
            run = self.runs[run_id]
            run.plan = RunPlan(states=run.plan.states, activities=_activities(outputs))
        return answer

    def _split(self, run_id: str) -> dict[str, dict[str, Any]]:
        import pandas as pd

        service = self.azurite.service_client()
        lake = service.get_container_client(LAKE_CONTAINER)
        frames = [
            pd.read_csv(io.BytesIO(lake.download_blob(blob.name).readall()))
            for blob in sorted(lake.list_blobs(), key=lambda item: item.name)
            if blob.name.endswith(".csv")
        ]
        raw = pd.concat(frames, ignore_index=True).sort_values("row_id")
        store = service.get_container_client(DATASTORE_CONTAINER)
        outputs = {}
        for name, keep in (("train_set", raw["row_id"] % 5 != 0), ("eval_set", raw["row_id"] % 5 == 0)):
            frame = raw[keep].drop(columns=["row_id"]).reset_index(drop=True)
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            data = buffer.getvalue()
            path = f"refresh/{PIPELINE}/{run_id}/{name}.parquet"
            store.upload_blob(path, data, overwrite=True)
            outputs[name] = {
                "uri": f"azureml://datastores/{DATASTORE}/paths/{path}",
                "digest": hashlib.sha256(data).hexdigest(),
                "rowCount": len(frame),
                "format": "parquet",
                "columns": [{"name": str(c), "type": str(t)} for c, t in frame.dtypes.items()],
            }
        return outputs


def _activities(outputs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    copy_raw = {**copy.deepcopy(COPY_ACTIVITY), "activityName": "raw"}
    split = {**copy.deepcopy(COPY_ACTIVITY), "activityName": "split", "activityType": "ExecuteDataFlow", "output": {}}
    returned = {
        **copy.deepcopy(COPY_ACTIVITY),
        "activityName": "outputs",
        "activityType": "SetVariable",
        "output": {
            "name": "pipelineReturnValue",
            "value": [{"key": key, "value": {"type": "Object", "content": value}} for key, value in outputs.items()],
        },
    }
    return [copy_raw, split, returned]


# --- DevOps with a release manager ---------------------------------------------------------------------------


class ApprovingDevOps(FakeDevOps):
    """The organization, plus a release manager who approves each pending approval in the web UI."""

    def __init__(self, service: FakeService, *, delay: float = 0.3) -> None:
        super().__init__(service)
        self.release_manager = identity(RELEASE_MANAGER, "Release Manager")
        self.check_approvers = [self.release_manager]
        self.delay = delay
        self._stop = threading.Event()
        self._seen: set[str] = set()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        pending: dict[str, float] = {}
        while not self._stop.wait(0.05):
            with self.lock:
                for approval_id, approval in self.approvals.items():
                    if approval["status"] == "pending" and approval_id not in self._seen:
                        pending.setdefault(approval_id, time.monotonic() + self.delay)
            for approval_id, due in list(pending.items()):
                if time.monotonic() >= due:
                    self.act(approval_id, self.release_manager, "approved", "Metrics and report reviewed.")
                    self._seen.add(approval_id)
                    pending.pop(approval_id)

    def close(self) -> None:
        self._stop.set()


# --- the whole emulation ---------------------------------------------------------------------------------------


class EmulatedAzure:
    """Starts every emulated service; :meth:`config` is all a script needs to use them.

    Args:
        workdir: Where the emulation keeps the CA, job folders and the ``mlops.toml`` it writes.
        fault_rate: Probability that any one request fails (see the module docstring).
        seed: Seed of the fault draws.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        exempt: str | None = None,
        ca: trustme.CA | None = None,
        azurite: Azurite | None = None,
    ) -> None:
        self.workdir = workdir
        self.chaos = Chaos(rate=fault_rate, seed=seed, exempt=exempt)
        self.ca = ca or trustme.CA()
        self.ca_path = write_ca(self.ca, workdir)
        self._given_azurite = azurite
        self._services: list[ChaosService] = []
        self._closers: list[Any] = []

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> EmulatedAzure:
        if self._given_azurite is not None:
            self.azurite = self._given_azurite
        else:
            stack = contextlib.ExitStack()
            self.azurite = stack.enter_context(run_azurite(self.ca, self.workdir))
            self._closers.append(stack.close)
        self.storage = StorageFront(self.ca, self.chaos, self.azurite).start()
        self.storage.storage_suffix = f"core.localhost:{self.storage.url.rsplit(':', 1)[1]}"
        self.login_service = ChaosService(self.ca, "login", self.chaos).start()
        self.arm = ArmService(self.ca, "arm", self.chaos).start()
        self.devops_service = ChaosService(self.ca, "devops", self.chaos).start()
        self._services = [self.storage, self.login_service, self.arm, self.devops_service]
        self.login = FakeLogin(self.login_service)
        self.aml = RunningAzureML(self.arm, self.azurite, self.storage, self.workdir)
        self.endpoints = FakeOnlineEndpoints(self.arm, self.aml.ws)
        self.factory = RunningDataFactory(self.arm, self.azurite)
        self.devops = ApprovingDevOps(self.devops_service)
        self._closers.append(self.devops.close)
        self.devops.add_user(self.login.token_for(f"{DEVOPS_SCOPE_PREFIX}/.default"), SP_NAME, "mlops CI")
        blobs = self.azurite.service_client()
        for container in (DATASTORE_CONTAINER, LAKE_CONTAINER):
            with contextlib.suppress(Exception):  # left by an earlier emulation on a shared Azurite
                blobs.delete_container(container)
            blobs.create_container(container)
        return self

    def stop(self) -> None:
        for service in self._services:
            service.stop()
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()

    def __enter__(self) -> EmulatedAzure:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration --------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        return f"azureml://subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"

    def settings(self) -> dict[str, Any]:
        """The ``prod`` profile of ``mlops.toml`` that points the SDK here."""
        return {
            "target": self.target,
            "cloud": "EmulatedAzure",
            "resource_manager_url": self.arm.url,
            "authority_url": self.login_service.url,
            "ca_bundle": str(self.ca_path),
            "blob_endpoint": f"{self.storage.url}/{{account}}",
            "credential": "client_secret",
            "data_factory": FACTORY,
            "devops": f"{self.devops.project_url}",
            "approval_pipeline": PIPELINE_ID,
            # The emulated services answer in milliseconds: poll them like that (Azure's default starts at 1 s).
            "poll_interval": 0.2,
            "poll_max_interval": 1.0,
        }

    def environment(self) -> dict[str, str]:
        """Environment variables the script runs with: the service principal's sign-in and the demo's lake."""
        return {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": CLIENT_SECRET,
            "MLOPS_PROFILE": "prod",
            "DEMO_LAKE_URL": self.lake_url(),
        }

    def write_config(self, folder: Path) -> Path:
        """Write ``mlops.toml`` (local default + the ``prod`` profile pointing here) into ``folder``."""
        lines = ['target = "local://.mlops"', "", "[profiles.prod]"]
        for key, value in self.settings().items():
            lines.append(f"{key} = {json.dumps(value)}")
        path = folder / "mlops.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def lake_url(self) -> str:
        """A container SAS URL of the lake (where the demo lands new files)."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        sas = generate_container_sas(
            ACCOUNT,
            LAKE_CONTAINER,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True, create=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=2),
        )
        return f"{self.storage.url}/{ACCOUNT}/{LAKE_CONTAINER}?{sas}"

    # -- what happened ------------------------------------------------------------------------------

    def requests(self) -> dict[str, list[Request]]:
        """Every request received, by service."""
        found: dict[str, list[Request]] = {name: [] for name in SERVICES}
        for service in self._services:
            for request in list(service.requests):
                found.setdefault(service.classify(request.path), []).append(request)
        return found

    def summary(self) -> dict[str, Counter[str]]:
        """``{service: Counter("METHOD /path-shape")}`` (ids and names replaced by placeholders)."""
        return {
            service: Counter(f"{r.method} {_shape(r.path)}" for r in items)
            for service, items in self.requests().items()
        }

    def report(self) -> str:
        """A printable table of requests per service and the faults injected."""
        lines = []
        for service, counter in self.summary().items():
            lines.append(f"{service}: {sum(counter.values())} requests")
            for shape, count in sorted(counter.items(), key=lambda item: (-item[1], item[0])):
                lines.append(f"  {count:4d}  {shape}")
        if self.chaos.rate:
            kinds = Counter(kind for _, _, _, kind in self.chaos.faults)
            lines.append(
                f"faults injected: {len(self.chaos.faults)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"
            )
            by_service = Counter(service for service, _, _, _ in self.chaos.faults)
            lines.append("  by service: " + ", ".join(f"{k} {v}" for k, v in sorted(by_service.items())))
            lines.append(f"requests sent again after a fault (retries): {self.chaos.retried()}")
            for service, method, path, kind in self.chaos.faults:
                lines.append(f"  {kind:12s} {service:11s} {method} {_shape(path)}")
        return "\n".join(lines)


_SHAPES = [
    (re.compile(r"/subscriptions/[^/]+/resource[gG]roups/[^/]+"), "/{rg}"),
    (re.compile(r"/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"), "/{ws}"),
    (re.compile(r"/providers/Microsoft\.DataFactory/factories/[^/]+"), "/{factory}"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "{id}"),
    (re.compile(r"/jobs/mlops-[^/]+"), "/jobs/{job}"),
    (re.compile(r"/(versions|runs|builds|deployments)/[^/]+"), r"/\1/{n}"),
    (re.compile(r"/codes/[^/]+"), "/codes/{code}"),
    (re.compile(r"/(azureml-blobstore|lake)/.+"), r"/\1/{blob}"),
    (re.compile(r"/runs/[^/]+"), "/runs/{n}"),
]


def _shape(path: str) -> str:
    for pattern, replacement in _SHAPES:
        path = pattern.sub(replacement, path)
    return path


# --- running the demo against it ---------------------------------------------------------------------------------

DEMO = Path(__file__).resolve().parents[2] / "examples" / "diabetes" / "demo.py"


def run_demo(
    emulation: EmulatedAzure,
    folder: Path,
    *,
    rounds: int = 2,
    timeout: float = 300,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run examples/diabetes/demo.py in a child process, configured (files and environment only) for ``emulation``."""
    config = emulation.write_config(folder)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLOPS_", "AZURE_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
    }
    env.update(emulation.environment())
    env["MLOPS_CONFIG"] = str(config)
    env["AZURE_DEVOPS_CACHE_DIR"] = str(folder / ".azure-devops-cache")
    env.update(extra_env or {})
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, str(DEMO), "--workdir", str(folder / "demo"), "--rounds", str(rounds)]
    try:
        return subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as expired:

        def text(value: Any) -> str:
            return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")

        return subprocess.CompletedProcess(
            command, -1, text(expired.stdout), text(expired.stderr) + f"\ntimed out after {timeout:.0f}s"
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.fakes.emulated_azure [--faults 0.25] [--seed N]``: run the demo, print its requests."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, choices=(1, 2))
    parser.add_argument("--exempt", help="regular expression of request paths never faulted")
    parser.add_argument("--requests-ca-bundle", action="store_true", help="also export REQUESTS_CA_BUNDLE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="emulated-azure-") as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        with EmulatedAzure(folder, fault_rate=args.faults, seed=args.seed, exempt=args.exempt) as emulation:
            extra = {"REQUESTS_CA_BUNDLE": str(emulation.ca_path)} if args.requests_ca_bundle else {}
            completed = run_demo(emulation, folder, rounds=args.rounds, extra_env=extra)
            print(completed.stdout)
            if completed.returncode != 0:
                print(completed.stderr[-6000:], file=sys.stderr)
            print(f"\n== requests per service ({time.perf_counter() - started:.1f}s)")
            print(emulation.report())
            if os.environ.get("EMULATED_AZURE_TIMELINE"):
                events = sorted(e for service in emulation._services for e in service.timeline)
                for moment, service, what in events:
                    print(f"{moment - started:7.2f} {service:12s} {what}")
        return completed.returncode


if __name__ == "__main__":
    raise SystemExit(main())
