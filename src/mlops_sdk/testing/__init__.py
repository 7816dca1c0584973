"""Helpers for testing code that uses mlops_sdk (and for mlops_sdk's own tests).

``FakeClock`` makes every wait instant and deterministic: polling, retries, timeouts and approval
deadlines advance its time instead of sleeping.
"""

from mlops_sdk.testing.clock import FakeClock

__all__ = ["FakeClock"]
