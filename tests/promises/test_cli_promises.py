"""Black-box tests of the ``mlops`` command line, written from the public docs alone.

Pages: README.md ("Command line", "Configuration"), docs/errors.md ("The command line"),
docs/configuration.md, docs/getting-started.md (the transcript of ``mlops init`` ... ``mlops models
list``), docs/operations.md (``mlops resume TOKEN``), docs/training.md, docs/data-factory.md,
docs/models.md, docs/validation.md, docs/approvals.md and docs/secrets.md. The serving commands
(``endpoints``, ``deploy``, ``monitor``) and the loop's Python API have their own promise files
(test_serving_promises.py, test_loop_promises.py); here the subject is every other command and the
global behaviour: exit codes, ``-o json``, config and profiles, errors naming the command's own flags,
secrets, re-attaching from the shell.

Commands run in this process through ``mlops_sdk.cli.main.run`` (what the console script calls) with
stdout and stderr captured; one project made by ``mlops init`` is refreshed, trained and registered
once per module (a real local store: DuckDB snapshots, a training subprocess, MLflow on SQLite).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_sdk import ApprovalPolicy, MLOpsClient
from mlops_sdk.cli.app import app
from mlops_sdk.cli.main import run

CANARY = "canary-Kx8Qw2Lm7Vb4"
"""A unique fake secret: wherever the docs say a secret goes, it must never come back out."""

ERROR_TYPES = {
    "ConfigurationError",
    "ServiceRequestError",
    "ServiceResponseError",
    "AuthenticationError",
    "PermissionDeniedError",
    "ResourceNotFoundError",
    "ResourceExistsError",
    "ConflictError",
    "ThrottledError",
    "ServerError",
    "OperationError",
    "OperationFailedError",
    "OperationCanceledError",
    "OperationTimeoutError",
    "GateError",
    "ValidationFailedError",
    "ApprovalRejectedError",
    "UsageError",
}
"""errors.md: ``type`` is one of the classes of the error tree, or ``UsageError`` for exit 2."""


@contextlib.contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def mlops(*args: str) -> tuple[int, str, str]:
    """Run ``mlops ARGS`` in this process; exit code, stdout, stderr."""
    out, err, stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO("")  # no answer to a question, an empty body for `--data -`
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args))
    finally:
        sys.stdin = stdin
    return code, out.getvalue(), err.getvalue()


def one_json(out: str) -> Any:
    """errors.md: with ``-o json`` stdout holds exactly one JSON document (json.loads refuses any extra text)."""
    return json.loads(out)


def leftovers(folder: Path) -> list[Path]:
    """errors.md: "A command that fails leaves no temporary or partial file (`*.tmp`, `*.partial`)"."""
    return [path for path in folder.rglob("*") if path.suffix in (".tmp", ".partial") and path.is_file()]


def json_error(code: int, out: str, err: str) -> dict[str, Any]:
    """The ``{"error": {...}}`` document of a failed ``-o json`` command, checked against errors.md."""
    assert code in (1, 2, 3), (code, out, err)
    assert "Traceback" not in out + err
    document = one_json(out)
    assert set(document) == {"error"}, document
    error: dict[str, Any] = document["error"]
    assert error["type"] in ERROR_TYPES, error
    assert (code == 2) == (error["type"] == "UsageError"), (code, error)
    return error


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """getting-started.md's transcript: init, refresh, train on the train snapshot, register diabetes@1."""
    folder = tmp_path_factory.mktemp("cli") / "my-project"
    code, out, err = mlops("init", str(folder))
    assert code == 0, err
    with _cwd(folder):
        code, out, err = mlops("-o", "json", "data", "refresh", "diabetes-features", "--wait")
        assert code == 0, err
        refresh = one_json(out)
        train = next(a["output"] for a in refresh["activities"] if a["name"] == "train_set")
        evaluation = next(a["output"] for a in refresh["activities"] if a["name"] == "eval_set")
        code, out, err = mlops("-o", "json", "train", "submit", "job.yaml", "--input", f"data={train['uri']}", "--wait")
        assert code == 0, err
        run_id = one_json(out)["id"]
        code, out, err = mlops("models", "register", run_id, "--name", "diabetes")
        assert code == 0, err
    return {
        "folder": folder,
        "refresh": refresh,
        "train": train,
        "eval": evaluation,
        "run_id": run_id,
        "train_stderr": err,
    }


# -- errors name the command's flags ---------------------------------------------------------------


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in sorted(subcommands.items()):
        yield from _walk(sub, (*path, name))


COMMANDS = dict(_walk(typer.main.get_command(app)))
"""Every command of the app (what ``mlops --help`` and each group's ``--help`` list)."""

FILLERS = {"comment": "reviewed", "to": "dana@contoso.com", "data": '{"input_data": [[1.0]]}', "yes": ""}
"""Well-formed values for the other required parameters (names that name nothing in an empty store)."""

FREE_TEXT = {("models", "register", "description"), ("approvals", "invite", "url")}
"""Parameters where an empty value is not wrong in itself (free text)."""

PYTHON_NAMES = re.compile(r"\b\w+Client\.\w+\b|\bidempotency_key\b|\bbegin_\w+\b")
"""How a Python API error names its method and argument (``TrainingClient.get_run: run_id``)."""


def _display(param: Any) -> str:
    """How the user wrote the parameter: its longest option, or the argument's metavar."""
    if param.param_type_name == "argument":
        return str(param.metavar or param.name.upper())
    return str(max(param.opts, key=len))


def _text_params(command: Any) -> list[Any]:
    import typing

    found = []
    for param in command.params:
        annotation = param.type_descriptor.annotation
        kinds = (annotation, *typing.get_args(annotation))
        if not getattr(param, "is_flag", False) and any(kind in (str, Path) for kind in kinds):
            found.append(param)
    return found


