"""Serving the review page: loopback by default, TLS required for any other address.

uvicorn's access log is off: invite links carry their token in the path, and a log line would
turn every log reader into someone holding a link.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["Binding", "check_binding", "is_loopback", "uvicorn_config"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Binding:
    """Where and how the page is served (checked by :func:`check_binding`)."""

    host: str
    port: int
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls(self) -> bool:
        """True when served over HTTPS."""
        return self.tls_cert is not None

    @property
    def url(self) -> str:
        """The base URL on this binding (what ``mlops approvals invite --url`` should get)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


def check_binding(host: str, port: int, tls_cert: Path | None, tls_key: Path | None) -> Binding:
    """A binding that is loopback, or has both TLS files.

    Raises:
        ConfigurationError: a non-loopback host without TLS, only one of the TLS files, a missing
            file, or a port out of range.
    """
    if not 0 <= port <= 65535:
        raise ConfigurationError(f"--port {port} is not a TCP port (0-65535)", details={"field": "--port"})
    if (tls_cert is None) != (tls_key is None):
        missing = "--tls-cert" if tls_cert is None else "--tls-key"
        raise ConfigurationError(
            f"TLS needs both --tls-cert and --tls-key (PEM files); {missing} is missing", details={"field": missing}
        )
    for flag, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"{flag} {path} is not a file", details={"field": flag})
    if tls_cert is not None and tls_key is not None:
        _check_tls_pair(tls_cert, tls_key)
    if tls_cert is None and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to serve the review page on {host} without TLS: votes and session cookies would cross the "
            "network in clear text. Pass --tls-cert and --tls-key (a certificate for the name approvers will "
            "open), or keep the default --host 127.0.0.1 behind your own TLS-terminating proxy",
            details={"field": "--host"},
        )
    return Binding(host, port, tls_cert, tls_key)


def _check_tls_pair(tls_cert: Path, tls_key: Path) -> None:
    """Load the certificate and key once here, so a bad pair fails before the page is announced."""
    import ssl

    try:
        # An encrypted key is refused here rather than prompting for its passphrase.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls_cert, tls_key, password=lambda: b"")
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or "unreadable"
        raise ConfigurationError(
            f"--tls-cert {tls_cert} / --tls-key {tls_key} are not a PEM certificate and its private key ({reason}); "
            "pass the certificate (chain) and the key it was issued for, both PEM",
            details={"field": "--tls-cert"},
        ) from None


def uvicorn_config(app: Any, binding: Binding) -> Any:
    """The uvicorn configuration serving ``app`` on ``binding`` (access log off, TLS when set)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=binding.host,
        port=binding.port,
        access_log=False,
        log_level="warning",
        ssl_certfile=str(binding.tls_cert) if binding.tls_cert else None,
        ssl_keyfile=str(binding.tls_key) if binding.tls_key else None,
        server_header=False,
        proxy_headers=False,
    )
