"""Every example in the public docs (README.md, docs/*.md) runs as printed.

One test per ``python`` block (``deployments.md:3``): a page's blocks run in order, in one namespace,
in the page's own temporary folder with ``MLOPS_*`` pointing at a store there; ``<!-- setup: ... -->``
comments name what the prose assumes (tests/examples/_docs_setups.py), ``<!-- skip: reason -->``
skips a block with its reason. Every ``mlops`` command line shown in a ``console`` / ``bash`` block or
in inline code must parse against the real CLI (an unknown command or option fails), and a few CLI
blocks also run. Configuration blocks parse, and those naming their file load through the SDK's own
loaders; every ``client.<capability>.<method>`` a page names exists. The rules are in
docs/contributing.md ("Examples in the docs are tests").
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.examples._docs_blocks import (
    DIRECTIVES,
    PAGES,
    ROOT,
    Block,
    blocks,
    inline_commands,
    mlops_commands,
    python_blocks,
    shell_blocks,
)
from tests.examples._docs_setups import SETUPS, Assets, Page, stop_local_endpoints

pytestmark = pytest.mark.slow

BLOCKS = python_blocks()

ELSEWHERE = {
    "README.md:1": (
        "runs end to end as printed, with its approval given from a second terminal, in "
        "tests/examples/test_first_hour.py::test_readme_first_look_runs_as_printed_to_a_deployed_scored_model"
    ),
}
"""Blocks another test already runs verbatim (that test reads the block from the page)."""

HELD_HERE: dict[str, str] = {}
"""Directives for pages another branch owns (docs/monitoring.md), kept here until the page carries them."""

SOAK = {
    "architecture.md": "starts a real endpoint server for its blue/green sketch (~10 s; deployments.md does the same)",
    "training.md": "trains the diabetes Ridge model for real in a subprocess (~10 s on 2 shared cores)",
    "training-pipelines.md": "runs the 3-step diabetes pipeline for real, then again from Python (~25 s)",
}
"""Pages whose blocks are too slow for the CI budget: they run in ``nox -s soak`` (pytest -m soak)."""


def _trigger_puts(namespace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    service = namespace["azure_data_factory"].service
    return {r.path.rsplit("/", 1)[-1]: r.json["properties"] for r in service.requests_to("PUT", r"/triggers/[^/]+$")}


def _after_factory_triggers(namespace: dict[str, Any]) -> None:
    puts = _trigger_puts(namespace)
    assert list(puts) == ["nightly", "on-landing"]
    assert puts["nightly"]["type"] == "ScheduleTrigger"
    assert puts["nightly"]["typeProperties"]["recurrence"]["schedule"] == {"hours": [2], "minutes": [0]}
    assert puts["nightly"]["pipelines"][0]["pipelineReference"]["referenceName"] == "sales"
    assert puts["nightly"]["pipelines"][0]["parameters"] == {"min_amount": 0.0}
    assert puts["on-landing"]["typeProperties"]["blobPathBeginsWith"] == "/landing/blobs/sales/"
    service = namespace["azure_data_factory"].service
    assert len(service.requests_to("DELETE", r"/triggers/nightly$")) == 1
    assert set(namespace["azure_data_factory"].triggers) == {"on-landing"}


def _after_flow_triggers(namespace: dict[str, Any]) -> None:
    puts = _trigger_puts(namespace)
    assert puts["lake-landing"]["type"] == "BlobEventsTrigger"
    assert puts["lake-landing"]["typeProperties"]["blobPathEndsWith"] == ".csv"
    assert puts["nightly"]["pipelines"][0]["pipelineReference"]["referenceName"] == "diabetes-features"
    service = namespace["azure_data_factory"].service
    assert service.requests_to("POST", r"/triggers/lake-landing/start$")


def _after_devops_run(namespace: dict[str, Any]) -> None:
    from mlops_sdk import Status

    (start,) = namespace["azure_devops"].service.requests_to("POST", r"/_apis/pipelines/42/runs$")
    assert start.json["templateParameters"] == {"model": "diabetes@3", "mlops_request_id": "release-2026-11-29"}
    assert start.json["variables"] == {"ENV": {"value": "staging"}}
    assert start.json["resources"]["repositories"]["self"]["refName"] == "refs/heads/main"
    assert namespace["run"].status is Status.SUCCEEDED


def _after_secrets(namespace: dict[str, Any]) -> None:
    shown = repr(namespace["job"])
    assert (
        "environment_variables={'STORAGE': Secret('***'), 'SERVICE_TOKEN': Secret('***'), 'DB_URL': Secret('***')"
        in shown
    )
    assert "'LOG_LEVEL': 'debug'" in shown
    assert "docs-token-1f2e3d" not in shown
    assert "hunter2" not in shown


def _after_two_approvals(namespace: dict[str, Any]) -> None:
    decision = namespace["decision"]
    assert decision.status == "approved"
    assert {vote.approver.name for vote in decision.votes} == {"alice", "bob"}


def _after_blue_green(namespace: dict[str, Any]) -> None:
    result = namespace["result"]
    assert result.succeeded
    assert not result.rolled_back
    assert [step.percent for step in result.steps] == [10, 50, 100]
    assert all(step.smoke is not None and step.smoke.passed for step in result.steps)


def _after_guardrails(namespace: dict[str, Any]) -> None:
    # No traffic reaches the canary here: the bake is extended, then the rollout fails closed.
    result = namespace["result"]
    assert result.rolled_back
    assert "fewer than the 200" in (result.reason or "")
    assert result.traffic == {**result.previous_traffic, "diabetes-v3": 0}


AFTER = {
    "data-factory.md:3": _after_factory_triggers,
    "flows.md:3": _after_flow_triggers,
    "pipelines.md:1": _after_devops_run,
    "secrets.md:1": _after_secrets,
    "approvals.md:1": _after_two_approvals,
    "deployments.md:1": _after_blue_green,
    "deployments.md:2": _after_guardrails,
}
"""What some examples must have done, beyond running: the requests the Azure examples sent to the loopback
fakes, and the outcome a page's prose or comments promise."""

