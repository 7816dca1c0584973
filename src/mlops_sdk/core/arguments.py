"""Checking a public method's arguments against its signature, once, for every client.

Every public method of every client is wrapped (in ``BaseClient.__init_subclass__``) so that an
argument of the wrong type is refused before anything runs, with a :class:`ConfigurationError`
naming the method, the parameter and what it takes, instead of an ``AttributeError`` from deep
inside a backend or a value silently used. The rules (docs/errors.md, "Bad arguments are refused
before anything runs"):

* the value must be an instance of the annotation (``bool`` is not an ``int``; an ``int`` is a
  ``float``; a mapping's keys must be strings where the annotation says so; a sequence is never a
  string);
* a string must not be blank or hold a NUL or other control character (except tab and newline in
  free text such as a comment);
* a string must be text (no undecodable bytes);
* a number must be finite, not negative and at most 2**63 - 1 (counts, ids, versions, timeouts and
  tolerances);
* a call that does not fit the signature (missing or unknown keyword) is refused the same way;
* a parameter with one rule everywhere (``idempotency_key``, ``deployment``, ``pipeline_id``) is
  checked with that rule instead (its message says what the value must look like).

Parameters annotated ``Any`` are the method's own business (data, payloads, reports).
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import inspect
import math
import numbers
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.names import check_deployment_name, check_idempotency_key, check_positive_id

__all__ = ["FREE_TEXT", "RULES", "ArgumentChecker", "argument_checker", "check_timeout", "describe"]

RULES: dict[str, Callable[[Any, str], Any]] = {
    "idempotency_key": check_idempotency_key,
    "deployment": check_deployment_name,  # also sent as an HTTP header: ASCII only
    "pipeline_id": check_positive_id,
}
"""Parameters with one rule wherever they appear: the rule replaces the generic type and value checks
(so its message, which says what the value must look like, is the one users see)."""

FREE_TEXT = frozenset({"comment", "description", "reason"})
"""Parameters holding prose: they may span lines (and be empty where optional)."""

_CONTROL = {chr(code) for code in range(32)} | {"\x7f"}
_PROSE_WHITESPACE = {"\n", "\r", "\t"}
_LARGEST = 2**63 - 1  # what a store or a service can hold as a number


_PLAIN_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "True or False", Path: "a path"}


def describe(annotation: Any) -> str:
    """What an annotation takes, in words: ``a string or an integer``, ``'primary' or 'secondary'``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [describe(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return " or ".join(dict.fromkeys(members))
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return describe(typing.get_args(annotation)[0])
    if origin in (collections.abc.Mapping, collections.abc.MutableMapping, dict):
        return "a mapping with string keys"
    if origin in (collections.abc.Sequence, collections.abc.Iterable, list, tuple):
        return "a list"
    if origin is collections.abc.Callable or annotation is collections.abc.Callable:
        return "a callable"
    if annotation in _PLAIN_NAMES:
        return _PLAIN_NAMES[annotation]
    name = getattr(origin or annotation, "__name__", str(annotation))
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _fits(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is an instance of ``annotation`` (shallow: containers by kind and keys)."""
    if annotation is Any or isinstance(annotation, TypeVar):
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, argument) for argument in arguments)
    if origin is typing.Literal:
        return any(value == argument and type(value) is type(argument) for argument in arguments)
    if origin is typing.Annotated:
        return _fits(value, arguments[0])
    if origin in (collections.abc.Mapping, collections.abc.MutableMapping, dict):
        if not isinstance(value, collections.abc.Mapping):
            return False
        return not arguments or arguments[0] is not str or all(isinstance(key, str) for key in value)
    if origin in (collections.abc.Sequence, list, tuple, collections.abc.Iterable):
        if isinstance(value, str | bytes) or not isinstance(value, collections.abc.Iterable):
            return False
        if origin is not collections.abc.Iterable and not isinstance(value, collections.abc.Sequence):
            return False
        inner = arguments[0] if arguments else Any
        return not isinstance(value, collections.abc.Sequence) or all(_fits(item, inner) for item in value)
    if origin is collections.abc.Callable or annotation is collections.abc.Callable:
        return callable(value)
    if origin is not None:  # a generic class such as Operation[RefreshRun]: check the class
        return isinstance(origin, type) and isinstance(value, origin)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if annotation is Path:
        return isinstance(value, os.PathLike)
    if isinstance(annotation, type):
        try:
            return isinstance(value, annotation)
        except TypeError:  # a protocol that is not runtime-checkable: the method checks it
            return True
    return True  # a forward reference or construct we do not know: the method checks it


def _value_problem(name: str, value: Any) -> str | None:
    """What is wrong with a value of the right type (blank, control characters, not text, NaN, negative,
    too large)."""
    if isinstance(value, str) and not isinstance(value, enum.Enum):
        if not _encodable(value):
            return "must be text (it holds undecodable bytes: pass names, ids and paths as UTF-8)"
        if name in FREE_TEXT:
            if set(value) & (_CONTROL - _PROSE_WHITESPACE):
                return "must not contain control characters"
            return None
        if not value.strip():
            return "must not be empty or blank"
        if set(value) & _CONTROL:
            return "must not contain control characters (NUL, newline, tab, ...)"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > _LARGEST:
        return f"must be at most {_LARGEST}"
    if not isinstance(value, numbers.Real):
        return None
    number = float(value)
    if not math.isfinite(number):
        return "must be a finite number"
    if number < 0:
        return "must not be negative"
    return None


def _encodable(text: str) -> bool:
    """False for a string holding lone surrogates (Python's stand-ins for bytes that were not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ArgumentChecker:
    """The signature and resolved annotations of one function, resolved on the first check."""

    def __init__(self, function: Callable[..., Any], qualified: str) -> None:
        self.function = function
        self.qualified = qualified
        self._resolved: tuple[inspect.Signature, dict[str, Any]] | None = None

    @property
    def signature(self) -> inspect.Signature:
        """The function's signature."""
        return self._resolve()[0]

    @property
    def hints(self) -> dict[str, Any]:
        """The function's annotations, resolved to objects."""
        return self._resolve()[1]

    def _resolve(self) -> tuple[inspect.Signature, dict[str, Any]]:
        if self._resolved is None:  # annotations name classes imported after the function was defined
            self._resolved = (inspect.signature(self.function), typing.get_type_hints(self.function))
        return self._resolved

    def check(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, qualified: str | None = None) -> None:
        """Raise :class:`ConfigurationError` naming the parameter when the call does not fit.

        ``qualified`` names the callable in messages instead of the one given at construction."""
        where = qualified or self.qualified
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise self._misfit(where, args, kwargs, error) from error
        for name, value in bound.arguments.items():
            parameter = self.signature.parameters[name]
            if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = self.hints.get(name, Any)
            if value is parameter.default and value is None:
                continue
            if name in RULES:
                RULES[name](value, name)
                continue
            if not _fits(value, annotation):
                raise ConfigurationError(
                    f"{where}: {name} must be {describe(annotation)}, got {type(value).__name__} {_short(value)}",
                    details={"field": name, "expected": describe(annotation), "got": type(value).__name__},
                )
            if annotation is not Any and (problem := _value_problem(name, value)) is not None:
                raise ConfigurationError(
                    f"{where}: {name} {problem}, got {_short(value)}",
                    details={"field": name},
                )

    def _misfit(
        self, where: str, args: tuple[Any, ...], kwargs: dict[str, Any], error: TypeError
    ) -> ConfigurationError:
        known = [name for name in self.signature.parameters if name != "self"]
        unknown = [name for name in kwargs if name not in self.signature.parameters]
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"accepted: {', '.join(known)}"
            return ConfigurationError(
                f"{where} got an unknown keyword {unknown[0]!r}; {hint}", details={"field": unknown[0]}
            )
        parameters = list(self.signature.parameters.values())
        missing = [
            parameter.name
            for position, parameter in enumerate(parameters)
            if parameter.default is parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            and position >= len(args)
            and parameter.name not in kwargs
        ]
        return ConfigurationError(
            f"{where}: {error}; its parameters: {', '.join(known)}",
            details={"field": missing[0] if missing else where},
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def argument_checker(function: Callable[..., Any], qualified: str) -> Callable[[tuple[Any, ...], dict[str, Any]], None]:
    """A check of one call's ``(args, kwargs)`` against ``function``'s signature and annotations.

    Raises:
        ConfigurationError: (from the check) an argument does not fit; names ``qualified`` and the parameter.
    """
    return ArgumentChecker(function, qualified).check


def check_timeout(value: Any, field: str = "timeout") -> float | None:
    """A timeout in seconds: ``None`` (no limit) or a finite number >= 0.

    Raises:
        ConfigurationError: anything else (a string, NaN, infinity, a negative number), naming ``field``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or _value_problem(field, value) is not None:
        raise ConfigurationError(
            f"{field} must be None (no limit) or a finite number of seconds >= 0, got {_short(value)}",
            details={"field": field},
        )
    return float(value)
