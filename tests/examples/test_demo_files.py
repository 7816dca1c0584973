"""The demo's own files appear whole, also when two runs of it write them at once (found by the soak
sweep: both runs renamed the same ``.diabetes.csv.partial``, and the second failed with FileNotFoundError)."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes"


def _write_many(target: str, times: int) -> None:
    sys.path.insert(0, str(EXAMPLE))
    from prepare_data import write_diabetes_csv

    for _ in range(times):
        write_diabetes_csv(target)


def test_two_processes_writing_the_data_at_once_both_succeed(tmp_path: Path) -> None:
    target = tmp_path / "source" / "diabetes.csv"
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    workers = [context.Process(target=_write_many, args=(str(target), 25)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(pd.read_csv(target)) == 442  # whole
    assert sorted(path.name for path in target.parent.iterdir()) == ["diabetes.csv"]  # no temporary left
