"""Delivering approval events: webhooks over httpx with bounded retries, and the CI run's summary.

Delivery never raises: an approval must not fail because Teams is down. Each webhook POST is tried at
most ``attempts`` times (connection errors, 408, 429 and 5xx are retried, waiting on the client's clock,
honouring ``Retry-After`` up to a cap); the final failure is logged at WARNING with the channel and the
status or error type, never the URL (webhook URLs carry their credential in the path).
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from mlops_sdk.core.clock import Clock
from mlops_sdk.core.config import Settings
from mlops_sdk.core.logging import get_logger, redact_library_logger
from mlops_sdk.core.retry import RETRYABLE_STATUS_CODES, parse_retry_after
from mlops_sdk.notifications import payloads
from mlops_sdk.notifications.events import ApprovalEvent
from mlops_sdk.notifications.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["Notifier"]

_log = get_logger(__name__)
_MAX_WAIT = 30.0


class Notifier:
    """Sends approval events to the channels ``settings`` configure.

    Args:
        settings: ``notify_teams``, ``notify_teams_card``, ``notify_slack``, ``notify_webhook``,
            ``notify_webhook_secret``, ``ci_summary``, and the HTTP settings (``ca_bundle``, ``proxy``, timeouts).
        clock: Where retry waits sleep (tests pass a fake clock).
        env: Environment the CI system is detected from (default ``os.environ``).
        attempts: Tries per webhook POST, the first included.
    """

    def __init__(
        self, settings: Settings, *, clock: Clock, env: Mapping[str, str] | None = None, attempts: int = 3
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._env = os.environ if env is None else env
        self._attempts = max(1, attempts)

    def channels(self) -> list[tuple[str, SecretStr, Callable[[ApprovalEvent], dict[str, Any]]]]:
        """``(name, url, payload builder)`` of every configured webhook."""
        settings = self._settings
        found: list[tuple[str, SecretStr, Callable[[ApprovalEvent], dict[str, Any]]]] = []
        if settings.notify_teams is not None:
            builder = (
                payloads.teams_messagecard if settings.notify_teams_card == "messagecard" else payloads.teams_adaptive
            )
            found.append(("teams", settings.notify_teams, builder))
        if settings.notify_slack is not None:
            found.append(("slack", settings.notify_slack, payloads.slack))
        if settings.notify_webhook is not None:
            found.append(("webhook", settings.notify_webhook, payloads.generic))
        return found

    def notify(self, event: ApprovalEvent) -> None:
        """Send ``event`` everywhere configured; never raises."""
        for name, url, builder in self.channels():
            try:
                self._deliver(name, url, event, builder(event))
            except Exception as error:  # a notification must never fail the approval
                _log.warning(
                    "approval notification to %s for %s failed: %s", name, event.request_id, type(error).__name__
                )
        if self._settings.ci_summary:
            try:
                from mlops_sdk.flows.ci import add_summary

                add_summary(event.markdown(), title="mlops-approval", env=self._env)
            except Exception as error:  # the summary is a courtesy, never a failure
                _log.warning("could not write the CI summary for %s: %s", event.request_id, error)

    def _deliver(self, name: str, url: SecretStr, event: ApprovalEvent, document: dict[str, Any]) -> None:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": _user_agent()}
        if name == "webhook":
            secret = self._settings.notify_webhook_secret
            if secret is None:
                _log.warning(
                    "approval notification to webhook for %s not sent: notify_webhook is set without "
                    "notify_webhook_secret (the generic webhook is always signed)",
                    event.request_id,
                )
                return
            timestamp = int(time.time())
            headers.update(
                {
                    "X-Mlops-Event": f"approval.{event.kind}",
                    "X-Mlops-Event-Id": event.event_id,
                    TIMESTAMP_HEADER: str(timestamp),
                    SIGNATURE_HEADER: sign(secret.get_secret_value(), timestamp, body),
                }
            )
        try:
            import httpx
        except ImportError:
            _log.warning("approval notifications need httpx: pip install 'mlops-sdk[notify]'")
            return
        redact_library_logger("httpx")  # it logs the URL, whose path is the webhook's credential
        with self._client(httpx) as client:
            for attempt in range(1, self._attempts + 1):
                wait: float | None = None
                try:
                    response = client.post(url.get_secret_value(), content=body, headers=headers)
                except httpx.HTTPError as error:
                    problem = type(error).__name__
                    wait = float(attempt)
                else:
                    if response.status_code < 300:
                        _log.debug("approval notification %s sent to %s", event.event_id, name)
                        return
                    problem = f"HTTP {response.status_code}"
                    if response.status_code not in RETRYABLE_STATUS_CODES:
                        break
                    hint = parse_retry_after(dict(response.headers))
                    wait = min(hint if hint is not None else float(attempt), _MAX_WAIT)
                if attempt < self._attempts and wait is not None:
                    self._clock.sleep(wait)
        _log.warning(
            "approval notification to %s for %s not delivered after %d attempt(s): %s",
            name,
            event.request_id,
            attempt,
            problem,
        )

    def _client(self, httpx: Any) -> Any:
        settings = self._settings
        verify: ssl.SSLContext | bool = True
        if settings.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
        return httpx.Client(
            verify=verify,
            proxy=settings.proxy,
            trust_env=settings.proxy is None,
            timeout=httpx.Timeout(min(settings.read_timeout, 30.0), connect=settings.connect_timeout),
            follow_redirects=False,
        )


def _user_agent() -> str:
    from mlops_sdk._version import __version__

    return f"mlops-sdk/{__version__}"
