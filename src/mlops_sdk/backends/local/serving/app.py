"""The endpoint server's ASGI application: starlette's ``Router`` in front of raw ASGI endpoints.

starlette matches the paths, serves the lifespan and answers unknown paths (through our JSON
404); each route's endpoint is a raw ASGI callable (:class:`_Endpoint`) that reads the body and
writes the answer itself, so no ``Request``/``Response`` objects are built per scoring request.
``benchmarks/serving.py`` runs this server next to a variant that dispatches by hand (an ``if`` on
the path, what this module did before) on the same model and load, and times the router alone: it
costs about 6 µs per request (about 3 % of a 1-row request), far inside the run-to-run noise of the
HTTP measurements, so the library does the routing (numbers in docs/deployments.md).

Routes:

=====================================  ==========  =====================================================
``POST /score``                        scoring key Azure ML protocol: ``input_data`` -> bare JSON list
``POST /invocations``                  scoring key MLflow protocol -> ``{"predictions": ...}`` (JSON or CSV)
``GET /ping``, ``/health``, ``/version``  none       liveness / readiness / version (no secrets in them)
``GET /admin/state``                   admin key   deployments, traffic, mirror
``PUT /admin/deployments/{name}``      admin key   load a model (``{"model_path": ...}``) side by side
``DELETE /admin/deployments/{name}``   admin key   unload (refused while it has traffic)
``PUT /admin/traffic``                 admin key   replace the traffic map (and optionally the mirror map)
``GET /admin/stats``                   admin key   per-deployment counters
``GET /admin/capture``                 admin key   inference capture counters (``POST .../flush``: write now)
``GET /admin/shadow/{name}``           admin key   live vs shadow answers of mirrored requests (:mod:`.shadow`)
``GET /metrics``                       any key     Prometheus metrics per deployment (:mod:`.metrics`)
=====================================  ==========  =====================================================

Every scoring answer names the deployment that produced it in ``azureml-model-deployment``, as
Azure ML does; sending that header routes to one deployment regardless of the weights. Errors are
``{"error_code", "message"}`` JSON with 400 (bad input), 401 (key), 404, 405, 413 (body too big),
415 (content type) or 503 (no live traffic): bad input never produces a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local.serving.capture import CaptureHub
from mlops_sdk.backends.local.serving.metrics import EndpointMetrics, metrics_enabled
from mlops_sdk.backends.local.serving.models import ModelLoadError, ServedModel, load_served_model
from mlops_sdk.backends.local.serving.payloads import Batch, PayloadError, parse_csv, parse_json_body, to_jsonable
from mlops_sdk.backends.local.serving.routing import RoutingTable, TrafficError, validate_traffic
from mlops_sdk.backends.local.serving.shadow import ShadowLog
from mlops_sdk.core.files import atomic_write
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.names import DEPLOYMENT_NAME

__all__ = ["DEPLOYMENT_HEADER", "DEPLOYMENT_NAME", "EndpointApp", "LoadedDeployment"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DEPLOYMENT_HEADER = "azureml-model-deployment"
ENDPOINT_HEADER = "x-mlops-endpoint"
_DEPLOYMENT_HEADER_B = DEPLOYMENT_HEADER.encode()
_JSON = b"application/json"
_INLINE_MAX_ROWS = 2_000

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson comes with the local extra
    _orjson = None  # type: ignore[assignment]
_log = get_logger("mlops_sdk.serving")


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


@dataclass
class LoadedDeployment:
    """One deployment held by the server."""

    name: str
    model: ServedModel
    model_path: str
    fast_path: bool
    loaded_at: float
    metadata: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {
            "model_path": self.model_path,
            "fast_path_requested": self.fast_path,
            "loaded_at": self.loaded_at,
            "metadata": self.metadata,
            **self.model.describe(),
        }


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()


def _content_type(value: str | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "", {}
    kind, *parameters = (part.strip() for part in value.split(";"))
    params = {}
    for parameter in parameters:
        key, _, item = parameter.partition("=")
        params[key.strip().lower()] = item.strip().strip('"').lower()
    return kind.lower(), params


class _Endpoint:
    """A raw ASGI endpoint for starlette's ``Route`` that answers :class:`_HttpError` as our JSON error.

    (``Route`` wraps plain functions as ``Request -> Response`` handlers; an object is served as ASGI,
    so the scoring path reads the body and writes the answer itself, with no per-request objects.)
    """

    __slots__ = ("_allow", "_handler", "_methods")

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]], methods: tuple[str, ...] | None):
        self._handler = handler
        self._methods = methods
        self._allow = methods[0].encode() if methods else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self._methods and scope["method"] not in self._methods:
                raise _HttpError(
                    405, "METHOD_NOT_ALLOWED", f"use {self._methods[0]} {scope['path']}", [(b"allow", self._allow)]
                )
            await self._handler(scope, receive, send)
        except _HttpError as error:
            await _respond(send, error.status, _error_body(error.code, error.message), extra=error.headers)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    raise _HttpError(404, "ENDPOINT_NOT_FOUND", f"no route {scope['path']}; use POST /score or POST /invocations")


class EndpointApp:
    """The ASGI app of one endpoint.

    Args:
        name: Endpoint name (reported in ``x-mlops-endpoint``).
        keys: Accepted scoring keys (primary, secondary).
        admin_key: Key of the admin API.
        max_body_bytes: Larger request bodies get 413.
        state_path: Where deployments/traffic are persisted (``None``: not persisted).
        loader: Loads a model directory (tests may pass another loader). By default
            :func:`load_served_model`, with the linear-kernel cache in ``kernels/`` next to
            ``state_path`` (a restart then scores linear models without importing scikit-learn).
        capture_dir: Where inference capture files go (default: ``capture/`` next to ``state_path``).
        capture_process: Write capture files in a separate process (the endpoint server does; see
            :mod:`.capture_writer`), else in a thread of this one.
    """

    def __init__(
        self,
        *,
        name: str,
        keys: Iterable[str],
        admin_key: str,
        max_body_bytes: int = 16 * 2**20,
        state_path: Path | None = None,
        loader: Callable[..., ServedModel] | None = None,
        capture_dir: Path | None = None,
        capture_process: bool = False,
    ) -> None:
        self.name = name
        self._keys = [f"Bearer {key}".encode() for key in keys if key]
        self._admin = f"Bearer {admin_key}".encode()
        self._max_body = max_body_bytes
        self._state_path = state_path
        if loader is None:
            loader = (
                functools.partial(load_served_model, kernel_cache=state_path.parent / "kernels")
                if state_path is not None
                else load_served_model
            )
        self._loader = loader
        self.table = RoutingTable({}, {}, {})
        self.stats: dict[str, dict[str, float]] = {}
        self.metrics = EndpointMetrics() if metrics_enabled() else None
        self.shadow_log = ShadowLog()
        self._admin_lock: asyncio.Lock | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._version = _version_body()
        self._router = self._build_router()
        if capture_dir is None and state_path is not None:
            capture_dir = state_path.parent / "capture"
        self.capture = CaptureHub(capture_dir, writer_process=capture_process)

    # -- ASGI entry --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection event (``http`` or ``lifespan``) through the router."""
        await self._router(scope, receive, send)

    def _build_router(self) -> Any:
        from starlette.routing import Route, Router

        scoring, probe = ("POST",), ("GET", "HEAD")
        return Router(
            routes=[
                Route("/score", _Endpoint(self._scoring, scoring)),
                Route("/invocations", _Endpoint(self._scoring, scoring)),
                Route("/ping", _Endpoint(self._probe, probe)),
                Route("/health", _Endpoint(self._probe, probe)),
                Route("/version", _Endpoint(self._probe, probe)),
                Route("/metrics", _Endpoint(self._metrics, probe)),
                Route("/admin/{rest:path}", _Endpoint(self._admin_api, None)),
            ],
            redirect_slashes=False,
            default=_Endpoint(_not_found, None),
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Any) -> AsyncIterator[None]:
        await self.restore()  # a failure refuses the start; the manager shows the log
        yield
        await self.capture.close()  # what was queued is written before the server exits
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    async def _scoring(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._score(scope["path"], dict(scope["headers"]), receive, send)

    async def _admin_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._admin_route(scope["path"], scope["method"], dict(scope["headers"]), receive, send)

    # -- probes ------------------------------------------------------------------------------------

    async def _probe(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/ping":
            await _respond(send, 200, b"\n", b"text/plain", extra=[(ENDPOINT_HEADER.encode(), self.name.encode())])
        elif path == "/health":
            body = {"status": "ok", "endpoint": self.name, "deployments": len(self.table.deployments)}
            await _respond(send, 200, json.dumps(body).encode())
        else:
            await _respond(send, 200, self._version)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if not hmac.compare_digest(headers.get(b"authorization", b""), self._admin):
            self._authorize(headers)
        if self.metrics is None:
            raise _HttpError(404, "METRICS_OFF", "metrics are turned off on this server (MLOPS_ENDPOINT_METRICS=0)")
        try:
            from prometheus_client import CONTENT_TYPE_LATEST
        except ImportError:
            raise _HttpError(
                501, "METRICS_UNAVAILABLE", "prometheus-client is not installed; pip install 'mlops-sdk[local]'"
            ) from None
        await _respond(send, 200, self.metrics.exposition(), CONTENT_TYPE_LATEST.encode())

    # -- scoring -----------------------------------------------------------------------------------

    def _authorize(self, headers: Mapping[bytes, bytes]) -> None:
        supplied = headers.get(b"authorization", b"")
        for key in self._keys:
            if hmac.compare_digest(supplied, key):
                return
        message = (
            "missing Authorization header; send 'Authorization: Bearer <endpoint key>'"
            if not supplied
            else "the endpoint key is not valid"
        )
        raise _HttpError(401, "UNAUTHORIZED", message, [(b"www-authenticate", b"Bearer")])

    async def _score(self, path: str, headers: Mapping[bytes, bytes], receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        self._authorize(headers)
        kind, params = _content_type(headers.get(b"content-type", b"").decode("latin-1"))
        if kind not in ("", "application/json", "text/csv") or params.get("charset", "utf-8") != "utf-8":
            raise _HttpError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"content type {kind or 'unknown'!r} is not supported; send application/json (or text/csv) in UTF-8",
            )
        body = await _read_body(receive, headers, self._max_body)
        protocol = "azureml" if path == "/score" else "mlflow"
        try:
            batch = parse_csv(body) if kind == "text/csv" else parse_json_body(body, protocol=protocol)
        except PayloadError as error:
            raise _HttpError(400, "BAD_REQUEST", str(error)) from None
        table = self.table
        requested = headers.get(_DEPLOYMENT_HEADER_B)
        if requested:
            name = requested.decode("latin-1")
            if name not in table.deployments:
                raise _HttpError(
                    404,
                    "DEPLOYMENT_NOT_FOUND",
                    f"deployment {name!r} does not exist on endpoint {self.name!r}; "
                    f"deployments: {sorted(table.deployments)}",
                )
            mirrors: tuple[str, ...] = ()
        else:
            picked = table.pick()
            if picked is None:
                raise _HttpError(
                    503,
                    "NO_TRAFFIC",
                    f"endpoint {self.name!r} has no live traffic set; send the {DEPLOYMENT_HEADER} header "
                    "to call one deployment, or set traffic",
                )
            name = picked
            mirrors = table.mirrors()
        request_id = _request_id(headers) if mirrors else None
        deployment: LoadedDeployment = table.deployments[name]
        counters = self.stats.setdefault(name, {"requests": 0, "errors": 0, "mirrored": 0, "mirror_errors": 0})
        counters["requests"] += 1
        metrics = self.metrics
        try:
            predictions = await self._predict(deployment.model, batch)
        except PayloadError as error:
            counters["errors"] += 1
            if metrics is not None:
                metrics.record(name, 400, time.perf_counter() - started)
            raise _HttpError(400, "BAD_REQUEST", str(error)) from None
        except Exception as error:  # a model bug, not the caller's input
            counters["errors"] += 1
            if metrics is not None:
                metrics.record(name, 500, time.perf_counter() - started)
            for mirror in mirrors:  # the shadow still sees the request: its report compares errors too
                self._mirror(table, mirror, batch, name, None, time.perf_counter() - started, request_id)
            _log.error(f"deployment {name}: prediction failed: {type(error).__name__}: {error}")
            raise _HttpError(
                500,
                "MODEL_ERROR",
                f"deployment {name!r} failed to score the input ({type(error).__name__})",
                [(_DEPLOYMENT_HEADER_B, name.encode())],
            ) from None
        for mirror in mirrors:
            self._mirror(table, mirror, batch, name, predictions, time.perf_counter() - started, request_id)
        if batch.columns is None and deployment.model.columns is not None:
            # positional rows, checked to be in the signature's order: captured under its names (a copy:
            # the mirrored copies still score the request as it came)
            batch = Batch(rows=batch.rows, columns=deployment.model.columns, params=batch.params, csv=batch.csv)
        captured = self.capture.record(headers, name, deployment, batch, predictions)
        if not isinstance(captured, list):  # durability="acknowledged": the answer waits for the write
            captured = await captured
        payload = predictions if protocol == "azureml" else {"predictions": predictions}
        body = _dumps(payload)
        if metrics is not None:
            metrics.record(name, 200, time.perf_counter() - started, predictions)
        extra = [(_DEPLOYMENT_HEADER_B, name.encode()), *captured]
        if request_id is not None:
            extra.append((b"x-request-id", request_id.encode()))
        await _respond(send, 200, body, extra=extra)

    async def _predict(self, model: ServedModel, batch: Batch) -> Any:
        if model.inline and len(batch) <= _INLINE_MAX_ROWS:
            return model.predict_raw(batch)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, model.predict_raw, batch)

    def _mirror(
        self,
        table: RoutingTable,
        name: str,
        batch: Batch,
        live: str,
        live_output: Any,
        live_seconds: float,
        request_id: str | None,
    ) -> None:
        deployment = table.deployments.get(name)
        if deployment is None:
            return
        counters = self.stats.setdefault(name, {"requests": 0, "errors": 0, "mirrored": 0, "mirror_errors": 0})
        counters["mirrored"] += 1
        columns = batch.columns
        if columns is None and live in table.deployments:  # positional rows: in the live signature's order
            columns = table.deployments[live].model.columns

        metrics, shadow_log = self.metrics, self.shadow_log

        def run() -> None:
            started = time.perf_counter()
            output, failure = None, None
            try:
                output = deployment.model.predict(batch)
                if metrics is not None:
                    metrics.record(name, 200, time.perf_counter() - started, output, source="mirror")
            except Exception as error:  # a shadow deployment's failure never reaches the caller
                failure = f"{type(error).__name__}: {error}"[:300]
                if metrics is not None:
                    metrics.record(name, 500, time.perf_counter() - started, source="mirror")
                counters["mirror_errors"] += 1
                if counters["mirror_errors"] % 100 == 1:  # the first, then every 100th: no log flood
                    _log.warning(
                        "mirrored request to %s failed (%d so far): %s", name, counters["mirror_errors"], error
                    )
            shadow_log.add(
                name,
                request_id=request_id or "",
                live=live,
                columns=columns,
                rows=batch.rows,
                live_output=to_jsonable(live_output),
                live_seconds=live_seconds,
                shadow_output=output,
                shadow_seconds=time.perf_counter() - started,
                shadow_error=failure,
            )

        future = asyncio.get_running_loop().run_in_executor(None, run)
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    # -- admin -------------------------------------------------------------------------------------

    async def _admin_route(
        self, path: str, method: str, headers: Mapping[bytes, bytes], receive: Receive, send: Send
    ) -> None:
        if not hmac.compare_digest(headers.get(b"authorization", b""), self._admin):
            raise _HttpError(
                401, "UNAUTHORIZED", "the admin API needs the endpoint's admin key", [(b"www-authenticate", b"Bearer")]
            )
        if self._admin_lock is None:
            self._admin_lock = asyncio.Lock()
        if path == "/admin/state" and method == "GET":
            await _respond(send, 200, json.dumps(self.snapshot()).encode())
        elif path == "/admin/stats" and method == "GET":
            await _respond(send, 200, json.dumps(self.stats).encode())
        elif path in ("/admin/capture", "/admin/capture/flush"):
            stats = await self.capture.flush() if method == "POST" else self.capture.stats()
            await _respond(send, 200, json.dumps(stats).encode())
        elif path.startswith("/admin/shadow/") and method == "GET":
            await _respond(send, 200, json.dumps(self.shadow_log.pairs(path[len("/admin/shadow/") :])).encode())
        elif path == "/admin/traffic" and method == "PUT":
            body = _admin_json(await _read_body(receive, headers, self._max_body))
            async with self._admin_lock:
                self.set_traffic(body.get("traffic", {}), body.get("mirror"))
            await _respond(send, 200, json.dumps(self.snapshot()).encode())
        elif path.startswith("/admin/deployments/") and method in ("PUT", "DELETE"):
            name = path[len("/admin/deployments/") :]
            if not DEPLOYMENT_NAME.match(name):
                raise _HttpError(
                    400,
                    "BAD_REQUEST",
                    f"deployment name {name!r} is invalid: 2-32 letters, digits or '-', starting with a letter",
                )
            body = _admin_json(await _read_body(receive, headers, self._max_body)) if method == "PUT" else {}
            async with self._admin_lock:
                if method == "PUT":
                    await self.add_deployment(name, body)
                else:
                    self.remove_deployment(name)
            await _respond(send, 200, json.dumps(self.snapshot()).encode())
        else:
            raise _HttpError(404, "NOT_FOUND", f"no admin route {method} {path}")

    def snapshot(self) -> dict[str, Any]:
        """Deployments, traffic and mirror maps as JSON-ready data."""
        table = self.table
        return {
            "endpoint": self.name,
            "deployments": {name: item.describe() for name, item in sorted(table.deployments.items())},
            "traffic": dict(table.traffic),
            "mirror": dict(table.mirror),
        }

    async def add_deployment(self, name: str, body: Mapping[str, Any]) -> None:
        """Load a model (off the event loop) and add or replace deployment ``name``; traffic is kept."""
        model_path = body.get("model_path")
        if not isinstance(model_path, str) or not model_path:
            raise _HttpError(400, "BAD_REQUEST", "'model_path' (an MLflow model directory) is required")
        fast_path = bool(body.get("fast_path", True))
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _HttpError(400, "BAD_REQUEST", "'metadata' must be an object")
        existing = self.table.deployments.get(name)
        if existing is not None and existing.model_path == model_path and existing.fast_path == fast_path:
            if existing.metadata != metadata:
                existing.metadata = metadata
                self._persist()
            return
        loop = asyncio.get_running_loop()
        try:
            model = await loop.run_in_executor(None, lambda: self._loader(model_path, fast_path=fast_path))
        except ModelLoadError as error:
            _log.error(f"deployment {name}: {error}")
            raise _HttpError(400, "MODEL_LOAD_FAILED", str(error)) from None
        except Exception as error:
            _log.error(f"deployment {name}: loading {model_path} failed: {type(error).__name__}: {error}")
            raise _HttpError(
                400, "MODEL_LOAD_FAILED", f"loading {model_path} failed: {type(error).__name__}: {error}"
            ) from None
        loaded = LoadedDeployment(name, model, model_path, fast_path, time.time(), metadata)
        table = self.table
        self._swap({**table.deployments, name: loaded}, table.traffic, table.mirror)
        if existing is not None and self.metrics is not None:
            self.metrics.forget(name)  # another model under the same name starts from zero
        _log.info(f"deployment {name}: loaded {model_path} ({model.flavor})")

    def remove_deployment(self, name: str) -> None:
        """Unload deployment ``name``; refused (409) while it receives live or mirrored traffic."""
        table = self.table
        if name not in table.deployments:
            raise _HttpError(404, "DEPLOYMENT_NOT_FOUND", f"deployment {name!r} does not exist")
        if table.traffic.get(name, 0) > 0 or table.mirror.get(name, 0) > 0:
            raise _HttpError(
                409,
                "CONFLICT",
                f"deployment {name!r} still receives traffic ({table.traffic.get(name, 0)}% live, "
                f"{table.mirror.get(name, 0)}% mirrored); move its traffic first",
            )
        deployments = {key: value for key, value in table.deployments.items() if key != name}
        traffic = {key: value for key, value in table.traffic.items() if key != name}
        mirror = {key: value for key, value in table.mirror.items() if key != name}
        self._swap(deployments, traffic, mirror)
        if self.metrics is not None:
            self.metrics.forget(name)
        self.shadow_log.forget(name)
        _log.info(f"deployment {name}: removed")

    def set_traffic(self, traffic: Any, mirror: Any = None) -> None:
        """Replace the live traffic map (and the mirror map when given) in one swap."""
        table = self.table
        if mirror is None:
            mirror = {key: value for key, value in table.mirror.items() if key in table.deployments}
        try:
            clean, mirrored = validate_traffic(traffic, mirror, set(table.deployments))
        except TrafficError as error:
            raise _HttpError(400, "BAD_REQUEST", str(error)) from None
        self._swap(table.deployments, clean, mirrored)
        _log.info(f"traffic: {clean} mirror: {mirrored}")

    def _swap(self, deployments: Mapping[str, Any], traffic: Mapping[str, int], mirror: Mapping[str, int]) -> None:
        self.table = RoutingTable(dict(deployments), dict(traffic), dict(mirror))
        self._persist()

    def _persist(self) -> None:
        if self._state_path is None:
            return
        table = self.table
        state = {
            "deployments": {
                name: {"model_path": item.model_path, "fast_path": item.fast_path, "metadata": item.metadata}
                for name, item in table.deployments.items()
            },
            "traffic": dict(table.traffic),
            "mirror": dict(table.mirror),
        }
        write_json_atomic(self._state_path, state)

    async def restore(self) -> None:
        """Reload the deployments and traffic persisted in ``state.json`` (at startup)."""
        if self._state_path is None or not self._state_path.is_file():
            return
        state = json.loads(self._state_path.read_text(encoding="utf-8"))
        loop = asyncio.get_running_loop()
        deployments: dict[str, LoadedDeployment] = {}
        for name, spec in state.get("deployments", {}).items():
            path, fast = spec["model_path"], bool(spec.get("fast_path", True))
            model = await loop.run_in_executor(None, functools.partial(self._loader, path, fast_path=fast))
            deployments[name] = LoadedDeployment(name, model, path, fast, time.time(), spec.get("metadata") or {})
        traffic, mirror = validate_traffic(state.get("traffic", {}), state.get("mirror", {}), set(deployments))
        self.table = RoutingTable(deployments, traffic, mirror)
        _log.info(f"restored {sorted(deployments)} traffic {traffic}")


def _dumps(payload: Any) -> bytes:
    """Predictions as JSON: orjson writes numpy arrays directly (no ``tolist``); anything else it cannot
    write (non-contiguous arrays, numpy scalars, NaN as the standard library spells it) goes through
    :func:`to_jsonable` and, failing that, the standard library."""
    if _orjson is not None:
        try:
            return bytes(_orjson.dumps(payload, option=_orjson.OPT_SERIALIZE_NUMPY, default=to_jsonable))
        except TypeError:
            pass
    return json.dumps(to_jsonable(payload)).encode()


def _request_id(headers: Mapping[bytes, bytes]) -> str:
    """The caller's correlation id (``x-ms-client-request-id`` / ``x-request-id``), else a new one."""
    given = headers.get(b"x-ms-client-request-id") or headers.get(b"x-request-id")
    return given.decode("latin-1")[:128] if given else uuid.uuid4().hex


def _admin_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _HttpError(400, "BAD_REQUEST", f"the body is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise _HttpError(400, "BAD_REQUEST", "the body must be a JSON object")
    return data


async def _read_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes:
    declared = headers.get(b"content-length")
    too_big = _HttpError(413, "PAYLOAD_TOO_LARGE", f"the request body exceeds {limit} bytes; send smaller batches")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_big
        except ValueError:
            raise _HttpError(400, "BAD_REQUEST", "invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _HttpError(400, "BAD_REQUEST", "the client disconnected before sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes = _JSON, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _version_body() -> bytes:
    from mlops_sdk._version import __version__

    versions = {"mlops_sdk": __version__}
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        versions["mlflow"] = version("mlflow")
    return json.dumps(versions).encode()


def write_json_atomic(path: Path, data: Any, *, mode: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    with atomic_write(path, mode=mode) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
