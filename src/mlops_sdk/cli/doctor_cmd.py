"""``mlops doctor``: is everything in place to work on the configured target?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlops_sdk.cli.output import EXIT_ERROR, EXIT_OK, state
from mlops_sdk.core.errors import MlopsError

if TYPE_CHECKING:
    from mlops_sdk.backends.base import DoctorCheck


def _config_failure(error: MlopsError) -> list[DoctorCheck]:
    """One failed check per configuration problem, each with its own fix."""
    from mlops_sdk.backends.base import DoctorCheck

    problems = error.details.get("problems")
    if isinstance(problems, list) and problems:
        return [DoctorCheck("config", False, problem["message"], problem["fix"]) for problem in problems]
    return [DoctorCheck("config", False, error.message, error.details.get("fix"))]


def _target_fix(error: MlopsError, target: str, source: str) -> str:
    """Where the bad target came from (``--target``, ``MLOPS_TARGET``, the file) and what it probably meant."""
    if source == "argument":
        where = "--target (-t)"
    elif source.startswith("env "):
        where = source[len("env ") :]
    else:
        where = f"'target' in {source}"
    suggestion = error.details.get("suggestion")
    scheme = error.details.get("suggested_scheme")
    if not suggestion and scheme and "://" in target:
        suggestion = f"{scheme}://{target.split('://', 1)[1]}"
    if suggestion:
        return f"check {where}: did you mean {suggestion!r}?"
    return f"check {where}: write local://<folder> or azureml://subscriptions/<sub>/resourceGroups/<rg>/workspaces/<ws>"


def _backend_failure(error: MlopsError, name: str, file: object) -> DoctorCheck:
    """The failed check for a backend that could not be created, with the fix for its cause."""
    from mlops_sdk.backends.base import DoctorCheck, pip_install_command

    extra = error.details.get("extra")
    if isinstance(extra, str):
        return DoctorCheck(f"{extra} extra", False, error.message, pip_install_command(extra))
    field = error.details.get("field")
    if isinstance(field, str) and field.startswith("backends."):
        where = f" in {file}" if file else ""
        return DoctorCheck(field, False, error.message, f"correct the [{field}] table{where} as the message says")
    # another setting of the backend (ca_bundle): the check is named after it, with its fix
    hint = error.details.get("fix")
    check = str(field) if isinstance(field, str) and field else f"{name} backend"
    return DoctorCheck(check, False, error.message, str(hint) if hint else f"fix the '{check}' setting")


def _checks() -> list[DoctorCheck]:
    from mlops_sdk.backends.base import DoctorCheck
    from mlops_sdk.backends.registry import backend_class, parse_target
    from mlops_sdk.core.config import load_config
    from mlops_sdk.core.targets import split_scheme

    try:
        config = load_config({"target": state.target}, profile=state.profile, config_file=state.config_file)
    except MlopsError as error:
        return _config_failure(error)
    where = str(config.file) if config.file else "defaults and environment (no config file)"
    checks = [DoctorCheck("config", True, f"loaded from {where}, profile {config.settings.profile or '-'}")]
    checks.extend(
        DoctorCheck("config", False, f"{variable} is not a setting and is ignored", f"rename {variable} to {meant}")
        for variable, meant in config.misspelt
    )
    target = config.settings.target
    try:
        parse_target(target, base_dir=config.base_dir)
        cls = backend_class(split_scheme(target))
        parsed = cls.target_type.parse(target)
    except MlopsError as error:
        fix = _target_fix(error, target, config.sources.get("target", "default"))
        checks.append(DoctorCheck("target", False, error.message, fix))
        return checks
    checks.append(DoctorCheck("target", True, f"{target} -> {cls.__module__}.{cls.__name__}"))
    try:
        backend = cls(parsed, config)
    except MlopsError as error:  # the target is fine: a missing extra or the backend's own settings are not
        checks.append(_backend_failure(error, cls.name, config.file))
        return checks
    try:
        checks.extend(backend.doctor())
    finally:
        backend.close()
    return checks


def doctor() -> None:
    """Check config, installed extras, credentials and the target; print a fix for each problem."""
    checks = _checks()
    if state.json:
        state.emit([{"check": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix} for c in checks])
    else:
        from rich.markup import escape

        console = state.console()
        for check in checks:
            mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
            console.print(f"{mark} {check.name}: {escape(check.detail)}")
            if not check.ok and check.fix:
                console.print(f"       fix: {escape(check.fix)}")
    raise typer.Exit(EXIT_OK if all(check.ok for check in checks) else EXIT_ERROR)