@pytest.mark.parametrize(
    "path",
    [path for path in COMMANDS if path[-1] != "serve" and path != ("ui",)],
    ids=lambda path: " ".join(path),
)
def test_errors_name_the_flag_the_user_typed_never_a_python_argument(path: tuple[str, ...]) -> None:
    """getting-started.md / validation.md: at the command line "errors name the command's flags (`pass
    --data ...`), not the Python arguments"; errors.md: a refused value is exit 1 or 2 with one JSON
    document. Every text argument and option of every command gets a blank value and one holding a
    newline: the message names the argument or option as the user typed it (``RUN_ID``, ``--key``),
    never ``TrainingClient.get_run: run_id`` or ``idempotency_key``."""
    command = COMMANDS[path]
    for param in _text_params(command):
        if (*path, param.name) in FREE_TEXT:
            continue
        for bad in ("", "bad\nvalue"):
            argv = ["-o", "json", "-t", "local://store", *path]
            for other in command.params:
                if other is param:
                    value = bad
                elif other.required:
                    value = FILLERS.get(other.name, "no-such-thing")
                else:
                    continue
                argv += [value] if other.param_type_name == "argument" else [max(other.opts, key=len), value]
            if path == ("endpoints", "delete"):
                argv.append("--yes")
            code, out, err = mlops(*argv)
            error = json_error(code, out, err)
            message = error["message"]
            assert not PYTHON_NAMES.search(message), f"mlops {' '.join(path)} {_display(param)}={bad!r}: {message}"


# -- mlops resume ----------------------------------------------------------------------------------


def test_resume_from_a_sub_folder_of_the_project_uses_the_projects_store(project: dict[str, Any]) -> None:
    """operations.md: "resume in the same process, another process, or from the shell with `mlops resume
    TOKEN`"; configuration.md: "A relative `local://` folder resolves against the config file's folder, so
    a notebook in a sub-folder uses the project's store". A token printed by `mlops data refresh` in the
    project resumes from the project's `data/` folder too, and nothing creates a second store there."""
    folder: Path = project["folder"]
    with _cwd(folder):
        code, out, err = mlops("-o", "json", "data", "refresh", "diabetes-features")
        assert code == 0, err
        started = one_json(out)
    token = started["continuation_token"]
    with _cwd(folder / "data"):
        code, out, err = mlops("-o", "json", "resume", token)
    assert code == 0, (out, err)
    assert one_json(out)["run_id"] == started["run_id"]
    assert not (folder / "data" / ".mlops").exists()


def test_resume_refuses_a_token_of_another_target(project: dict[str, Any], tmp_path: Path) -> None:
    """operations.md: "A token is bound to its target: resuming a prod token with a dev client is refused"
    (exit 1, a ConfigurationError naming both targets)."""
    with _cwd(project["folder"]):
        code, out, err = mlops("-o", "json", "data", "refresh", "diabetes-features")
        assert code == 0, err
        token = one_json(out)["continuation_token"]
        error = json_error(*mlops("-o", "json", "-t", f"local://{tmp_path / 'other'}", "resume", token))
    assert error["type"] == "ConfigurationError"
    assert "local://.mlops" in error["message"]


@pytest.mark.parametrize(
    "token",
    [
        "not json",
        "[1, 2]",
        '{"v": 1}',
        '{"id": "x", "kind": "nope.op", "state": {}, "target": "local://.mlops", "v": 1}',
        '{"id": "x", "kind": "training.train", "state": {}, "target": "local://.mlops", "v": 99}',
        '{"id": "' + "9" * 400 + '", "kind": "data_factory.refresh", "state": {}, "target": "local://.mlops", "v": 1}',
    ],
)
def test_resume_with_a_malformed_token_is_one_error_line(project: dict[str, Any], token: str) -> None:
    """errors.md: no command prints a traceback; a bad token is an error (exit 1) as one JSON document."""
    with _cwd(project["folder"]):
        error = json_error(*mlops("-o", "json", "resume", token))
    assert error["type"] in ("ConfigurationError", "ResourceNotFoundError")


# -- the loop from the command line ----------------------------------------------------------------


def test_a_model_trained_from_the_cli_on_a_snapshot_carries_its_data_version(project: dict[str, Any]) -> None:
    """getting-started.md, section 3: "The data version is one identity everywhere: the refresh prints
    `eval_set <version>`, and the validation report of the same rows ... records the same version, as does
    the lineage of a model trained on it" -- in the transcript the model is trained with `mlops train submit
    job.yaml --input data=<train-data>`, the snapshot path the refresh printed."""
    train_version = project["train"]["digest"].split(":")[1][:12]
    with _cwd(project["folder"]):
        code, out, err = mlops("-o", "json", "models", "show", "diabetes@1")
        assert code == 0, err
        lineage = one_json(out)["lineage"]
        assert lineage["data_versions"] == {"data": train_version}
        code, out, err = mlops(
            "-o",
            "json",
            "validate",
            "diabetes@1",
            "--data",
            project["eval"]["uri"],
            "--checks",
            "checks.toml",
            "--no-record",
        )
    assert code == 0, err
    assert one_json(out)["data_versions"] == {"evaluation": project["eval"]["digest"].split(":")[1][:12]}


def test_every_loop_command_prints_one_json_document(project: dict[str, Any]) -> None:
    """README / errors.md: "With `-o json`, stdout is exactly one JSON document"; "`-o json` goes before or
    after the subcommand"; "every id printed is accepted back, as is a unique prefix of it"."""
    run_id = project["run_id"]
    refresh_id = project["refresh"]["run_id"]
    commands = [
        ["config", "show"],
        ["doctor"],
        ["data", "runs"],
        ["data", "runs", "--pipeline", "diabetes-features", "--status", "Succeeded"],
        ["data", "show", refresh_id[:8]],
        ["train", "runs", "--experiment", "diabetes"],
        ["train", "show", run_id[:10]],
        ["models", "list"],
        ["models", "list", "diabetes"],
        ["models", "show", "diabetes@1"],
        ["approvals", "list", "--status", "all"],
        ["approvals", "verify"],
    ]
    with _cwd(project["folder"]):
        for command in commands:
            for argv in (["-o", "json", *command], [*command, "-o", "json"]):
                code, out, err = mlops(*argv)
                assert code == 0, (argv, err)
                assert "Traceback" not in err
                one_json(out)


