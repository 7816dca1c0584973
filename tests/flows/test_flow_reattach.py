"""A flow step's side effect is keyed by (run id, step) without the user passing a key.

Uses the real local refresh engine: a crash after the refresh started must not start a second refresh
when the flow is re-run with the same run id.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("duckdb")

from mlops_sdk import MLOpsClient
from mlops_sdk.core.context import ambient_idempotency_key, step_scope
from mlops_sdk.flows import Flow
from mlops_sdk.models.data_factory import Copy, RefreshPipeline


def test_ambient_keys_are_numbered_in_call_order() -> None:
    assert ambient_idempotency_key() is None
    with step_scope("f-r1-train"):
        assert [ambient_idempotency_key() for _ in range(3)] == ["f-r1-train", "f-r1-train-2", "f-r1-train-3"]
    assert ambient_idempotency_key() is None


def test_crash_after_the_refresh_started_reattaches_on_rerun(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.csv").write_text("x,y\n1,2\n3,4\n")
    with MLOpsClient(f"local://{tmp_path / '.mlops'}") as client:
        client.data_factory.define(
            RefreshPipeline(name="lake", activities=[Copy(name="raw", source=str(tmp_path / "lake" / "*.csv"))])
        )
        started: list[str] = []

        def refresh_then_crash(step: object) -> None:
            operation = client.data_factory.begin_refresh("lake")  # no key: the step's key is used
            started.append(operation.id)
            raise RuntimeError("the CI agent died here")

        with pytest.raises(RuntimeError), Flow("nightly", client=client, run_id="r7") as flow:
            flow.step("refresh", refresh_then_crash)

        with Flow("nightly", client=client, run_id="r7") as flow:
            run = flow.step("refresh", lambda step: client.data_factory.begin_refresh("lake"))
        assert flow.outcome == "completed"
        assert run.run_id == started[0]  # re-attached, not restarted
        assert run.idempotency_key == "nightly-r7-refresh"
        assert len(client.data_factory.list_runs("lake")) == 1
        assert run.outputs["raw"].row_count == 2
