"""Process entry point of one endpoint server: ``python -m mlops_sdk.backends.local.serving.server FOLDER``.

Reads ``config.json`` and ``secrets.json`` from the endpoint folder, binds the socket itself (so a
requested port 0 becomes a real port before anything is announced), writes ``server.json``
(pid, host, port) atomically, restores the persisted deployments and serves with uvicorn until
SIGTERM/SIGINT, finishing in-flight requests before it exits. When ``owner.json`` names a process
(a client that asked for ``stop_with_client``), the server also stops once that process has ended,
however it ended.

Once it serves, the server imports the scikit-learn fast path's modules in the background
(:func:`~.models.start_preload`), so that the first deployment of a new model finds them imported
or on the way. A restart whose deployments are all scored from cached linear kernels (:mod:`.kernels`) needs
none of them: it answers without scikit-learn, and preloads only once no scoring request has
arrived for :data:`IDLE_BEFORE_PRELOAD` seconds, because the import holds the interpreter lock (and
lowers the process's priority) for a few seconds, which halved the throughput and tripled the p99
latency of the first answers when it ran right away (measured). ``MLOPS_ENDPOINT_PRELOAD=0`` turns
the preload off (a replica that only serves linear models then never imports scikit-learn).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mlops_sdk.core.logging import get_logger

__all__ = ["IDLE_BEFORE_PRELOAD", "main", "preload_enabled", "serve"]

_LOG = get_logger("mlops_sdk.serving")

IDLE_BEFORE_PRELOAD = 2.0  # seconds without a scoring request before a kernel-served restart preloads


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets of that protocol, and
    # without it every answer written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _watch_owner(folder: Path, server: Any, interval: float = 1.0) -> None:
    """Stop ``server`` gracefully once the process named in ``owner.json`` has ended (no file: no owner).

    This is what ties a server to a client that asked for it (``stop_with_client=True``) even when
    that client's process is killed and cannot stop the server itself.
    """
    from mlops_sdk.backends.local._processes import process_alive
    from mlops_sdk.backends.local.serving.process import OWNER_FILE

    path = folder / OWNER_FILE
    while not server.should_exit:
        time.sleep(interval)
        try:
            owner = json.loads(path.read_text(encoding="utf-8"))
            pid, start = int(owner["pid"]), owner.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not process_alive(pid, start):
            _LOG.info("the owning process %d ended: stopping the endpoint server", pid)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            server.should_exit = True
            return


def _hold_instance_lock(folder: Path) -> bool:
    """Take ``server.lock`` for the life of this process; False when another server of the endpoint has it.

    A launcher killed between starting a server and recording it makes the next launcher start a
    second one: that one gives way here instead of serving (and persisting state) next to the first.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: single-process use
        return True
    from mlops_sdk.backends.local._processes import process_start_time

    handle = (folder / "server.lock").open("a+", encoding="ascii")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {process_start_time(os.getpid()) or '-'}\n")
    handle.flush()
    _held.append(handle)  # kept open (and locked) until the process exits
    return True


_held: list[object] = []


def preload_enabled() -> bool:
    """False when ``MLOPS_ENDPOINT_PRELOAD`` is ``0``/``false``/``off``/``no``."""
    return os.environ.get("MLOPS_ENDPOINT_PRELOAD", "1").strip().lower() not in ("0", "false", "off", "no")


def _after_startup(app: Any, server: Any) -> None:
    """Start the preload now, or once the server is idle when every deployment is served from a cached kernel."""
    from mlops_sdk.backends.local.serving.models import LinearKernelModel, start_preload

    models = [item.model for item in app.table.deployments.values()]
    if models and all(isinstance(model, LinearKernelModel) for model in models):
        threading.Thread(target=_preload_when_idle, args=(app, server), name="mlops-idle", daemon=True).start()
    else:
        start_preload()


def _preload_when_idle(app: Any, server: Any, interval: float = 0.25) -> None:
    """Start the preload once no scoring request (live or mirrored) arrived for ``IDLE_BEFORE_PRELOAD`` seconds."""
    from mlops_sdk.backends.local.serving.models import start_preload

    seen, since = -1.0, time.monotonic()
    while not server.should_exit:
        time.sleep(interval)
        try:
            count = sum(item.get("requests", 0) + item.get("mirrored", 0) for item in list(app.stats.values()))
        except RuntimeError:  # the counters changed while we read them: not idle
            count = -1.0
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since >= IDLE_BEFORE_PRELOAD:
            start_preload()
            return


def serve(folder: Path) -> None:
    """Serve the endpoint described in ``folder`` until terminated."""
    if not _hold_instance_lock(folder):
        _LOG.info("another server of %s is running; this one exits", folder.name)
        os._exit(0)
    import uvicorn

    from mlops_sdk.backends.local.serving.app import EndpointApp, write_json_atomic
    from mlops_sdk.backends.local.serving.capture_writer import writer_process_enabled

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    secrets = json.loads((folder / "secrets.json").read_text(encoding="utf-8"))
    host = str(config.get("host", "127.0.0.1"))
    sock = _socket(host, int(config.get("port", 0)))
    port = sock.getsockname()[1]
    app = EndpointApp(
        name=str(config["name"]),
        keys=[secrets["primary_key"], secrets.get("secondary_key", "")],
        admin_key=secrets["admin_key"],
        max_body_bytes=int(config.get("max_body_bytes", 16 * 2**20)),
        state_path=folder / "state.json",
        capture_process=writer_process_enabled(),
    )
    write_json_atomic(
        folder / "server.json", {"pid": os.getpid(), "host": host, "port": port, "started_at": time.time()}
    )
    _LOG.info("endpoint %s listening on http://%s:%d", config["name"], host, port)
    preload = preload_enabled()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)  # the lifespan restored the deployments
            if self.started and preload:
                _after_startup(app, self)

    server = Server(
        uvicorn.Config(
            app,
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=10,
            server_header=False,
            date_header=False,
        )
    )
    threading.Thread(target=_watch_owner, args=(folder, server), name="mlops-owner", daemon=True).start()
    server.run(sockets=[sock])
    # In-flight requests are answered and the state is persisted: skip the interpreter teardown of
    # the model libraries (a few hundred milliseconds that ``stop_endpoint`` would wait for).
    logging.shutdown()
    os._exit(0 if server.started else 3)


def main(argv: list[str] | None = None) -> None:
    """Console entry: one argument, the endpoint folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m mlops_sdk.backends.local.serving.server ENDPOINT_FOLDER\n")
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    serve(Path(args[0]))


if __name__ == "__main__":
    main()
