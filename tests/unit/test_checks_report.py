"""ValidationReport: outcome, digest, gate, exports; checks declared in TOML."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift, load_checks
from mlops_sdk.core.errors import ConfigurationError, ValidationFailedError
from mlops_sdk.core.redaction import register_secret
from mlops_sdk.models.approvals import ReportFacts
from mlops_sdk.models.validation import CheckResult, FeatureDrift, MetricComparison, ReportModel, ValidationReport


def sample_report(*, comparative_fails: bool = False, hard_fails: bool = False) -> ValidationReport:
    checks = [
        CheckResult(
            name="threshold:rmse",
            passed=not hard_fails,
            kind="MetricThreshold",
            observed=52.5,
            expected={"max": 60.0},
            message="rmse 52.5 is at most 60",
        ),
        CheckResult(
            name="beats_champion:rmse",
            passed=not comparative_fails,
            kind="BeatsChampion",
            comparative=True,
            observed=2.5,
            expected={"min_delta": 0.5, "relative": False},
            message="improvement 2.5",
            comparison=MetricComparison(
                metric="rmse",
                greater_is_better=False,
                candidate=52.5,
                champion=55.0,
                improvement=2.5,
                min_delta=0.5,
                ci_low=0.7,
                ci_high=4.1,
                confidence=0.95,
                resamples=500,
            ),
        ),
        CheckResult(
            name="no_drift",
            passed=True,
            kind="NoDrift",
            observed={"max_psi": 0.31, "drifted": ["bmi"]},
            expected={"max_psi": 0.2},
            message="drift in bmi",
            drift=(
                FeatureDrift(feature="age", kind="numeric", psi=0.01, ks_statistic=0.02, ks_pvalue=0.9, drifted=False),
                FeatureDrift(
                    feature="bmi",
                    kind="numeric",
                    psi=0.31,
                    ks_statistic=0.2,
                    ks_pvalue=1e-6,
                    drifted=True,
                    reason="PSI 0.31 > 0.2",
                ),
            ),
        ),
    ]
    return ValidationReport.build(
        model=ReportModel(name="diabetes", version="3"),
        champion=ReportModel(name="diabetes", version="2"),
        checks=checks,
        data_versions={"evaluation": "sha256:abc", "reference": "5f2c1e0d9a3b"},
        metrics={"rmse": 52.5, "r2": 0.48},
        champion_metrics={"rmse": 55.0, "r2": 0.45},
        backend="local",
    )


def test_outcome_passed_and_gate() -> None:
    promote = sample_report()
    assert (promote.outcome, promote.passed) == ("promote", True)
    assert promote.raise_for_gate() is promote
    held = sample_report(comparative_fails=True)
    assert held.outcome == "not_promoted"
    with pytest.raises(ValidationFailedError) as caught:
        held.raise_for_gate()
    assert caught.value.details == {
        "outcome": "not_promoted",
        "model": "diabetes@3",
        "digest": held.digest,
        "failed_checks": ["beats_champion:rmse"],
    }
    assert sample_report(comparative_fails=True, hard_fails=True).outcome == "failed"
    assert ReportFacts.of(held) == ReportFacts(passed=False, outcome="not_promoted", digest=held.digest)


def test_digest_is_content_only_and_detects_edits() -> None:
    first, second = sample_report(), sample_report()
    assert first.digest == second.digest  # time and lineage are not content
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first.digest)
    assert sample_report(hard_fails=True).digest != first.digest
    text = first.to_json()
    assert ValidationReport.from_json(text) == first
    assert json.loads(text)["passed"] is True
    edited = text.replace('"observed": 52.5', '"observed": 12.5')
    with pytest.raises(ConfigurationError, match="does not match its digest"):
        ValidationReport.from_json(edited)
    with pytest.raises(ConfigurationError, match="not a validation report"):
        ValidationReport.from_json("{}")


def test_a_report_with_an_undefined_metric_reads_back_with_its_digest() -> None:
    # r2 over a constant target is NaN; a ratio can be infinite: both stay what they were
    report = ValidationReport.build(
        model=ReportModel(name="diabetes", version="4"),
        checks=[CheckResult(name="r2", passed=False, observed=float("nan"), expected=0.5)],
        metrics={"r2": float("nan"), "ratio": float("inf"), "rmse": 52.5},
    )
    back = ValidationReport.from_json(report.to_json())
    assert back.digest == report.digest
    assert math.isnan(back.metrics["r2"])
    assert back.metrics["ratio"] == math.inf
    assert back.metrics["rmse"] == 52.5
    assert back.to_json() == report.to_json()


def test_tags_carry_outcome_and_lineage_digest() -> None:
    report = sample_report(comparative_fails=True)
    tags = report.to_tags()
    assert tags["mlops.validation.outcome"] == "not_promoted"
    assert tags["mlops.validation_digest"] == report.digest
    assert tags["mlops.validation.failed"] == "beats_champion:rmse"
    assert tags["mlops.validation.champion"] == "diabetes@2"


def test_markdown_fits_a_step_summary() -> None:
    markdown = sample_report(comparative_fails=True).to_markdown()
    assert markdown.startswith("### ⏸️ Validation of `diabetes@3`: **not promoted (not better than the champion)**")
    assert "| ✅ | threshold:rmse | 52.5 | max: 60 | rmse 52.5 is at most 60 |" in markdown
    assert "| ⏸️ | beats_champion:rmse |" in markdown
    assert "| rmse | 52.5 | 55 |" in markdown
    assert "Drifted features: `bmi` (PSI 0.31)" in markdown


def test_html_is_self_contained_with_plots() -> None:
    page = sample_report().to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3  # metrics, improvement interval, drift
    assert 'data-series="candidate diabetes@3"' in page
    assert 'class="bar bad" data-label="bmi"' in page
    assert 'class="ci"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "<script" not in page
    assert sample_report()._repr_html_().startswith('<div class="mlops-report">')


def test_secrets_and_markup_never_reach_the_exports() -> None:
    register_secret("hunter2-very-secret")
    report = ValidationReport.build(
        model=ReportModel(name="m", version="1"),
        checks=[CheckResult(name="<b>x</b>", passed=False, message="token hunter2-very-secret | <script>")],
    )
    page, markdown = report.to_html(), report.to_markdown()
    assert "hunter2-very-secret" not in page + markdown
    assert "<b>x</b>" not in page
    assert "&lt;script&gt;" in page
    assert "\\| &lt;script&gt;" not in markdown
    assert "\\| <script>" in markdown


def test_checks_file(tmp_path: Path) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(
        """
