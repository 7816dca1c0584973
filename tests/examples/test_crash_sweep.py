"""The resumable demo, SIGKILLed at randomized moments and re-run with the same run id until it completes.

After each chain of kills and re-runs, every side effect is counted in the stores: exactly one refresh
run, training run (and MLflow run), model version, approval request, and one deployment at 100 %.
The moments are seeded: the seed is printed, and ``MLOPS_CRASH_SEED=<seed>`` replays a sweep.

- ``test_demo_killed_at_seeded_moments_completes_with_every_side_effect_once`` (CI): one chain of 7
  moments on distinct anchors, one of them inside the training submission window.
- ``test_demo_killed_across_its_whole_run_completes_with_every_side_effect_once`` (``nox -s soak``):
  every ~0.25 s of each submission window (refresh, training, registration, approval request,
  rollout) plus moments spread over the rest of the run, at least 25 in all.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.examples._crash_sweep import (
    EXPECTED,
    SUBMISSION_WINDOWS,
    ChainResult,
    _launch,
    chains,
    ci_subset,
    count_side_effects,
    diagnose,
    full_sweep,
    run_chain,
    summary,
)

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

# Read at import: the suite's autouse fixture clears MLOPS_* variables before each test runs.
SEED = int(os.environ.get("MLOPS_CRASH_SEED") or random.SystemRandom().randrange(2**32))
# Replay only some chains of a soak sweep, e.g. MLOPS_CRASH_CHAINS=2,5 (default: all).
ONLY = {int(n) for n in os.environ.get("MLOPS_CRASH_CHAINS", "").split(",") if n.strip()}


def _check(workdir: Path, result: ChainResult, seed: int) -> None:
    found = count_side_effects(workdir, result.run_id)
    assert found == EXPECTED, f"seed {seed}, chain {result.run_id}, kills {[str(k.moment) for k in result.kills]}"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_killed_at_seeded_moments_completes_with_every_side_effect_once(tmp_path: Path) -> None:
    print(f"\ncrash sweep seed: {SEED} (replay with MLOPS_CRASH_SEED={SEED})")
    moments = ci_subset(random.Random(SEED))
    assert any(m.anchor == "train" and m.offset <= SUBMISSION_WINDOWS["train"] for m in moments)
    result = run_chain(tmp_path / "chain", f"ci-{SEED % 10_000}", moments)
    print(summary([result], SEED))
    assert len(result.kills) + len(result.missed) == len(moments)
    assert result.kills, f"seed {SEED}: no moment was reached"
    _check(tmp_path / "chain", result, SEED)


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_demo_killed_across_its_whole_run_completes_with_every_side_effect_once(tmp_path: Path) -> None:
    print(f"\ncrash sweep seed: {SEED} (replay with MLOPS_CRASH_SEED={SEED})")
    rng = random.Random(SEED)
    moments = full_sweep(rng)
    assert len(moments) >= 25
    results = []
    for number, chain in enumerate(chains(moments), start=1):
        if ONLY and number not in ONLY:
            continue
        workdir = tmp_path / f"chain-{number}"
        result = run_chain(workdir, f"soak-{number}", chain)
        results.append(result)
        print(f"chain {number}: {summary([result], SEED)}", flush=True)
        _check(workdir, result, SEED)
    print(summary(results, SEED))
    kills = [kill for result in results for kill in result.kills]
    if ONLY:
        return
    assert len(kills) >= 25, summary(results, SEED)
    assert any(kill.training_claimed_without_mlflow_run for kill in kills), summary(results, SEED)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("offset", [0.0, 3.0, 8.0, 20.0])
def test_two_runs_of_the_demo_at_once_complete_with_every_side_effect_once(tmp_path: Path, offset: float) -> None:
    """The same run id started twice, the second ``offset`` seconds later (a CI re-run next to a running
    job): both complete and every side effect happened once (before, the second failed on the
    champion alias with an IntegrityError)."""
    first, first_log = _launch(tmp_path, "twin", 1)
    time.sleep(offset)
    second, second_log = _launch(tmp_path, "twin", 2)
    for process, log in ((first, first_log), (second, second_log)):
        assert process.wait(timeout=900) == 0, diagnose(tmp_path, log)
    _check(tmp_path, ChainResult("twin"), SEED)
