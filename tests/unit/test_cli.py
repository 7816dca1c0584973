"""The CLI shell: version, config show with sources, doctor, output formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_sdk._version import __version__
from mlops_sdk.cli.main import run


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mlops-sdk {__version__}"


def test_config_show_json_reports_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mlops.toml").write_text('target = "local://store"\ndevops_pat = "pat-very-secret-123"\n')
    monkeypatch.setenv("MLOPS_DATA_FACTORY", "df1")
    assert run(["--output", "json", "config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    settings = shown["settings"]
    assert settings["target"] == {"value": "local://store", "source": str(tmp_path / "mlops.toml")}
    assert settings["data_factory"] == {"value": "df1", "source": "env MLOPS_DATA_FACTORY"}
    assert settings["devops_pat"]["value"] == "***"
    assert settings["cloud"]["source"] == "default"


def test_config_show_text_never_prints_the_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mlops.toml").write_text('devops_pat = "pat-very-secret-123"\n')
    assert run(["config", "show"]) == 0
    output = capsys.readouterr().out
    assert "pat-very-secret-123" not in output
    assert "devops_pat" in output


def test_doctor_on_local_target_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-o", "json", "-t", "local://.mlops", "doctor"]) == 0
    checks = {check["check"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["config"]["ok"]
    assert checks["target"]["ok"]
    assert checks["local store"]["ok"]
    assert checks["local extra"]["ok"]


def test_doctor_names_the_fix_for_a_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-t", "s3://bucket", "doctor"]) == 1
    output = capsys.readouterr().out
    assert "FAIL" in output
    assert "supported schemes: azureml, local" in output
    assert "fix:" in output


def test_doctor_fails_on_a_misspelt_mlops_variable_and_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPS_DATA_FACTRY", "df1")
    assert run(["-o", "json", "-t", "local://.mlops", "doctor"]) == 1
    failed = [check for check in json.loads(capsys.readouterr().out) if not check["ok"]]
    assert failed == [
        {
            "check": "config",
            "ok": False,
            "detail": "MLOPS_DATA_FACTRY is not a setting and is ignored",
            "fix": "rename MLOPS_DATA_FACTRY to MLOPS_DATA_FACTORY",
        }
    ]


def test_config_error_exits_1_with_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mlops.toml").write_text("nope = 1\n")
    assert run(["config", "show"]) == 1
    captured = capsys.readouterr()
    assert "unknown configuration key 'nope'" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_errors_are_json_in_json_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mlops.toml").write_text("nope = 1\n")
    assert run(["-o", "json", "config", "show"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "ConfigurationError"
    assert error["details"] == {
        "problems": [
            {
                "file": str(tmp_path / "mlops.toml"),
                "profile": None,
                "key": "nope",
                "problem": "unknown key",
                "suggestion": None,
                "message": f"unknown configuration key 'nope' in {tmp_path / 'mlops.toml'}",
                "fix": f"in {tmp_path / 'mlops.toml'}, remove 'nope': it is not a setting",
            }
        ]
    }


@pytest.mark.parametrize("argv", [["no-such-command"], ["--output", "yaml", "config", "show"], ["doctor", "--bogus"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert run(argv) == 2


def test_resume_rejects_a_malformed_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["resume", "not-a-token"]) == 1
    assert "continuation token is not valid JSON" in capsys.readouterr().err


def test_config_show_and_doctor_report_every_problem_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mlops.toml").write_text(
        '[profiles.dev]\n[profiles.prod]\ntargt = "x"\nretry_deadline = "soon"\n[profiles.ci]\ncredentail = "auto"\n'
    )
    assert run(["-p", "dev", "config", "show"]) == 1
    err = capsys.readouterr().err
    assert "3 configuration problems" in err
    assert "did you mean 'target'?" in err
    assert "did you mean 'credential'?" in err
    assert run(["-o", "json", "doctor"]) == 1
    checks = json.loads(capsys.readouterr().out)
    assert [(c["check"], c["ok"]) for c in checks] == [("config", False)] * 3
    fixes = [c["fix"] for c in checks]
    assert fixes[0].endswith("[profiles.prod], rename 'targt' to 'target'")
    assert fixes[1].endswith("[profiles.prod], give 'retry_deadline' a valid value")
    assert fixes[2].endswith("[profiles.ci], rename 'credentail' to 'credential'")


@pytest.mark.parametrize(
    ("argv", "env", "detail", "fix"),
    [
        (["-t", "locl://x"], {}, "did you mean 'local'?", "check --target (-t): did you mean 'local://x'?"),
        (["-t", "local:/x"], {}, "is malformed", "check --target (-t): did you mean 'local:///x'?"),
        (
            [],
            {"MLOPS_TARGET": "locl://x"},
            "no backend for scheme 'locl'",
            "check MLOPS_TARGET: did you mean 'local://x'?",
        ),
        (["-t", "bogus"], {}, "has no scheme", "check --target (-t): write local://<folder> or azureml://"),
    ],
)
def test_doctor_fix_names_where_the_bad_target_came_from(
    argv: list[str],
    env: dict[str, str],
    detail: str,
    fix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run(["-o", "json", *argv, "doctor"]) == 1
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)}
    assert detail in checks["target"]["detail"]
    assert checks["target"]["fix"].startswith(fix)


def test_doctor_fix_for_a_target_in_the_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mlops.toml").write_text('target = "lcoal://store"\n')
    assert run(["-o", "json", "doctor"]) == 1
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["target"]["fix"] == f"check 'target' in {tmp_path / 'mlops.toml'}: did you mean 'local://store'?"


def test_doctor_names_the_exact_pip_command_for_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex
    import sys

    monkeypatch.setitem(sys.modules, "duckdb", None)  # as if duckdb were not installed
    assert run(["-o", "json", "-t", "local://.mlops", "doctor"]) == 1
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)}
    assert not checks["local extra"]["ok"]
    assert "duckdb" in checks["local extra"]["detail"]
    assert shlex.split(checks["local extra"]["fix"]) == [sys.executable, "-m", "pip", "install", "mlops-sdk[local]"]


@pytest.mark.parametrize("path", ["a" * 300, "a\x00b"], ids=["too-long-for-a-file-name", "nul"])
def test_a_data_path_that_cannot_be_a_file_is_no_such_file(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate --data <300 characters>`` was an InternalError (OSError: File name too long)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks.toml").write_text('[[checks]]\ntype = "MetricThreshold"\nmetric = "r2"\nmin = 0.1\n')
    code = run(["-t", "memory://", "-o", "json", "validate", "churn@1", "--checks", "checks.toml", "--data", path])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 1
    assert error["type"] == "ConfigurationError"
    assert error["message"].startswith("--data: no such file")
