"""The Azurite fixture: a real Azure Storage emulator over HTTPS on loopback, trusting only the test CA."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.fakes.azurite import Azurite

pytestmark = pytest.mark.azure


def test_azurite_round_trips_a_blob_over_https(azurite: Azurite) -> None:
    container = azurite.service_client().get_container_client("fixture-roundtrip")
    container.create_container()
    container.upload_blob("a/b.txt", b"payload")
    assert container.download_blob("a/b.txt").readall() == b"payload"
    assert [b.name for b in container.list_blobs()] == ["a/b.txt"]
    assert azurite.url.startswith("https://127.0.0.1:")


def test_azurite_certificate_is_signed_by_the_test_ca_only(azurite: Azurite) -> None:
    # The system trust store does not know the test CA: the emulator really speaks TLS with our leaf cert.
    context = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", azurite.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    trusting = ssl.create_default_context(cafile=str(azurite.ca_path))
    with (
        socket.create_connection(("127.0.0.1", azurite.port), timeout=10) as raw,
        trusting.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() is not None
