"""Managing endpoint server processes from the SDK: create, start detached, stop, administer, call.

A server is found through its folder: ``server.json`` names pid and port, ``/ping`` answers with the
endpoint's name (so a recycled pid or port is never mistaken for our server). Starting takes a file
lock, so two processes starting the same endpoint at once start it once. Waiting for a process to
come up is real time by nature (a real child process), bounded by a deadline.

HTTP calls use the standard library (``http.client``): nothing heavy is imported in the client process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local._processes import process_alive, process_start_time
from mlops_sdk.backends.local.serving.app import write_json_atomic
from mlops_sdk.core.errors import (
    MlopsError,
    OperationFailedError,
    ServiceRequestError,
    error_for_status,
)
from mlops_sdk.core.files import file_lock
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import register_secret

__all__ = ["OWNER_FILE", "EndpointServer", "HttpAnswer", "ServerInfo"]

_log = get_logger(__name__)
_children: dict[int, subprocess.Popen[bytes]] = {}
DEFAULT_MAX_BODY = 16 * 2**20
OWNER_FILE = "owner.json"
# A live server slow to answer /ping (a busy machine) gets a second, longer chance before it counts as down.
_PING_TIMEOUTS = (2.0, 15.0)


@dataclass(frozen=True)
class ServerInfo:
    """Where a running server listens."""

    pid: int
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:50123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer: status, lower-cased headers, raw body and the measured round trip (seconds)."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        """The error message of an error answer (or the body text)."""
        try:
            data = self.json()
        except ValueError:
            return self.body.decode("utf-8", "replace")[:500]
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])
        return self.body.decode("utf-8", "replace")[:500]


def _pid_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    return process_alive(pid, None)  # never os.kill(pid, 0): on Windows that sends Ctrl-C


class EndpointServer:
    """The server process of one endpoint, addressed by its folder.

    Args:
        folder: ``<store>/endpoints/<name>``.
        name: Endpoint name.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name

    # -- files -------------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.folder / "logs" / "server.log"

    @property
    def exists(self) -> bool:
        """True once :meth:`create` wrote the endpoint's configuration."""
        return (self.folder / "config.json").is_file()

    def create(self, *, host: str = "127.0.0.1", port: int = 0, max_body_bytes: int = DEFAULT_MAX_BODY) -> None:
        """Write (once) ``secrets.json`` with fresh random keys (mode 0600), then ``config.json``.

        ``config.json`` is written last: it marks the endpoint as existing, so a process killed
        half-way leaves an endpoint that does not exist yet (created again), never one without keys.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        (self.folder / "models").mkdir(exist_ok=True)
        if not (self.folder / "secrets.json").is_file():
            write_json_atomic(
                self.folder / "secrets.json",
                {
                    "primary_key": secrets.token_urlsafe(32),
                    "secondary_key": secrets.token_urlsafe(32),
                    "admin_key": secrets.token_urlsafe(32),
                },
                mode=0o600,
            )
        write_json_atomic(
            self.folder / "config.json",
            {"name": self.name, "host": host, "port": port, "max_body_bytes": max_body_bytes},
        )

    def config(self) -> dict[str, Any]:
        """The endpoint's ``config.json``."""
        data: dict[str, Any] = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        return data

    def keys(self) -> dict[str, str]:
        """The endpoint's keys (registered for redaction before they are returned)."""
        data: dict[str, str] = json.loads((self.folder / "secrets.json").read_text(encoding="utf-8"))
        for value in data.values():
            register_secret(value)
        return data

    def info(self) -> ServerInfo | None:
        """What ``server.json`` says (``None`` when the server never started or was stopped)."""
        try:
            data = json.loads((self.folder / "server.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return ServerInfo(pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]))

    # -- lifecycle -----------------------------------------------------------------------------------

    def running(self) -> ServerInfo | None:
        """The server's address when it is alive and answers ``/ping`` as this endpoint, else ``None``."""
        info = self.info()
        if info is None or not _pid_alive(info.pid):
            return None
        answer = None
        for timeout in _PING_TIMEOUTS:
            try:
                answer = self._request(info, "GET", "/ping", timeout=timeout)
                break
            except ServiceRequestError as error:
                # Refused or reset: nothing listens. A timeout from a live process: a loaded machine, ask again.
                if not isinstance(error.__cause__, TimeoutError) or not _pid_alive(info.pid):
                    return None
        if answer is None:
            return None
        if answer.status == 200 and answer.headers.get("x-mlops-endpoint") == self.name:
            return info
        return None

    def _start_lock(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.folder / ".lock")

    def launch(self) -> None:
        """Start the server detached unless it runs or is already starting; do not wait for it."""
        with self._start_lock():
            if self.running() is None and self._starting() is None:
                self._spawn()

    def start(self, *, timeout: float = 120.0) -> ServerInfo:
        """Start the server detached (unless it already runs) and wait until it answers ``/ping``.

        A server another call launched and that is still coming up is waited for, not started twice.

        Raises:
            OperationFailedError: the process exited or did not answer in time; carries the log tail.
        """
        with self._start_lock():
            info = self.running()
            if info is not None:
                return info
            pid = self._starting() or self._spawn()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not _pid_alive(pid) and (holder := self._instance()) is not None:
                    pid = holder  # ours gave way to a server already holding the endpoint's lock
                if not _pid_alive(pid):
                    child = _children.get(pid)
                    code = child.returncode if child is not None else None
                    raise self._start_failed(f"exited with code {code}" if code is not None else "exited")
                info = self.info()
                if info is not None and info.pid == pid:
                    running = self.running()
                    if running is not None:
                        with contextlib.suppress(FileNotFoundError):
                            (self.folder / "starting.json").unlink()
                        return running
                time.sleep(0.05)
            self._terminate(pid, timeout=5.0)
            raise self._start_failed(f"did not answer within {timeout:g}s")

    def starting(self) -> bool:
        """True while the server process launched last lives and nobody has seen it answer yet.

        Ask :meth:`running` first: a server that came up without anybody waiting for it is both.
        """
        return self._starting() is not None

    def _spawn(self) -> int:
        for name in ("server.json", OWNER_FILE):  # a new server belongs to nobody until someone says so
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlops_sdk.backends.local.serving.server", str(self.folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        _children[process.pid] = process
        write_json_atomic(self.folder / "starting.json", {"pid": process.pid, "start": process_start_time(process.pid)})
        _log.info("started endpoint server %s (pid %d)", self.name, process.pid)
        return process.pid

    def _instance(self) -> int | None:
        """The pid of the live server holding this endpoint's instance lock (``server.lock``), if any."""
        try:
            pid_text, start = (self.folder / "server.lock").read_text(encoding="ascii").split()
        except (OSError, ValueError):
            return None
        pid = int(pid_text)
        return pid if process_alive(pid, None if start == "-" else start) else None

    def _starting(self) -> int | None:
        """The pid of the server process launched last, while that very process lives (not a recycled pid)."""
        try:
            data = json.loads((self.folder / "starting.json").read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        child = _children.get(pid)
        if child is not None:  # ours: poll() also reaps it once it exited
            return pid if child.poll() is None else None
        return pid if process_alive(pid, data.get("start")) else None

    def _start_failed(self, why: str) -> OperationFailedError:
        tail = self.log_tail(40)
        return OperationFailedError(
            f"the endpoint server of {self.name!r} {why}. Log tail ({self.log_path}):\n{tail}",
            backend="local",
            details={"log_tail": tail, "log": str(self.log_path)},
        )

    def stop(self, *, timeout: float = 15.0) -> bool:
        """Stop the server gracefully (SIGTERM, in-flight requests finish), SIGKILL after ``timeout``.

        A server process still coming up is stopped too. The owner (see :meth:`set_owner`) is cleared.

        Returns:
            True when a running (or starting) server was stopped.
        """
        info = self.info()
        launched = self._starting()
        stopped = False
        if info is not None and _pid_alive(info.pid) and self.running() is not None:
            self._terminate(info.pid, timeout=timeout)
            stopped = True
        if launched is not None and (info is None or launched != info.pid) and _pid_alive(launched):
            self._terminate(launched, timeout=timeout)
            stopped = True
        for name in ("server.json", "starting.json", OWNER_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()
        return stopped

    def set_owner(self, pid: int) -> None:
        """Tie the server's life to process ``pid``: the server stops itself within a second or two once it ends.

        Written to ``owner.json`` (pid and start time, so a recycled pid is not mistaken for the owner);
        the server checks it every second. :meth:`stop` and a new launch clear it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.folder / OWNER_FILE, {"pid": pid, "start": process_start_time(pid)})

    def clear_owner(self, pid: int) -> None:
        """Remove ``owner.json`` if it still names ``pid``."""
        path = self.folder / OWNER_FILE
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
            if int(json.loads(path.read_text(encoding="utf-8"))["pid"]) == pid:
                path.unlink()

    @staticmethod
    def _terminate(pid: int, *, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the server log (empty when there is none)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 64 * 1024))
                text = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- HTTP ----------------------------------------------------------------------------------------

    def _require_running(self) -> ServerInfo:
        info = self.info()
        if info is None or not _pid_alive(info.pid):
            raise ServiceRequestError(
                f"the endpoint server of {self.name!r} is not running; start it with "
                "client.deployments.begin_deploy(...) or `mlops endpoints start`",
                backend="local",
            )
        return info

    def _request(
        self,
        info: ServerInfo,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> HttpAnswer:
        connection = http.client.HTTPConnection(info.host, info.port, timeout=timeout)
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ServiceRequestError(
                f"{method} {path} on endpoint {self.name!r} failed: {error}", backend="local"
            ) from error
        finally:
            connection.close()
        elapsed = time.perf_counter() - start
        return HttpAnswer(
            status=response.status,
            headers={key.lower(): value for key, value in response.getheaders()},
            body=data,
            elapsed=elapsed,
        )

    def admin(self, method: str, path: str, body: Mapping[str, Any] | None = None, *, timeout: float = 300.0) -> Any:
        """Call the admin API; an error answer raises the matching :class:`MlopsError` subclass."""
        info = self._require_running()
        key = self.keys()["admin_key"]
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {key}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        route = f"/admin/{path.lstrip('/')}"
        answer = self._request(info, method, route, body=payload, headers=headers, timeout=timeout)
        if answer.status >= 400:
            raise error_for_status(
                answer.status,
                f"endpoint {self.name!r}: {method} /admin/{path.lstrip('/')} failed: {answer.message}",
                backend="local",
            )
        return answer.json()

    def score(
        self,
        body: bytes,
        *,
        path: str = "/score",
        deployment: str | None = None,
        content_type: str = "application/json",
        timeout: float = 60.0,
    ) -> HttpAnswer:
        """POST a scoring request with the primary key; the answer is returned whatever its status."""
        info = self._require_running()
        headers = {"Authorization": f"Bearer {self.keys()['primary_key']}", "Content-Type": content_type}
        if deployment is not None:
            headers["azureml-model-deployment"] = deployment
        return self._request(info, "POST", path, body=body, headers=headers, timeout=timeout)


def answer_error(answer: HttpAnswer, what: str) -> MlopsError:
    """The :class:`MlopsError` for an error answer of a scoring call."""
    return error_for_status(answer.status, f"{what}: {answer.message}", backend="local")
