"""Helpers for testing code that uses mlops_sdk (and for mlops_sdk's own tests).

``FakeClock`` makes every wait instant and deterministic: polling, retries, timeouts and approval
deadlines advance its time instead of sleeping. ``faults`` and ``act_as`` reach the ``memory://``
backend behind a client. The pytest plugin (``mlops_sdk.testing.pytest_plugin``) provides the
``mlops_client``, ``fake_clock`` and ``mlops_faults`` fixtures; ``mlops_sdk.testing.conformance`` holds
the conformance suites every backend passes.
"""

from mlops_sdk.testing.clock import FakeClock, use_clock
from mlops_sdk.testing.memory import act_as, faults, memory_backend

__all__ = ["FakeClock", "act_as", "faults", "memory_backend", "use_clock"]
