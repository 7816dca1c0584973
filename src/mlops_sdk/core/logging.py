"""Library loggers under ``mlops_sdk.*``, each with a redaction filter.

The library never configures logging (no handlers, no levels): applications decide. Every logger
obtained through :func:`get_logger` masks secrets in the message and its arguments before any handler
sees the record.
"""

from __future__ import annotations

import logging

from mlops_sdk.core.redaction import redact

__all__ = ["RedactionFilter", "get_logger", "redact_library_logger"]


class RedactionFilter(logging.Filter):
    """A logging filter that replaces secrets in a record's message with ``***``.

    Attach it to a handler to redact records from any logger, not only the SDK's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (message, traceback and stack); never drops it."""
        if record.exc_info and not record.exc_text:
            # handlers format the traceback later, from exc_info, unless exc_text is already there
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = RedactionFilter()


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` (which must live under ``mlops_sdk``) with redaction attached."""
    if not name.startswith("mlops_sdk"):
        name = f"mlops_sdk.{name}"
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def redact_library_logger(name: str) -> None:
    """Attach the redaction filter to a third-party library's logger (idempotent; no handler, no level).

    For libraries that log request URLs (httpx logs ``HTTP Request: POST <url>`` at INFO): a webhook URL
    carries its credential in the path, so an application logging at INFO must see ``***`` there.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
