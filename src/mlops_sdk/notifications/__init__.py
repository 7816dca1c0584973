"""Approval notifications: Microsoft Teams, Slack, a signed generic webhook, and the CI run's summary.

:class:`~mlops_sdk.clients.approvals.ApprovalClient` sends one :class:`ApprovalEvent` when a request is
made, on each vote and on the decision, to every channel the settings configure (``notify_teams``,
``notify_slack``, ``notify_webhook`` + ``notify_webhook_secret``), and appends the same summary to the
CI run's summary page (``ci_summary``). A failed notification never fails the approval: it is retried
a bounded number of times, then logged without the webhook URL. Needs ``pip install 'mlops-sdk[notify]'``.
"""

from mlops_sdk.notifications.events import ApprovalEvent, EventKind, event_for
from mlops_sdk.notifications.sender import Notifier
from mlops_sdk.notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ApprovalEvent",
    "EventKind",
    "Notifier",
    "event_for",
    "sign",
    "verify",
]
