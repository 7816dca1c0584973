"""Azurite, Microsoft's Azure Storage emulator, on 127.0.0.1 over HTTPS for the blob paths.

The emulator is the npm package ``azurite``; ``.ci/run`` installs it into ``.ci-node/`` at the repository
root (gitignored). When it is missing but ``npm`` is on the PATH, :func:`azurite_executable` installs it
there itself (under a file lock, so parallel pytest workers install once). Tests skip, saying why, only
when Node.js or npm is missing.

Azurite serves HTTPS with a leaf certificate issued by the test suite's trustme CA (``--cert``/``--key``),
keeps everything in memory, and listens on a port the OS picks (``--blobPort 0``), parsed from its output.
Its URLs are path-style: ``https://127.0.0.1:<port>/devstoreaccount1/<container>/<blob>``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

#: The version ``.ci/run`` installs; 3.x runs on Node 20 with an EBADENGINE warning from npm.
AZURITE_VERSION = "3.37.0"
#: Azurite's well-known development account and key (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = REPO_ROOT / ".ci-node"
_LISTENING = re.compile(r"Azurite Blob service successfully listens on (https?)://127\.0\.0\.1:(\d+)")
_START_TIMEOUT = 60.0


class AzuriteUnavailableError(RuntimeError):
    """Azurite cannot run here; the message says why (tests turn it into a skip)."""


@dataclass
class Azurite:
    """A running Azurite blob service."""

    url: str
    """Service root, e.g. ``https://127.0.0.1:40315``."""
    ca_path: Path
    """PEM of the CA that signed Azurite's certificate."""
    account: str = ACCOUNT
    account_key: str = ACCOUNT_KEY

    @property
    def port(self) -> int:
        """The TCP port Azurite listens on."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def account_url(self) -> str:
        """Path-style account URL, e.g. ``https://127.0.0.1:40315/devstoreaccount1``."""
        return f"{self.url}/{self.account}"

    @property
    def connection_string(self) -> str:
        """A storage connection string for the development account (secret-shaped: keep it out of output)."""
        return (
            f"DefaultEndpointsProtocol=https;AccountName={self.account};AccountKey={self.account_key};"
            f"BlobEndpoint={self.account_url};"
        )

    def service_client(self, **kwargs: Any) -> Any:
        """A ``BlobServiceClient`` for the development account that trusts the test CA."""
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.blob import BlobServiceClient

        # Test set-up talks to the emulator directly, whatever proxy/CA variables a test puts in the environment.
        verify = kwargs.pop("connection_verify", str(self.ca_path))
        kwargs.setdefault("transport", RequestsTransport(use_env_settings=False, connection_verify=verify))
        credential = {"account_name": self.account, "account_key": self.account_key}
        return BlobServiceClient(self.account_url, credential=credential, **kwargs)

    def container_sas_url(self, container: str) -> str:
        """Create ``container`` if needed and return its URL with a one-hour read/write/list SAS."""
        from datetime import datetime, timedelta, timezone

        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        with contextlib.suppress(ResourceExistsError):
            self.service_client().create_container(container)
        sas = generate_container_sas(
            self.account,
            container,
            account_key=self.account_key,
            permission=ContainerSasPermissions(read=True, write=True, list=True, add=True, create=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        )
        return f"{self.account_url}/{container}?{sas}"


def azurite_executable() -> Path:
    """Path to ``azurite-blob``, installing Azurite into ``.ci-node/`` from npm when it is missing.

    Raises:
        AzuriteUnavailableError: Node.js or npm is not installed, or the npm install failed.
    """
    exe = NODE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
    if exe.exists():
        return exe
    if shutil.which("node") is None:
        raise AzuriteUnavailableError("Node.js is not installed: Azurite (the Azure Storage emulator) needs `node`")
    npm = shutil.which("npm")
    if npm is None:
        raise AzuriteUnavailableError("npm is not installed: run `.ci/run` or `npm install --prefix .ci-node azurite`")
    NODE_PREFIX.mkdir(exist_ok=True)
    with _file_lock(NODE_PREFIX / ".install.lock"):
        if not exe.exists():
            result = subprocess.run(
                [npm, "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund", "--loglevel=error",
                 f"azurite@{AZURITE_VERSION}"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )  # fmt: skip
            if result.returncode != 0 or not exe.exists():
                failure = f"`npm install azurite@{AZURITE_VERSION}` failed: {result.stderr[-2000:]}"
                raise AzuriteUnavailableError(failure)
    return exe


@contextlib.contextmanager
def run_azurite(ca: trustme.CA, folder: Path) -> Iterator[Azurite]:
    """Start Azurite's blob service over HTTPS on 127.0.0.1 in ``folder``; stop it on exit."""
    exe = azurite_executable()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_path = folder / "azurite-cert.pem", folder / "azurite-key.pem", folder / "azurite-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_path))
    command = [
        str(exe), "--blobHost", "127.0.0.1", "--blobPort", "0", "--skipApiVersionCheck", "--loose",
        "--inMemoryPersistence", "--extentMemoryLimit", "256", "--cert", str(cert), "--key", str(key),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        url = _wait_for_listening(process)
        yield Azurite(url=url, ca_path=ca_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_listening(process: subprocess.Popen[str]) -> str:
    """Read Azurite's output until it names its URL; keep draining afterwards so the pipe never fills."""
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def _read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not ready.is_set():
                seen.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    found.append(f"{match.group(1)}://127.0.0.1:{match.group(2)}")
                    ready.set()
        ready.set()

    threading.Thread(target=_read, name="azurite-output", daemon=True).start()
    ready.wait(_START_TIMEOUT)
    if not found:
        output = "\n".join(seen[-20:])
        raise AzuriteUnavailableError(f"Azurite did not start (exit code {process.poll()}):\n{output}")
    return found[0]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (pytest-xdist workers)."""
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: workers may race; npm install is idempotent
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
