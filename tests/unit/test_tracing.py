"""One OpenTelemetry span per public client operation."""

from __future__ import annotations

import pytest

from mlops_sdk.clients._base import BaseClient
from mlops_sdk.core.tracing import annotate

otel_sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    provider = otel_sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


class EchoClient(BaseClient):
    _capability = "echo"

    def say(self, text: str) -> str:
        """Public: traced."""
        annotate({"echo.length": len(text)})
        return self._shout(text)

    def _shout(self, text: str) -> str:
        return text.upper()

    def fail(self) -> None:
        """Public: traced, and the error is recorded on the span."""
        raise ValueError("nope")


def test_public_methods_get_one_span_each() -> None:
    _EXPORTER.clear()
    client = EchoClient("local://.mlops")
    assert client.say("hi") == "HI"
    with pytest.raises(ValueError, match="nope"):
        client.fail()
    names = [span.name for span in _EXPORTER.get_finished_spans()]
    assert names == ["mlops.echo.say", "mlops.echo.fail"]  # one span each, no nested duplicates
    assert _EXPORTER.get_finished_spans()[0].attributes == {"echo.length": 2}
    assert _EXPORTER.get_finished_spans()[1].status.status_code.name == "ERROR"
    assert EchoClient.say.__doc__ == "Public: traced."
