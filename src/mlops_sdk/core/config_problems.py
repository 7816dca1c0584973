"""Checking a whole configuration file at once: every profile, every key, every value's type.

A config file is checked when it is read, whichever profile is selected, so a typo in
``[profiles.prod]`` fails on a laptop that uses ``dev`` rather than in the CI job that selects prod.
Every problem of the file is collected and reported together in one
:class:`~mlops_sdk.core.errors.ConfigurationError` whose ``details["problems"]`` lists them as data.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.redaction import redact

__all__ = ["ConfigProblem", "check_file_table", "check_keys", "problems_error"]

PROFILES = "profiles"
BACKENDS = "backends"
"""The table of per-backend tables: ``[backends.<name>]``, also inside a profile."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a configuration.

    Attributes:
        where: The file (``/p/mlops.toml``, ``/p/pyproject.toml [tool.mlops]``) or ``"the arguments"``.
        profile: The profile section the key is in, ``None`` for the top level.
        key: The key (or table) at fault.
        problem: What is wrong with it.
        suggestion: The known key it most likely means, for an unknown key.
        sentence: The whole line to show, when the usual "key in file: problem" form does not fit.
        remedy: What to change, when it is more than renaming or removing the key.
    """

    where: str
    profile: str | None
    key: str
    problem: str
    suggestion: str | None = None
    sentence: str | None = None
    remedy: str | None = None

    @property
    def location(self) -> str:
        """The file and section, e.g. ``/p/mlops.toml [profiles.prod]``."""
        return f"{self.where} [{PROFILES}.{self.profile}]" if self.profile else self.where

    def describe(self) -> str:
        """One line naming the key, where it is, what is wrong and what to do."""
        if self.sentence:
            return self.sentence
        if self.problem == "unknown key":
            line = f"unknown configuration key {self.key!r} in {self.location}"
        else:
            line = f"{self.key!r} in {self.location}: {self.problem}"
        return line + (f"; did you mean {self.suggestion!r}?" if self.suggestion else "")

    def fix(self) -> str:
        """What to change, for ``mlops doctor``."""
        if self.remedy:
            return f"in {self.location}, {self.remedy}"
        if self.suggestion:
            return f"in {self.location}, rename {self.key!r} to {self.suggestion!r}"
        if self.problem == "unknown key":
            return f"in {self.location}, remove {self.key!r}: it is not a setting"
        return f"in {self.location}, give {self.key!r} a valid value"


def problems_error(problems: list[ConfigProblem]) -> ConfigurationError:
    """One error listing every problem (message lines, and ``details["problems"]`` as data)."""
    lines = [problem.describe() for problem in problems]
    if len(lines) == 1:
        message = lines[0]
    else:
        message = f"{len(lines)} configuration problems:\n" + "\n".join(f"  - {line}" for line in lines)
    # Messages are redacted by the error itself; the structured copy goes through the same filter.
    data = [
        {
            "file": p.where,
            "profile": p.profile,
            "key": p.key,
            "problem": redact(p.problem),
            "suggestion": p.suggestion,
            "message": redact(p.describe()),
            "fix": p.fix(),
        }
        for p in problems
    ]
    return ConfigurationError(message, details={"problems": data})


def _suggest(key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1)
    return close[0] if close else None


def check_keys(values: Mapping[str, Any], fields: Mapping[str, FieldInfo], where: str) -> list[ConfigProblem]:
    """Unknown keys of ``values`` (arguments: no files, no profiles)."""
    known = sorted(fields)
    return [ConfigProblem(where, None, key, "unknown key", _suggest(key, known)) for key in values if key not in fields]


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _type_problem(name: str, field: FieldInfo, value: Any, secret: bool, model: type[BaseModel] | None) -> str | None:
    """What is wrong with ``value`` for setting ``name``: its type, then the model's own checks of that
    field (a webhook must be an https:// URL...), which every profile gets, selected or not."""
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        adapter = _ADAPTERS[name] = TypeAdapter(Any if field.annotation is None else field.annotation)
    shown = "" if secret else f" (got {_short(value)})"
    try:
        adapter.validate_python(value)
    except ValidationError as error:
        return "; ".join(item["msg"] for item in error.errors()) + shown
    if model is None:
        return None
    try:  # the core validator: the model's field validators, without reading the environment
        model.__pydantic_validator__.validate_python({name: value})
    except ValidationError as error:
        reasons = [_reason(item["msg"]) for item in error.errors() if item["loc"][:1] == (name,)]
        return "; ".join(reasons) + shown if reasons else None
    return None


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def _short(value: Any) -> str:
    # As written in the file: TOML's true / false, not Python's True / False.
    text = str(value).lower() if isinstance(value, bool) else redact(repr(value))  # redact before shortening
    return text if len(text) <= 60 else text[:57] + "..."


def _check_section(
    values: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    secret_fields: frozenset[str],
    where: str,
    profile: str | None,
    model: type[BaseModel] | None = None,
) -> list[ConfigProblem]:
    known = sorted(fields)
    problems = []
    for key, value in values.items():
        if key == BACKENDS:
            problems.extend(_check_backend_tables(value, where, profile))
        elif isinstance(value, dict):
            if profile is None and key == "profile":
                text = "is a table; profiles are written [profiles.<name>]"
                problems.append(ConfigProblem(where, None, key, text, remedy=f"rename [{key}.*] to [profiles.*]"))
            elif profile is None:
                suggestion = _suggest(key, [*known, PROFILES])
                text = "is a table, but settings are plain values and the only table is [profiles.<name>]"
                remedy = None if suggestion else f"remove the table [{key}] or move its keys to the top level"
                problems.append(ConfigProblem(where, None, key, text, suggestion, remedy=remedy))
            else:
                text = "is a table; a profile holds plain settings, not nested tables"
                remedy = f"move the keys of [profiles.{profile}.{key}] up into [profiles.{profile}] or remove it"
                problems.append(ConfigProblem(where, profile, key, text, remedy=remedy))
        elif key not in fields:
            problems.append(ConfigProblem(where, profile, key, "unknown key", _suggest(key, known)))
        elif profile is not None and key == "profile":
            text = "has no effect inside a profile; select a profile with --profile, MLOPS_PROFILE or a top-level key"
            problems.append(ConfigProblem(where, profile, key, text, remedy="remove 'profile'"))
        else:
            reason = _type_problem(key, fields[key], value, key in secret_fields, model)
            if reason is not None:
                problems.append(ConfigProblem(where, profile, key, reason))
    return problems


def _check_backend_tables(value: Any, where: str, profile: str | None) -> list[ConfigProblem]:
    """``backends`` holds one table per backend; their keys are checked by each backend when it is created."""
    prefix = f"[profiles.{profile}.{BACKENDS}" if profile else f"[{BACKENDS}"
    if not isinstance(value, dict):
        return [
            ConfigProblem(where, profile, BACKENDS, "must be a table of tables", remedy=f"write {prefix}.<backend>]")
        ]
    return [
        ConfigProblem(where, profile, f"{BACKENDS}.{name}", "must be a table", remedy=f"write {prefix}.{name}]")
        for name, table in value.items()
        if not isinstance(table, dict)
    ]


def check_file_table(
    table: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    secret_fields: frozenset[str],
    where: str,
    model: type[BaseModel] | None = None,
) -> list[ConfigProblem]:
    """Every problem of a config file's table (``mlops.toml``, or ``[tool.mlops]``): all its profiles.

    Checks unknown keys (with a did-you-mean), value types against the settings' types, tables where
    values belong, a ``profiles`` entry that is not a table of tables, and a top-level ``profile``
    naming a profile the file does not define. With ``model``, each value also goes through that
    model's own field checks.
    """
    top = {key: value for key, value in table.items() if key != PROFILES}
    problems = _check_section(top, fields, secret_fields, where, None, model)
    profiles = table.get(PROFILES, {})
    if not isinstance(profiles, dict):
        text = "must be a table of tables like [profiles.dev]"
        remedy = "write each profile as [profiles.<name>] with its settings below"
        return [*problems, ConfigProblem(where, None, PROFILES, text, remedy=remedy)]
    for name, section in profiles.items():
        if not isinstance(section, dict):
            text = f"must be a table like [profiles.{name}], not a value"
            remedy = f"write it as a table: [profiles.{name}] with its settings below"
            problems.append(ConfigProblem(where, None, f"{PROFILES}.{name}", text, remedy=remedy))
            continue
        problems.extend(_check_section(section, fields, secret_fields, where, str(name), model))
    default = top.get("profile")
    if isinstance(default, str) and default not in profiles:
        defined = ", ".join(sorted(profiles)) or "none"
        close = _suggest(default, sorted(profiles))
        hint = f"; did you mean {close!r}?" if close else ""
        text = f"names profile {default!r}, which the file does not define (defined profiles: {defined}){hint}"
        remedy = f"set 'profile' to one of: {defined}" if profiles else "remove 'profile' or define that profile"
        problems.append(ConfigProblem(where, None, "profile", text, remedy=remedy))
    return problems
