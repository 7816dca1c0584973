"""Running a list of checks: bad input stops early, a broken check becomes a failed result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlops_sdk.checks.context import CheckContext
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.redaction import redact
from mlops_sdk.models.validation import CheckResult

__all__ = ["check_names", "run_checks"]

_log = get_logger(__name__)


def check_names(checks: Sequence[Any]) -> list[str]:
    """Each check's report name; repeated names get ``#2``, ``#3``... so every result is addressable.

    Raises:
        ConfigurationError: an item is not a check (no ``name`` and ``run``).
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for index, check in enumerate(checks):
        name = getattr(check, "name", None)
        if not callable(getattr(check, "run", None)) or not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"checks[{index}] ({type(check).__name__}) is not a check: a check has a non-empty name and "
                "run(context) -> CheckResult (see mlops_sdk.checks.Check)",
                details={"field": f"checks[{index}]"},
            )
        name = redact(name)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _failure(check: Any, name: str, error: BaseException, stage: str) -> CheckResult:
    text = redact(str(error)) or "(no message)"
    detail = f"{type(error).__name__}: {text}"
    _log.warning("check %s raised while %s: %s", name, stage, detail)
    return CheckResult(
        name=name,
        passed=False,
        kind=type(check).__name__,
        comparative=bool(getattr(check, "comparative", False)),
        error=detail,
        message=f"the check raised {detail}",
    )


def _normalise(check: Any, name: str, result: Any) -> CheckResult:
    if not isinstance(result, CheckResult):
        return CheckResult(
            name=name,
            passed=False,
            kind=type(check).__name__,
            error=f"TypeError: run() returned {type(result).__name__}, not CheckResult",
            message=f"the check returned {type(result).__name__} instead of a CheckResult",
        )
    kind = result.kind if result.kind != "check" else type(check).__name__
    return result.model_copy(
        update={
            "name": name,
            "kind": kind,
            "comparative": bool(getattr(check, "comparative", False)),
            "message": redact(result.message),
            "observed": _masked(result.observed),
            "expected": _masked(result.expected),
        }
    )


def _masked(value: Any) -> Any:
    """``value`` with every secret in its strings masked (reports are stored, exported and shown)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_masked(item) for item in value)
    return value


def _require_model_columns(context: CheckContext) -> None:
    """Refuse evaluation data lacking a column the candidate takes, whichever checks were asked for.

    Otherwise a validation of only data checks (``DataQuality``, ``NoDrift``) could promote a model on
    data it cannot score. A model that fails to load is left to the checks (each reports it as failed).
    """
    if context.data is None:
        return
    try:
        context.require_columns(context.candidate)
    except ConfigurationError:
        raise
    except Exception:
        return


def run_checks(context: CheckContext, checks: Sequence[Any]) -> list[CheckResult]:
    """Prepare every check, then run each one; return one result per check, in order.

    Raises:
        ConfigurationError: a check's ``prepare`` found bad input (unknown metric, missing columns,
            unreadable data), or the evaluation data lacks a column of the candidate's signature. Raised
            before any check runs, so nothing half-validated is reported.
    """
    names = check_names(checks)
    _require_model_columns(context)
    early: dict[int, CheckResult] = {}
    for index, check in enumerate(checks):
        prepare = getattr(check, "prepare", None)
        if not callable(prepare):
            continue
        try:
            prepare(context)
        except ConfigurationError:
            raise
        except Exception as error:  # a broken check is a failed check, never a crashed validation
            early[index] = _failure(check, names[index], error, "preparing")
    results = []
    for index, check in enumerate(checks):
        if index in early:
            results.append(early[index])
            continue
        try:
            outcome = check.run(context)
        except Exception as error:  # a broken check is a failed check, never a crashed validation
            results.append(_failure(check, names[index], error, "running"))
            continue
        results.append(_normalise(check, names[index], outcome))
    return results