def test_training_output_goes_to_stderr_and_the_result_to_stdout(project: dict[str, Any]) -> None:
    """errors.md: "Progress, a training run's streamed output and questions go to stderr"; training.md:
    `mlops train submit ... --wait` streams the script's output, `--input` replaces an input of the spec
    (here the literal `alpha: 0.5` of job.yaml, which the script logs as a parameter); `--key` re-attaches.
    With `-o json` stdout is the run alone."""
    with _cwd(project["folder"]):
        code, out, err = mlops("train", "submit", "job.yaml", "--input", "alpha=0.25", "--wait", "--key", "stream-1")
        assert code == 0, err
        assert "saved model to" in err  # train.py's own print
        assert "saved model to" not in out
        run_id = out.splitlines()[0].split()[0]
        assert run_id.startswith("train-")
        assert "metric r2" in out
        code, out, err = mlops("-o", "json", "train", "submit", "job.yaml", "--key", "stream-1", "--wait")
    assert code == 0, err
    run = one_json(out)
    assert run["id"] == run_id
    assert run["params"]["alpha"] == "0.25"


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("dta=data/diabetes.csv", "did you mean 'data'?"),
        ("alpha=abc", "alpha"),
        ("alpha=nan", "alpha"),
        ("alpha=", "alpha"),
        ("=x", "NAME=VALUE"),
    ],
)
def test_train_submit_input_must_name_an_input_of_the_spec(project: dict[str, Any], override: str, says: str) -> None:
    """training.md / `mlops train submit --help`: `--input NAME=VALUE` replaces an input of the spec. A name
    the spec does not have (a typo) would replace nothing and train on the spec's own data, and a literal
    input takes a value of its type: both are usage errors naming `--input` (exit 2), and no run starts."""
    with _cwd(project["folder"]):
        before = one_json(mlops("-o", "json", "train", "runs", "--limit", "1000")[1])
        error = json_error(*mlops("-o", "json", "train", "submit", "job.yaml", "--input", override))
        after = one_json(mlops("-o", "json", "train", "runs", "--limit", "1000")[1])
    assert isinstance(after, list)
    assert leftovers(project["folder"]) == []
    assert error["type"] == "UsageError"
    assert error["details"]["param"] == "--input"
    assert says in error["message"]
    assert len(after) == len(before)


def test_not_found_names_are_exit_1_and_say_what_exists(project: dict[str, Any]) -> None:
    """errors.md: "A name that names nothing is an error, not an empty answer" (exit 1,
    ResourceNotFoundError); models.md: `mlops models list NAME` / `models alias NAME` list what exists."""
    with _cwd(project["folder"]):
        for argv in (
            ["models", "list", "diabetis"],
            ["models", "alias", "diabetis"],
            ["models", "show", "diabetes@99"],
            ["train", "show", "train-000000000000"],
            ["data", "show", "no-such-run"],
            ["approvals", "show", "ffffffff"],
            ["data", "refresh", "no-such-pipeline"],
        ):
            error = json_error(*mlops("-o", "json", *argv))
            assert error["type"] in ("ResourceNotFoundError", "ConfigurationError"), (argv, error)
            if argv[1] in ("list", "alias"):
                assert error["type"] == "ResourceNotFoundError"
                assert "diabetes" in error["message"]
    assert leftovers(project["folder"]) == []


# -- configuration and profiles --------------------------------------------------------------------

NUMBER_SETTINGS = (
    "retry_deadline",
    "retry_max_attempts",
    "poll_interval",
    "poll_max_interval",
    "connect_timeout",
    "read_timeout",
    "data_factory_visibility_wait",
    "endpoint_busy_wait",
    "approval_pipeline",
)


@pytest.mark.parametrize("name", NUMBER_SETTINGS)
@pytest.mark.parametrize("value", ["true", "false"])
def test_a_boolean_is_not_a_number_of_seconds_or_a_count(tmp_path: Path, name: str, value: str) -> None:
    """configuration.md: "value types: each value must be valid for its setting's type (a number for
    `retry_deadline`, ...)"; "seconds and counts are finite numbers". `retry_deadline = true` read as one
    second (or `endpoint_busy_wait = false` as zero) is a silent misreading: it is a problem naming the key,
    in the top level and in every profile, and from `MLOpsClient(...)` arguments too."""
    (tmp_path / "mlops.toml").write_text(f"{name} = {value}\n[profiles.ci]\n{name} = {value}\n")
    error = json_error(*mlops("-o", "json", "config", "show"))
    assert error["type"] == "ConfigurationError"
    problems = error["details"]["problems"]
    assert [(p["key"], p["profile"]) for p in problems] == [(name, None), (name, "ci")]
    (tmp_path / "mlops.toml").unlink()
    from mlops_sdk import ConfigurationError

    with pytest.raises(ConfigurationError, match=name):
        MLOpsClient("memory://", **{name: value == "true"})


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda key, value: f"{key} = {value}\n",
            st.sampled_from(["target", "profile", "retry_deadline", "credential", "show_progress", "proxy", "tragte"]),
            st.one_of(
                st.integers(-(2**70), 2**70).map(str),
                st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).replace("inf", "inf")),
                st.text(max_size=20).map(json.dumps),
                st.sampled_from(["true", "[1, 2]", "{a = 1}", "nan", "-inf"]),
            ),
        ),
    )
)
def test_any_config_file_is_read_or_refused_as_configuration_error(body: str) -> None:
    """configuration.md: the file is checked when it is read, problems reported as one ConfigurationError
    naming the file; errors.md: no traceback, never an `InternalError`; `-o json` one document."""
    folder = Path.cwd() / "fuzz"
    folder.mkdir(exist_ok=True)
    (folder / "mlops.toml").write_text(body, encoding="utf-8", errors="surrogatepass")
    with _cwd(folder):
        code, out, err = mlops("-o", "json", "config", "show")
    if code == 0:
        assert "settings" in one_json(out)
        return
    error = json_error(code, out, err)
    assert error["type"] == "ConfigurationError", error


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(profile=st.text(min_size=1, max_size=30).filter(lambda p: p.strip() and p not in ("azure",)))
def test_an_unknown_profile_is_refused_naming_the_defined_ones(project: dict[str, Any], profile: str) -> None:
    """configuration.md: "a profile requested by `profile=`, `mlops -p` or `MLOPS_PROFILE` must be defined
    in the file"; the error lists the defined profiles (exit 1, or a usage error for a value the command
    line itself refuses), and names `--profile`, not the Python argument (getting-started.md)."""
    with _cwd(project["folder"]):
        code, out, err = mlops("-o", "json", "-p", profile, "models", "list")
    error = json_error(code, out, err)
    message = error["message"]
    assert not PYTHON_NAMES.search(message), message
    assert "ModelClient" not in message
    if error["type"] == "ConfigurationError" and not message.startswith("--profile must not"):
        assert "defined profiles: azure" in message  # a control character is refused as such