KNOWN_FAILURES: dict[str, str] = {}
"""Blocks that fail today on pages this test may not fix (xfail, strict: fixing them turns this red)."""


def _held_here(block: Block) -> Block:
    if block.id not in HELD_HERE:
        return block
    key, value = HELD_HERE[block.id].split(":", 1)
    return replace(block, directives=(*block.directives, (key, value.strip())))


def _marks(block: Block) -> list[pytest.MarkDecorator]:
    marks = []
    if block.id in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[block.id], strict=True))
    if Path(block.page).name in SOAK:
        marks.append(pytest.mark.soak)
    return marks


@pytest.fixture(scope="session")
def docs_assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """The project and trained models every page copies from."""
    pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    return Assets(tmp_path_factory.mktemp("docs-assets"))


@pytest.fixture(scope="module")
def docs_pages() -> Iterator[dict[str, Page]]:
    """One :class:`Page` per docs page, created by its first block; torn down after the module."""
    pages: dict[str, Page] = {}
    yield pages
    for page in pages.values():
        stop_local_endpoints(page)
        for cleanup in reversed(page.cleanups):
            with contextlib.suppress(Exception):
                cleanup()


@pytest.mark.parametrize(
    "block",
    [pytest.param(block, marks=_marks(block)) for block in BLOCKS],
    ids=[block.id for block in BLOCKS],
)
def test_python_block_runs_as_printed(
    block: Block,
    docs_pages: dict[str, Page],
    docs_assets: Assets,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    block = _held_here(block)
    unknown = sorted({key for key, _ in block.directives} - DIRECTIVES)
    assert not unknown, f"{block.id}: unknown directive(s) {unknown}; known: {sorted(DIRECTIVES)}"
    skip = block.directive("skip")
    if skip is not None:
        assert skip.strip(), f"{block.id}: <!-- skip: --> needs a reason"
        pytest.skip(skip)
    if block.id in ELSEWHERE:
        pytest.skip(ELSEWHERE[block.id])
    page = docs_pages.get(block.page)
    if page is None:
        name = Path(block.page).name
        page = docs_pages[block.page] = Page(name, tmp_path_factory.mktemp(name.replace(".md", "")))
        page.env["MLOPS_TARGET"] = "local://.mlops"
    if page.failed is not None:
        pytest.fail(f"{page.failed} failed, and this block runs in its namespace")
    monkeypatch.chdir(page.folder)
    try:
        for name in block.setups:
            assert name in SETUPS, f"{block.id}: unknown setup {name!r}; known: {sorted(SETUPS)}"
            SETUPS[name](page, docs_assets, request)
        for key, value in page.env.items():
            monkeypatch.setenv(key, value)
        from mlops_sdk.testing import use_clock

        with use_clock(page.clock) if page.clock is not None else contextlib.nullcontext():
            file = block.directive("file")
            if file is None:
                exec(compile(block.source(), str(ROOT / block.page), "exec"), page.namespace)  # noqa: S102
            else:
                page.namespace.update(_import_as_file(page, file, block))
        if block.id in AFTER:
            AFTER[block.id](page.namespace)
    except BaseException:
        page.failed = block.id
        raise


def _import_as_file(page: Page, name: str, block: Block) -> dict[str, object]:
    """Write the block to ``name`` in the page folder and import it: what it defines lives in a real
    module there (a refresh worker process can import its functions). Returns its public names."""
    import importlib
    import sys

    assert name.endswith(".py"), f"{block.id}: file: takes a module file name, got {name!r}"
    assert "/" not in name, f"{block.id}: file: takes a file name in the page folder, got {name!r}"
    (page.folder / name).write_text(block.code, encoding="utf-8")
    folder = str(page.folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
        page.cleanups.append(lambda: sys.path.remove(folder))
    module_name = name.removesuffix(".py")
    page.cleanups.append(lambda: sys.modules.pop(module_name, None))
    module = importlib.import_module(module_name)
    return {key: value for key, value in vars(module).items() if not key.startswith("__")}


def test_the_blocks_run_elsewhere_are_read_from_the_page_there() -> None:
    from tests.examples import test_first_hour

    (readme,) = [block for block in BLOCKS if block.id == "README.md:1"]
    assert test_first_hour.first_look() == readme.code
    assert callable(test_first_hour.test_readme_first_look_runs_as_printed_to_a_deployed_scored_model)
    assert set(ELSEWHERE) == {"README.md:1"}


def test_every_python_block_is_collected() -> None:
    # A fence the parser missed would silently drop an example: count the fences independently.
    fences = sum(
        1 for page in PAGES for line in page.read_text(encoding="utf-8").splitlines() if line.strip() == "```python"
    )
    assert len(BLOCKS) == fences
    assert len({block.id for block in BLOCKS}) == len(BLOCKS)


# -- mlops command lines ---------------------------------------------------------------------------

SHELL = [block for block in shell_blocks() if mlops_commands(block)]


def check_command(args: list[str] | tuple[str, ...], *, partial: bool = False) -> None:
    """Parse ``mlops ARGS`` with the real CLI without running it; raise AssertionError naming the problem.

    ``partial``: only the command path and the option names must exist (``...`` and missing arguments
    are fine; ``run/labels/stats`` names three subcommands). Groups and commands are told apart by
    their ``commands`` (typer ships its own copy of click).
    """
    from mlops_sdk.cli.main import hoist_output

    root = command = _cli()
    words = [word for word in hoist_output(list(args)) if not (partial and word == "...")]
    path = ["mlops"]
    context = command.make_context("mlops", words, resilient_parsing=True)
    rest = _remaining(context)
    while hasattr(command, "commands"):
        if partial and not rest:
            return
        assert rest, f"`{' '.join(path)}` needs a subcommand: {', '.join(sorted(command.commands))}"
        if partial and "/" in rest[0] and command.get_command(context, rest[0]) is None:
            for alternative in rest[0].split("/"):
                check_command([*path[1:], alternative, *rest[1:]], partial=True)
            return
        sub = command.get_command(context, rest[0])
        assert sub is not None, (
            f"`{' '.join(path)}` has no command {rest[0]!r}; it has: {', '.join(sorted(command.commands))}"
        )
        path.append(rest[0])
        command = sub
        if hasattr(command, "commands"):
            context = command.make_context(rest[0], rest[1:], parent=context, resilient_parsing=True)
            rest = _remaining(context)
        else:
            rest = rest[1:]
    if partial:
        known = {name for param in [*command.params, *root.params] for name in param.opts + param.secondary_opts}
        unknown = [
            word.split("=", 1)[0] for word in rest if word.startswith("-") and word.split("=", 1)[0] not in known
        ]
        assert not unknown, f"`{' '.join([*path, *rest])}`: no option {', '.join(unknown)}"
        return
    try:
        command.make_context(path[-1], list(rest), parent=context)
    except Exception as error:
        if not hasattr(error, "format_message"):  # click's UsageError / BadParameter (typer's copy)
            raise
        raise AssertionError(f"`{' '.join([*path, *rest])}`: {error.format_message()}") from None


@functools.cache
def _cli() -> Any:
    """The click command tree of the ``mlops`` app (built once: it takes ~20 ms)."""
    import typer

    from mlops_sdk.cli.app import app

    return typer.main.get_command(app)


def _remaining(context: object) -> list[str]:
    # A group's context keeps the subcommand and its arguments (``_protected_args`` since click 8.2).
    protected = getattr(context, "_protected_args", None)
    if protected is None:
        protected = getattr(context, "protected_args", [])
    return [*protected, *getattr(context, "args", [])]


@pytest.mark.parametrize("block", SHELL, ids=[block.id for block in SHELL])
def test_mlops_command_lines_parse(block: Block) -> None:
    problems = []
    for command in mlops_commands(block):
        try:
            check_command(command.args, partial=command.partial)
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, f"{block.page} line {block.line}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_mlops_commands_named_in_the_prose_exist(page: Path) -> None:
    problems = []
    for line, command in inline_commands(page):
        try:
            check_command(command.args, partial=True)
        except AssertionError as error:
            problems.append(f"line {line}: {error}")
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


def test_the_command_check_can_fail() -> None:
    check_command(["models", "alias", "diabetes", "champion", "3"])
    check_command(["-o", "json", "models", "list"])
    with pytest.raises(AssertionError, match="no command 'nope'"):
        check_command(["models", "nope"])
    with pytest.raises(AssertionError, match="No such option"):
        check_command(["models", "list", "--colour"])
    with pytest.raises(AssertionError, match="needs a subcommand"):
        check_command(["models"])
    with pytest.raises(AssertionError, match="Missing argument"):
        check_command(["models", "show"])
    check_command(["models", "show"], partial=True)
    check_command(["monitor", "run/labels/stats"], partial=True)
    with pytest.raises(AssertionError, match="no option --colour"):
        check_command(["models", "list", "--colour", "..."], partial=True)
    with pytest.raises(AssertionError, match="no command 'restart'"):
        check_command(["endpoints", "restart"], partial=True)


RUN_LOCALLY: dict[str, tuple[tuple[str, ...], set[tuple[str, ...]]]] = {
    "models.md:bash:1": (("memory", "diabetes-model"), {("models", "register"), ("ui",)}),
    "getting-started.md:bash:5": ((), set()),
    "deployments.md:console:1": (("project", "fake-clock", "diabetes-model", "diabetes-endpoint"), set()),
}
"""Shell blocks whose commands also RUN here (in process), each exiting 0, on the target the setups named
prepare (default ``local://.mlops``); minus the commands listed (``models register train-3f2a`` names an example run id,
``ui`` starts a server that runs until stopped). The deployments block (a real endpoint server, three
baked steps on a FakeClock, a rollback) runs in ``nox -s soak``."""

RUN_LOCALLY_SOAK = {"deployments.md:console:1"}


@pytest.mark.parametrize(
    "block_id",
    [pytest.param(key, marks=[pytest.mark.soak] if key in RUN_LOCALLY_SOAK else []) for key in sorted(RUN_LOCALLY)],
)
def test_cli_blocks_run_as_shown(
    block_id: str,
    docs_assets: Assets,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlops_sdk.cli.main import run

    (block,) = [block for block in SHELL if block.id == block_id]
    setups, left_out = RUN_LOCALLY[block_id]
    page = Page(block_id.replace(":", "-"), tmp_path)
    page.env["MLOPS_TARGET"] = "local://.mlops"
    try:
        for name in setups:
            SETUPS[name](page, docs_assets, request)
        for key, value in page.env.items():
            monkeypatch.setenv(key, value)
        from mlops_sdk.testing import use_clock

        ran = []
        for command in mlops_commands(block):
            if any(tuple(command.args[: len(skip)]) == skip for skip in left_out):
                continue
            capsys.readouterr()
            with use_clock(page.clock) if page.clock is not None else contextlib.nullcontext():
                code = run(list(command.args))
            out = capsys.readouterr()
            assert code == 0, f"mlops {' '.join(command.args)} exited {code}:\n{out.out}\n{out.err}"
            ran.append(command.args)
        assert ran, f"{block_id}: no command ran"
    finally:
        stop_local_endpoints(page)
        for cleanup in reversed(page.cleanups):
            cleanup()


# -- configuration files -----------------------------------------------------------------------------

CONFIG = [block for page in PAGES for block in blocks(page) if block.lang in ("toml", "yaml", "json")]


def config_file_name(block: Block) -> str | None:
    """The file a config block shows: its ``<!-- file: NAME -->``, else a first-line ``# NAME`` comment."""
    named = block.directive("file")
    if named:
        return named
    first = block.code.splitlines()[0] if block.code.strip() else ""
    match = re.match(r"#\s*([\w.-]+\.(?:toml|yaml|yml|json))\b", first)
    return match[1] if match else None


def load_config_block(block: Block, folder: Path) -> str:
    """Parse the block; when it names a file the SDK reads, load it with the SDK's own loader.

    Returns what was checked (``"syntax"`` or the loader), raising the loader's error otherwise.
    """
    import json

    import tomllib
    import yaml

    parsed = {"toml": tomllib.loads, "yaml": yaml.safe_load, "json": json.loads}[block.lang](block.code)
    name = config_file_name(block)
    if name is None:
        return "syntax"
    path = folder / name
    path.write_text(block.code, encoding="utf-8")
    profiles = sorted(parsed.get("profiles", {})) if isinstance(parsed, dict) else []
    if name == "mlops.toml":
        from mlops_sdk.core.config import load_config

        for profile in [None, *profiles]:
            load_config({}, profile=profile, config_file=path)
        return "load_config, every profile"
    if name == "approvals.toml":
        from mlops_sdk import MLOpsClient

        settings = folder / "settings.toml"
        settings.write_text(
            'target = "memory://docs-config"\n'
            + "".join(f'[profiles.{p}]\ntarget = "memory://docs-config"\n' for p in profiles),
            encoding="utf-8",
        )
        for profile in [None, *profiles]:
            with MLOpsClient(profile=profile, config_file=settings) as client:
                client.approvals.load_policy(path)
        return "approvals.load_policy, every profile"
    if name == "checks.toml":
        from mlops_sdk.checks.config import load_checks

        load_checks(path)
        return "load_checks"
    if name == "monitor.toml":
        from mlops_sdk import Monitor

        Monitor.from_toml(path)
        return "Monitor.from_toml"
    if name == "pipelines.toml":
        from mlops_sdk import MLOpsClient

        with MLOpsClient(f"local://{folder / '.mlops'}") as client:
            declared = {pipeline.name for pipeline in client.data_factory.list_pipelines()}
        assert set(parsed["pipelines"]) <= declared, f"{name}: declared {sorted(declared)}"
        return "data_factory.list_pipelines"
    if name.endswith((".yaml", ".yml")) and parsed.get("type") == "pipeline":
        from mlops_sdk import TrainingPipeline

        TrainingPipeline.from_yaml(path)
        return "TrainingPipeline.from_yaml"
    return "syntax"


@pytest.mark.parametrize("block", CONFIG, ids=[block.id for block in CONFIG])
def test_config_blocks_load(
    block: Block,
    docs_assets: Assets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    block = _held_here(block)
    skip = block.directive("skip")
    if skip is not None:
        assert skip.strip(), f"{block.id}: <!-- skip: --> needs a reason"
        pytest.skip(skip)
    monkeypatch.chdir(tmp_path)
    page = Page(block.id.replace(":", "-"), tmp_path)
    try:
        for name in block.setups:
            SETUPS[name](page, docs_assets, request)
        load_config_block(block, tmp_path)
    finally:
        for cleanup in reversed(page.cleanups):
            cleanup()


def test_the_config_check_can_fail(tmp_path: Path) -> None:
    from mlops_sdk import ConfigurationError

    def block(code: str, lang: str = "toml", name: str | None = None) -> Block:
        directives = (("file", name),) if name else ()
        return Block(page="docs/x.md", lang=lang, index=1, line=1, code=code, directives=directives)

    checked = load_config_block(block('# mlops.toml\ntarget = "local://.mlops"\n'), tmp_path)
    assert checked == "load_config, every profile"
    with pytest.raises(ConfigurationError, match="targt"):
        load_config_block(block('# mlops.toml\n[profiles.prod]\ntargt = "local://x"\n'), tmp_path)
    with pytest.raises(ConfigurationError):
        load_config_block(block("approverz = ['a']\n", name="approvals.toml"), tmp_path)
    with pytest.raises(ValueError, match="Unclosed array"):
        load_config_block(block("a = [1\n"), tmp_path)
    assert load_config_block(block("a: 1\n", lang="yaml"), tmp_path) == "syntax"


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_client_methods_named_in_the_page_exist(page: Path) -> None:
    """Prose and tables name ``client.<capability>.<method>``: each must exist on that client class."""
    import importlib

    from mlops_sdk.clients.hub import _SUB_CLIENTS

    classes = {name: getattr(importlib.import_module(module), cls) for name, (module, cls) in _SUB_CLIENTS.items()}
    missing = sorted(
        {
            match[0]
            for match in re.finditer(r"client\.(\w+)\.(\w+)", page.read_text(encoding="utf-8"))
            if match[1] not in classes or not hasattr(classes[match[1]], match[2])
        }
    )
    assert not missing, f"{page.name} names what the clients do not have: {missing}"
