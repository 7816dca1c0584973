"""Retraining decisions: a new snapshot or drift retrains; the same data does not; the flow ends cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

from mlops_sdk.core.errors import ConfigurationError  # noqa: E402
from mlops_sdk.flows import Flow, decide_retrain  # noqa: E402


def _frame(seed: int, shift: float = 0.0, rows: int = 2000) -> object:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(50 + shift, 10, rows), "bmi": rng.normal(25, 4, rows)})


def test_same_snapshot_is_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    _frame(1).to_parquet(path)
    decision = decide_retrain(path, reference=path)
    assert not decision.retrain
    assert decision.reasons == ()
    assert decision.drift["age"] == pytest.approx(0.0)


def test_new_snapshot_without_drift_retrains_for_the_new_data() -> None:
    decision = decide_retrain(_frame(2), reference=_frame(1))
    assert decision.retrain
    assert decision.new_snapshot
    assert decision.drifted == ()
    assert re.match(r"new data version [0-9a-f]{12}\b", decision.reasons[0])
    assert max(decision.drift.values()) < 0.05


def test_drift_is_named_per_feature() -> None:
    reference = _frame(1)
    decision = decide_retrain(_frame(2, shift=8.0), reference=reference, reference_version="v-known")
    assert decision.drifted == ("age",)
    assert decision.drift["age"] > 0.2
    assert any(reason.startswith("drift: age PSI") for reason in decision.reasons)


def test_lineage_version_alone_decides_without_reference_data() -> None:
    frame = _frame(3)
    from mlops_sdk.checks.data import frame_digest

    assert not decide_retrain(frame, reference_version=frame_digest(frame)).retrain
    assert decide_retrain(frame, reference_version="sha256:old").new_snapshot
    assert decide_retrain(frame).reasons == ("no reference data version: nothing says the current model saw this data",)
    assert decide_retrain(frame, reference_version=frame_digest(frame), force=True).reasons == ("forced",)


def test_bad_input() -> None:
    with pytest.raises(ConfigurationError, match="features height are not in both datasets"):
        decide_retrain(_frame(1), reference=_frame(2), features=["height"])
    with pytest.raises(ConfigurationError, match="max_psi must be positive"):
        decide_retrain(_frame(1), max_psi=0)


def test_up_to_date_ends_the_flow_cleanly(tmp_path: Path) -> None:
    frame = _frame(4)
    trained: list[str] = []
    with Flow("nightly", run_id="n1", journal_dir=tmp_path) as flow:
        decision = flow.step("should-retrain", lambda step: decide_retrain(frame, reference=frame))
        if not decision.retrain:
            flow.finish("up_to_date")
        trained.append("train")
    assert flow.outcome == "up_to_date"
    assert trained == []
    with pytest.raises(ConfigurationError, match="finish outcome"):
        Flow("x", dry_run=True).finish("completed")