def test_precedence_argument_over_env_over_file(project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """configuration.md / README: "arguments > `MLOPS_*` environment variables > `mlops.toml` > defaults";
    `mlops config show` prints every effective value and where it came from (secrets masked)."""
    monkeypatch.setenv("MLOPS_DATA_FACTORY", "from-env")
    monkeypatch.setenv("MLOPS_DEVOPS_PAT", CANARY)
    monkeypatch.setenv("MLOPS_PROFILE", "azure")
    with _cwd(project["folder"]):
        code, out, err = mlops("-o", "json", "config", "show")
        assert code == 0, err
        shown = one_json(out)["settings"]
        assert shown["data_factory"] == {"value": "from-env", "source": "env MLOPS_DATA_FACTORY"}
        assert shown["target"]["value"].startswith("azureml://")
        assert shown["target"]["source"].endswith("[profiles.azure]")
        assert shown["devops_pat"]["value"] == "***"
        code, out2, err2 = mlops("-o", "json", "-t", "local://elsewhere", "config", "show")
        assert code == 0
        assert one_json(out2)["settings"]["target"] == {"value": "local://elsewhere", "source": "argument"}
        code, text, err3 = mlops("config", "show")
    assert CANARY not in out + err + out2 + err2 + text + err3


# -- secrets ----------------------------------------------------------------------------------------


def test_secrets_given_on_the_command_line_never_come_back(project: dict[str, Any]) -> None:
    """secrets.md: a `securestring` parameter (here `--param`) and secret-shaped text in a reason or a vote
    comment are stored and shown as `***`: not in stdout/stderr, `-o json`, nor any file the commands write
    (the user's own files excluded)."""
    folder: Path = project["folder"]
    with (folder / "pipelines.toml").open("a", encoding="utf-8") as file:
        file.write(
            '\n[pipelines.secured]\nparameters = { token = { type = "securestring" } }\n'
            '[[pipelines.secured.activities]]\ntype = "sql"\nname = "out"\n'
            'query = "SELECT length($token) AS n"\n'
        )
    outputs: list[str] = []
    with _cwd(folder):
        for argv in (
            ["data", "refresh", "secured", "--param", f"token={CANARY}", "--wait"],
            ["-o", "json", "data", "refresh", "secured", "--param", f"token={CANARY}", "--wait"],
            ["-o", "json", "data", "runs", "--pipeline", "secured"],
        ):
            code, out, err = mlops(*argv)
            assert code == 0, err
            outputs += [out, err]
        code, out, err = mlops("-o", "json", "data", "show", one_json(outputs[-2])[0]["run_id"])
        outputs += [out, err]
        assert one_json(out)["parameters"]["token"] == "***"
        with MLOpsClient.from_config() as client:
            request = client.approvals.request(
                "diabetes@1",
                policy=ApprovalPolicy(approvers=["nobody"], require_validation_passed=False),
                reason=f"please; AccountKey={CANARY}==",
            )
        for argv in (
            ["approvals", "list"],
            ["-o", "json", "approvals", "show", request.id[:8]],
            ["approvals", "reject", request.id[:8], "-m", f"no: sig={CANARY}"],
            ["-o", "json", "approvals", "show", request.id],
        ):
            code, out, err = mlops(*argv)
            outputs += [out, err]
    for text in outputs:
        assert CANARY not in text
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "pipelines.toml":
            assert CANARY.encode() not in path.read_bytes(), path


# -- mlops init --------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["", "   ", "proj\nx", "proj\x1b[31m", "proj\tx"])
def test_init_refuses_a_blank_folder_or_one_with_control_characters(tmp_path: Path, folder: str) -> None:
    """errors.md: "no command prints a Python traceback"; a blank value or one holding a control character is
    refused (the same rule the clients apply to every name and path). `mlops init "$DIR"` with `DIR` unset
    wrote the whole project into the working folder; a newline in FOLDER made a folder whose printed
    `cd` line cannot be pasted. Nothing is written (exit 1, one JSON document naming FOLDER)."""
    error = json_error(*mlops("-o", "json", "init", folder))
    assert error["type"] == "ConfigurationError"
    assert error["message"].startswith("FOLDER")
    assert list(tmp_path.iterdir()) == []


def test_init_never_overwrites_and_force_rewrites_only_the_project(tmp_path: Path) -> None:
    """getting-started.md: "`mlops init` never overwrites a file (pass `--force` to do so)"; errors.md:
    "`mlops init` writes every file of the project or none". A folder with one of the project's files
    keeps every byte of it and gets no other file; `--force` writes the project."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "train.py").write_text("mine\n")
    error = json_error(*mlops("-o", "json", "init", str(folder)))
    assert error["type"] == "ConfigurationError"
    assert "train.py" in error["message"]
    assert sorted(p.name for p in folder.rglob("*")) == ["train.py"]
    assert (folder / "train.py").read_text() == "mine\n"
    code, out, err = mlops("-o", "json", "init", str(folder), "--force")
    assert code == 0, err
    assert "train.py" in one_json(out)["files"]
    assert (folder / "train.py").read_text() != "mine\n"
    shutil.rmtree(folder)


# -- mlops doctor ------------------------------------------------------------------------------------

AZURE_TARGET = "azureml://subscriptions/S/resourceGroups/RG/workspaces/WS"


def test_doctor_fix_for_a_missing_extra_is_the_pip_command_not_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """getting-started.md: "Each failed check of `mlops doctor` prints a `fix:` line for that failure ...
    for a missing extra, the exact command for the interpreter running `mlops`"; it exits 1. An Azure
    target without the azure extra is a fine target: its fix is the pip command, not a target rewrite."""
    import shlex
    import sys

    (tmp_path / "mlops.toml").write_text(f'target = "{AZURE_TARGET}"\n')
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if azure-identity were not installed
    code, out, err = mlops("-o", "json", "doctor")
    assert code == 1, err
    checks = {check["check"]: check for check in one_json(out)}
    assert checks["target"]["ok"]
    failed = [check for check in checks.values() if not check["ok"]]
    assert len(failed) == 1
    assert "azure.identity" in failed[0]["detail"]
    assert shlex.split(failed[0]["fix"]) == [sys.executable, "-m", "pip", "install", "mlops-sdk[azure]"]


def test_doctor_fix_for_a_bad_backend_table_names_the_table_not_the_target(tmp_path: Path) -> None:
    """configuration.md: "The backend checks its table when it is created: an unknown key or a wrong value is
    a `ConfigurationError` naming `[backends.azure]`, the key and the problem"; `mlops doctor` prints a fix
    for that problem (the target itself is fine, so its fix is not "write local://... or azureml://...")."""
    (tmp_path / "mlops.toml").write_text(f'target = "{AZURE_TARGET}"\n[backends.azure]\nread_timeout = -5\n')
    code, out, err = mlops("-o", "json", "doctor")
    assert code == 1, err
    checks = one_json(out)
    assert {k: checks[1][k] for k in ("check", "ok")} == {"check": "target", "ok": True}
    failed = [check for check in checks if not check["ok"]]
    assert len(failed) == 1
    assert "read_timeout" in failed[0]["detail"]
    assert "[backends.azure]" in failed[0]["fix"]
    assert "write local://" not in failed[0]["fix"]
    code, text, _ = mlops("doctor")
    assert "FAIL" in text
    assert "fix: correct the [backends.azure] table" in text


# -- huge numbers ------------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(version=st.integers(min_value=2**63, max_value=10**40))
def test_a_version_beyond_what_a_store_holds_is_refused_naming_the_argument(
    project: dict[str, Any], version: int
) -> None:
    """errors.md: "a number that is NaN, infinite, negative or beyond 2**63 - 1 (counts, limits, ids,
    versions, ...)" is a `ConfigurationError` naming the parameter; at the command line, the argument as
    typed. It came back as a bare `MlopsError` quoting SQLite ("Python int too large to convert to SQLite
    INTEGER") from `models show`, `validate` and `deploy`."""
    with _cwd(project["folder"]):
        for argv in (
            ["models", "show", f"diabetes@{version}"],
            ["models", "show", f"models:/diabetes/{version}"],
            ["models", "alias", "diabetes", "champion", str(version)],
            ["validate", f"diabetes@{version}", "--checks", "checks.toml", "--no-record"],
            ["deploy", f"diabetes@{version}", "--endpoint", "never-made"],
        ):
            error = json_error(*mlops("-o", "json", *argv))
            assert error["type"] == "ConfigurationError", (argv, error)
            assert "9223372036854775807" in error["message"]
            assert "SQLite" not in error["message"]


@pytest.mark.parametrize("expires", ["99999999999999999999d", "31d", "721h", "2592001s", "0m"])
def test_invite_expiry_is_bounded_whatever_the_number(project: dict[str, Any], expires: str) -> None:
    """approvals.md: a review link "expires (`--expires 30m|24h|7d`, at most 30 days)": anything longer is
    an error (exit 1, one JSON document), not `unexpected OverflowError ... please report it`."""
    with _cwd(project["folder"]), MLOpsClient.from_config() as client:
        request = client.approvals.request(
            "diabetes@1",
            policy=ApprovalPolicy(approvers=["dana@contoso.com"], require_validation_passed=False),
            idempotency_key="invite-bounds",
        )
        error = json_error(
            *mlops("-o", "json", "approvals", "invite", request.id, "--to", "dana@contoso.com", "--expires", expires)
        )
    assert error["type"] == "ConfigurationError"
    assert "30 days" in error["message"]


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(number=st.one_of(st.integers(min_value=2**63, max_value=10**30), st.integers(max_value=-(2**63) - 1)))
def test_a_refresh_int_parameter_beyond_64_bits_is_refused(project: dict[str, Any], number: int) -> None:
    """data-factory.md: `mlops data refresh sales --param min_amount=10` converts values to the declared
    types and "checks the parameters against the pipeline's declared types" before a run starts; errors.md:
    a number beyond 2**63 - 1 is refused. An `int` parameter of 10**25 ran, and reached the SQL as a
    DECIMAL(38, 0) column."""
    folder: Path = project["folder"]
    pipelines = (folder / "pipelines.toml").read_text(encoding="utf-8")
    if "[pipelines.typed]" not in pipelines:
        (folder / "pipelines.toml").write_text(
            pipelines + '\n[pipelines.typed]\nparameters = { n = { type = "int", default = 1 } }\n'
            '[[pipelines.typed.activities]]\ntype = "sql"\nname = "out"\nquery = "SELECT $n AS n"\n',
            encoding="utf-8",
        )
    with _cwd(folder):
        before = one_json(mlops("-o", "json", "data", "runs", "--pipeline", "typed")[1])
        error = json_error(*mlops("-o", "json", "data", "refresh", "typed", "--param", f"n={number}", "--wait"))
        after = one_json(mlops("-o", "json", "data", "runs", "--pipeline", "typed")[1])
    assert isinstance(after, list)
    assert error["type"] == "ConfigurationError"
    assert "'n'" in error["message"]
    assert "64-bit" in error["message"]
    assert len(after) == len(before)


def test_resuming_an_approval_wait_exits_3_when_the_gate_did_not_pass(project: dict[str, Any]) -> None:
    """README: exit codes "0 ok, 1 error, 2 usage, 3 a gate did not pass (`not_promoted`, rejected)";
    operations.md: a wait is resumed from the shell with `mlops resume TOKEN`. The wait of a request
    rejected with `mlops approvals reject` prints the decision and exits 3, so CI can branch on it as on
    `mlops validate`; an approved one exits 0; a withdrawn one is a canceled operation (exit 1)."""
    outcomes = {}
    with _cwd(project["folder"]), MLOpsClient.from_config() as client:
        mine = client.approvals.load_policy("approvals.toml")  # names whoever ran `mlops init`: us
        policy = ApprovalPolicy(
            approvers=list(mine.approvers), forbid_self_approval=False, require_validation_passed=False
        )
        for verdict in ("approve", "reject", "cancel"):
            request = client.approvals.request(
                "diabetes@1", policy=policy, reason=f"resume {verdict}", idempotency_key=f"resume-gate-{verdict}"
            )
            token = client.approvals.begin_wait(request.id).continuation_token()
            if verdict == "cancel":
                client.approvals.cancel(request.id)
            else:
                code, _, err = mlops("approvals", verdict, request.id[:8], "-m", "looked at it")
                assert code == 0, err
            code, out, err = mlops("-o", "json", "resume", token)
            document = one_json(out)
            outcomes[verdict] = (code, document["error"]["type"] if code == 1 else document["status"])
    assert outcomes == {"approve": (0, "approved"), "reject": (3, "rejected"), "cancel": (1, "OperationCanceledError")}


def test_config_show_and_doctor_mask_a_proxy_password(tmp_path: Path) -> None:
    """README: "`mlops config show` prints every effective value and where it came from (secrets masked)";
    azure-setup.md: "A password in the proxy URL is treated as a secret". `config show` printed the proxy
    URL whole, password included, from the top level and from `[backends.azure]`; a bad proxy in another
    profile is reported without its password."""
    (tmp_path / "mlops.toml").write_text(
        f'target = "{AZURE_TARGET}"\nproxy = "http://user:{CANARY}@proxy.example.com:8080"\n'
        f'[backends.azure]\nproxy = "http://user:{CANARY}x@proxy.example.com:8080"\n'
    )
    code, out, err = mlops("-o", "json", "config", "show")
    assert code == 0, err
    assert one_json(out)["settings"]["proxy"]["value"] == "http://user:***@proxy.example.com:8080"
    outputs = [out, err, *mlops("config", "show")[1:], *mlops("-o", "json", "doctor")[1:]]
    with (tmp_path / "mlops.toml").open("a") as file:
        file.write(f'[profiles.ci]\nproxy = "ftp://user:{CANARY}@proxy.example.com"\n')
    error = json_error(*mlops("-o", "json", "config", "show"))
    assert "proxy" in error["message"]
    outputs += [json.dumps(error), *mlops("config", "show")[1:]]
    for text in outputs:
        assert CANARY not in text


REASONS = st.text(  # no letters that spell a secret's shape (key=, token:, user:pw@)
    alphabet=st.sampled_from([*"abcXYZ019 []/:_*#`~<>=&!?.,;'\"()-+", "é", "😀"]), min_size=1, max_size=40
).filter(lambda text: bool(text.strip()))


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(reason=st.one_of(REASONS, st.sampled_from(["LGTM :smile:", "[red]x[/red] :+1:", "see :thumbsup: [b]"])))
def test_a_reason_is_shown_as_written(project: dict[str, Any], reason: str) -> None:
    """approvals.md: "The `reason` given to `request()` is kept with the request and shown by `mlops approvals
    list` (its own column) and `show`". What `show` prints is the text as the audit log keeps it: rich markup
    is not interpreted and `:smile:` stays `:smile:` (it was turned into an emoji)."""
    with _cwd(project["folder"]), MLOpsClient.from_config() as client:
        request = client.approvals.request(
            "diabetes@1",
            policy=ApprovalPolicy(approvers=["nobody"], require_validation_passed=False),
            reason=reason,
        )
        code, out, err = mlops("approvals", "show", request.id)
        client.approvals.cancel(request.id)
    assert code == 0, err
    assert reason.strip() in out


GROUPS = sorted({path[:-1] for path in COMMANDS if len(path) > 1})


@pytest.mark.parametrize(
    "argv", [["-o", "json", "--version"], ["--version", "-o", "json"], ["--output=json", "--version"]]
)
def test_version_in_json_mode_is_one_json_document(argv: list[str]) -> None:
    """errors.md: "With `-o json` ... stdout holds exactly one JSON document, whatever happens" (only
    `--help` prints help text); `mlops -o json --version` printed `mlops-sdk 0.1.0`."""
    code, out, err = mlops(*argv)
    assert code == 0, err
    assert one_json(out)["name"] == "mlops-sdk"
    code, text, _ = mlops("--version")
    assert text.strip() == f"mlops-sdk {one_json(out)['version']}"


@pytest.mark.parametrize("group", [(), *GROUPS], ids=lambda group: " ".join(group) or "mlops")
def test_a_group_without_a_command_is_a_usage_error(group: tuple[str, ...]) -> None:
    """errors.md: "a group without a command (`mlops endpoints` answers `Missing command.`)" is a usage error:
    exit 2, with `-o json` an error document of type `UsageError` whose `details.usage` is the usage line."""
    error = json_error(*mlops("-o", "json", *group))
    assert error["type"] == "UsageError"
    assert error["message"] == "Missing command."
    assert error["details"]["usage"].startswith(f"Usage: mlops {' '.join(group)}".rstrip())
    code, out, err = mlops(*group)
    assert code == 2
    assert out == ""
    assert "Missing command." in err


@pytest.mark.parametrize(
    "argv",
    [
        ["approvals", "serve", "--port", "99999"],
        ["approvals", "serve", "--port", "-1"],
        ["ui", "--port", "0", "--print-command"],
        ["ui", "--port", "65536", "--print-command"],
        ["train", "runs", "--limit", "0"],
        ["data", "runs", "--limit", "100001"],
    ],
)
def test_a_number_out_of_range_is_a_usage_error(tmp_path: Path, argv: list[str]) -> None:
    """errors.md: "A usage error is anything the command line itself gets wrong: ... a value of the wrong
    type or out of range" (exit 2, `details.param` the option); a TCP port is 0-65535 (`ui --port` 1-65535).
    `approvals serve --port 99999` was exit 1, a ConfigurationError from the server."""
    error = json_error(*mlops("-o", "json", *argv))
    assert error["type"] == "UsageError"
    assert error["details"]["param"] == next(a for a in argv if a.startswith("--"))


def test_a_narrow_terminal_never_hides_a_table_cell(project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """approvals.md: "Tables print ids whole, never cut"; the other columns of a table fold onto more lines
    rather than disappear. In a 60-column terminal `mlops approvals list` printed the ids next to empty
    model, status, requester and reason cells."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: a terminal, as when a person runs the command
    monkeypatch.setenv("COLUMNS", "60")
    with _cwd(project["folder"]), MLOpsClient.from_config() as client:
        request = client.approvals.request(
            "diabetes@1",
            policy=ApprovalPolicy(approvers=["nobody"], require_validation_passed=False),
            reason="narrow",
            idempotency_key="narrow-terminal",
        )
        code, out, err = mlops("approvals", "list")
    assert code == 0, err
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    row = next(line for line in plain.splitlines() if request.id in line)
    cells = [cell.strip() for cell in row.strip().strip("│").split("│")]
    assert len(cells) == 8
    assert all(cells), row  # every cell shows (the start of) its value
    assert "narrow".startswith(cells[-1])


def test_a_wait_that_times_out_exits_1_with_the_token_and_the_work_goes_on(project: dict[str, Any]) -> None:
    """operations.md: "Timeouts never stop the work. `OperationTimeoutError.details["continuation_token"]`
    holds the token; resume ... from the shell with `mlops resume TOKEN`"; errors.md: exit 1, one JSON
    document. The resumed wait returns the same run, finished."""
    with _cwd(project["folder"]):
        error = json_error(
            *mlops("-o", "json", "train", "submit", "job.yaml", "--wait", "--timeout", "0", "--key", "timeout-0")
        )
        assert error["type"] == "OperationTimeoutError"
        token = error["details"]["continuation_token"]
        code, out, err = mlops("-o", "json", "resume", token, "--timeout", "300")
    assert code == 0, err
    run = one_json(out)
    assert run["id"] == error["operation_id"]
    assert run["status"] == "Succeeded"


TOO_LONG = "x" * 300
"""A file name longer than any file system takes (255 bytes)."""


@pytest.mark.parametrize(
    "argv",
    [
        ["init", TOO_LONG],
        ["init", f"{TOO_LONG}/proj"],
        ["validate", "m@1", "--checks", "checks.toml", "--report", f"{TOO_LONG}.html"],
        ["validate", "m@1", "--checks", "checks.toml", "--report", f"reports/{TOO_LONG}/r.md"],
        ["monitor", "run", "monitor.toml", "--report", f"{TOO_LONG}.html"],
        ["-t", f"local://{TOO_LONG}", "ui", "--print-command"],
        ["-t", f"local://{TOO_LONG}", "models", "list"],
        ["--config", TOO_LONG, "config", "show"],
        ["train", "submit", TOO_LONG],
        ["validate", "m@1", "--checks", TOO_LONG],
    ],
    ids=lambda argv: " ".join(a[:12] for a in argv),
)
def test_a_name_too_long_for_the_file_system_is_an_error_naming_the_flag(tmp_path: Path, argv: list[str]) -> None:
    """errors.md: "No command prints a Python traceback: an unexpected exception is a bug"; files the command
    line reads or writes are checked first and refused with a ConfigurationError naming the flag and the path
    (`--report` must be writable). A 300-character FOLDER, `--report` or local store folder was
    `unexpected OSError: [Errno 36] File name too long ... please report it`."""
    (tmp_path / "checks.toml").write_text('[[checks]]\ntype = "MetricThreshold"\nmetric = "r2"\nmin = 0.1\n')
    (tmp_path / "monitor.toml").write_text('endpoint = "e1"\n[[signals]]\ntype = "DataDrift"\n')
    error = json_error(*mlops("-o", "json", *argv))
    assert error["type"] == "ConfigurationError", error
    assert "unexpected" not in error["message"]
    assert leftovers(tmp_path) == []


DEEP = "[" * 100_000 + "]" * 100_000
"""JSON nested deeper than any parser follows."""


def _typed_pipelines(folder: Path) -> None:
    pipelines = (folder / "pipelines.toml").read_text(encoding="utf-8")
    if "[pipelines.shaped]" not in pipelines:
        (folder / "pipelines.toml").write_text(
            pipelines + '\n[pipelines.shaped]\nparameters = { a = { type = "array", default = [] }, '
            'o = { type = "object", default = {} } }\n'
            '[[pipelines.shaped.activities]]\ntype = "sql"\nname = "out"\nquery = "SELECT 1 AS one"\n',
            encoding="utf-8",
        )


@pytest.mark.parametrize(
    "param", ["a=[NaN]", "a=[1, [2, Infinity]]", "a=[1e400]", 'o={"x": -Infinity}', 'o={"x": [NaN]}', f"a={DEEP}"]
)
def test_refresh_array_and_object_parameters_hold_finite_json(project: dict[str, Any], param: str) -> None:
    """data-factory.md: values are "converted to the declared types" and checked before a run starts; "a
    `float` value ... that is NaN or infinite is refused" (JSON has neither: Data Factory could not be sent
    it). Inside an `array` or `object` parameter they were accepted, and JSON nested too deeply was
    `unexpected RecursionError ... please report it`."""
    _typed_pipelines(project["folder"])
    with _cwd(project["folder"]):
        before = one_json(mlops("-o", "json", "data", "runs", "--pipeline", "shaped")[1])
        error = json_error(*mlops("-o", "json", "data", "refresh", "shaped", "--param", param))
        after = one_json(mlops("-o", "json", "data", "runs", "--pipeline", "shaped")[1])
    assert error["type"] == "ConfigurationError"
    assert f"'{param[0]}'" in error["message"]
    assert isinstance(after, list)
    assert len(after) == len(before)


@pytest.mark.parametrize(
    "argv", [["endpoints", "invoke", "no-such-endpoint", "--data"], ["deploy", "m@1", "--endpoint", "ep-x", "--smoke"]]
)
@pytest.mark.parametrize("from_file", [False, True])
def test_json_nested_too_deeply_is_a_usage_error(tmp_path: Path, argv: list[str], from_file: bool) -> None:
    """errors.md: "a body that is not JSON is a usage error naming `--data` / `--smoke`"; JSON nested deeper
    than the parser follows was `unexpected RecursionError ... please report it`."""
    (tmp_path / "deep.json").write_text(DEEP)
    error = json_error(*mlops("-o", "json", *argv, "@deep.json" if from_file else DEEP))
    assert error["type"] == "UsageError"
    assert error["details"]["param"] == argv[-1]


DEEP_TOML = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"


@pytest.mark.parametrize(
    ("file", "argv"),
    [
        ("mlops.toml", ["config", "show"]),
        ("mlops.toml", ["doctor"]),
        ("checks.toml", ["validate", "m@1", "--checks", "checks.toml"]),
        ("job.yaml", ["train", "submit", "job.yaml"]),
        ("pipeline.yaml", ["train", "pipeline", "submit", "pipeline.yaml"]),
        ("monitor.toml", ["monitor", "run", "monitor.toml"]),
        ("pipelines.toml", ["data", "refresh", "p"]),
    ],
)
def test_a_file_nested_too_deeply_is_refused_naming_the_file(tmp_path: Path, file: str, argv: list[str]) -> None:
    """errors.md: a file the command line reads that cannot be read as what it should hold is a
    ConfigurationError naming the file (exit 1), and "no command prints a Python traceback". TOML or YAML
    nested deeper than the parser follows was `unexpected RecursionError ... please report it`."""
    (tmp_path / file).write_text(DEEP_TOML if file.endswith(".toml") else "code: " + "[" * 50_000 + "]" * 50_000)
    code, out, err = mlops("-o", "json", *argv)
    if argv == ["doctor"]:
        assert code == 1
        failed = [check for check in one_json(out) if not check["ok"]]
        assert "nested too deeply" in failed[0]["detail"]
        return
    error = json_error(code, out, err)
    assert error["type"] == "ConfigurationError", error
    assert file in error["message"]
    assert "nested too deeply" in error["message"]


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        st.text(min_size=1, max_size=40).filter(lambda v: "\x00" not in v),
        st.sampled_from(["not json", "{", "[1]", '{"azure": 5}', "[" * 3000 + "]" * 3000, "null", "{} extra"]),
    )
)
def test_a_structured_setting_from_the_environment_is_checked_naming_the_variable(value: str) -> None:
    """configuration.md: "Values from the environment (`MLOPS_*`) ... are checked when they are used: a bad
    one names the setting and where it came from"; errors.md: never an internal error. `MLOPS_BACKENDS=not
    json` was `unexpected SettingsError ... please report it`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_BACKENDS", value)
        code, out, err = mlops("-o", "json", "config", "show")
    if code == 0:
        assert isinstance(one_json(out)["settings"]["backends"]["value"], str)
        return
    error = json_error(code, out, err)
    assert error["type"] == "ConfigurationError", error
    assert "MLOPS_BACKENDS" in error["message"]


def test_backend_settings_from_the_environment_mask_a_proxy_password() -> None:
    """secrets.md / azure-setup.md: a password in a proxy URL is a secret; `config show` masks secrets,
    wherever the value came from (here `MLOPS_BACKENDS`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_BACKENDS", json.dumps({"azure": {"proxy": f"http://u:{CANARY}@proxy:3128"}}))
        code, out, err = mlops("-o", "json", "config", "show")
    assert code == 0, err
    assert CANARY not in out + err
    assert "u:***@proxy" in one_json(out)["settings"]["backends"]["value"]