target = "progression"
champion = "prod"

[[checks]]
type = "MetricThreshold"
metric = "rmse"
max = 60

[[checks]]
type = "BeatsChampion"
metric = "r2"
min_delta = 0.01
bootstrap = 200

[[checks]]
type = "NoDrift"
reference = "data/train.parquet"

[[checks]]
type = "DataQuality"
ranges = { age = [0, 120] }
""",
        encoding="utf-8",
    )
    declared = load_checks(path)
    assert (declared.target, declared.champion) == ("progression", "prod")
    threshold, beats, drift, quality = declared.checks
    assert threshold == MetricThreshold("rmse", max=60)
    assert beats == BeatsChampion("r2", min_delta=0.01, bootstrap=200)
    assert isinstance(drift, NoDrift)
    assert drift.reference == str(tmp_path / "data" / "train.parquet")
    assert quality == DataQuality(ranges={"age": (0, 120)})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[[checks]]\ntype = 'MetricThreshold'\nmetric = 'rmse'\nmaximum = 3\n",
            r"checks\[0\]: unknown key\(s\) maximum for MetricThreshold; it takes: metric, min, max, source, name",
        ),
        ("[[checks]]\ntype = 'Nope'\n", "unknown check type 'Nope'; built-in types: MetricThreshold, BeatsChampion"),
        ("[[checks]]\ntype = 'BeatsChampion'\nmetric = 'rmsee'\n", r"unknown metric 'rmsee' \(did you mean 'rmse'\?\)"),
        ("champions = 'x'\n", r"unknown key\(s\) champions"),
        ("target = 'y'\n", r"declare at least one \[\[checks\]\] table"),
        ("[[checks]\n", "is not valid TOML"),
    ],
)
def test_checks_file_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_checks(path)


def test_html_plots_data_quality_per_rule_and_column() -> None:
    quality = CheckResult(
        name="data_quality",
        passed=False,
        kind="DataQuality",
        observed={"rows": 200, "nulls": {"bmi": 50}, "schema": {"age": "expected float, got object"}},
        expected={"min_rows": 100, "schema": {"age": "float"}, "not_null": ["age", "bmi"], "ranges": {"bp": [0, 300]}},
        message="bmi has 50 missing value(s); age expected float, got object",
    )
    base = sample_report()
    page = ValidationReport.build(
        model=base.model, champion=base.champion, checks=[*base.checks, quality], backend="local"
    ).to_html()
    assert page.count("<svg") == 3  # intervals and drift of the sample (no metrics), plus data quality
    assert "Data quality: data_quality" in page
    assert 'class="bar" data-label="age not null"' in page
    assert 'class="bar bad" data-label="bmi not null"' in page  # 75 % of rows
    assert "bmi not null: % 75" in page
    assert 'class="bar bad" data-label="age type"' in page
    assert 'class="bar" data-label="bp in range"' in page
    assert 'class="bar" data-label="rows (min 100)"' in page
