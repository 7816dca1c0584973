"""The protocol every check implements, built-in or yours.

A check is any object with a ``name`` and a ``run(context) -> CheckResult`` method::

    from mlops_sdk.checks import CheckContext, CheckResult

    class MaxLatencyRows:
        name = "predicts 1000 rows"

        def run(self, context: CheckContext) -> CheckResult:
            frame = context.require_data(self.name).frame.head(1000)
            predictions = context.model(context.candidate).predict(frame)
            return CheckResult(name=self.name, passed=len(predictions) == len(frame), observed=len(predictions))

Optional members:

* ``comparative = True`` marks a check that compares with the champion: when only such checks fail,
  the outcome is ``not_promoted`` (the model is fine, just not better) instead of ``failed``.
* ``prepare(context)`` runs for every check before any check runs; raising
  :class:`~mlops_sdk.core.errors.ConfigurationError` there stops the validation with that error (bad
  input such as an unknown metric or a missing column), so nothing is recorded for a typo.

Anything ``run`` raises becomes a failed check carrying the exception's type and message: one broken
check never crashes the validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mlops_sdk.checks.context import CheckContext
    from mlops_sdk.models.validation import CheckResult

__all__ = ["Check"]


@runtime_checkable
class Check(Protocol):
    """One validation rule."""

    @property
    def name(self) -> str:
        """Name shown in reports (unique within one validation)."""
        ...

    def run(self, context: CheckContext) -> CheckResult:
        """Evaluate the rule and say what was observed."""
        ...
