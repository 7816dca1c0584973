"""The pytest plugin's fixtures as a user's test suite sees them (run in a pytester sandbox)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import pytest
from mlops_sdk.core.errors import ServerError


def test_memory_by_default_on_the_fake_clock(mlops_client, fake_clock, mlops_faults):
    assert mlops_client.target == "memory://"
    assert mlops_client.models.backend_name == "memory"
    mlops_faults.fail_next("models.list")
    with pytest.raises(ServerError):
        mlops_client.models.list_models()
    assert mlops_client.models.list_models() == []
    fake_clock.advance(3600)
    assert mlops_client.approvals.now() == fake_clock.now()


@pytest.mark.mlops_backend("local")
def test_local_when_marked(mlops_client, tmp_path):
    assert mlops_client.models.backend_name == "local"
    assert mlops_client.target.startswith("local://")
    assert str(tmp_path) in mlops_client.target


@pytest.mark.mlops_backend("cloud")
def test_unknown_backend_is_a_usage_error(mlops_client):
    pass
"""


def test_fixtures_work_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "mlops_sdk.testing.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*mlops_backend must be one of memory, local, got 'cloud'*"])


def test_the_ini_option_switches_the_default_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlops_backend = local\n")
    pytester.makepyfile(test_user="def test_it(mlops_client):\n    assert mlops_client.models.backend_name == 'local'")
    result = pytester.runpytest_subprocess("-p", "mlops_sdk.testing.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


COUNTED_SUITE = """
import pytest
from mlops_sdk import MLOpsClient
from mlops_sdk.testing.conformance import *  # noqa: F403
from mlops_sdk.testing.conformance import ConformanceBackend


@pytest.fixture
def conformance_backend():
    return ConformanceBackend(
        name="tiny",
        make_client=lambda clock: MLOpsClient("memory://", clock=clock, show_progress=False),
        supports=frozenset({"approvals.policy", "approvals.audit"}),
        unsupported={"approvals.timeout": "decided by the service clock"},
    )
"""


def test_conformance_counts_per_backend_and_capability(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=COUNTED_SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "mlops_sdk.testing.pytest_plugin", "-p", "no:cacheprovider", "--conformance-counts", "-rs"
    )
    result.stdout.fnmatch_lines(["*conformance scenarios per backend and capability*"])
    rows = {}
    for line in result.stdout.lines:
        parts = line.split()
        if len(parts) == 5 and parts[0] == "tiny" and all(part.isdigit() for part in parts[2:]):
            rows[parts[1]] = tuple(int(part) for part in parts[2:])
    assert rows["approvals.audit"] == (1, 0, 0)
    assert rows["approvals.timeout"] == (0, 2, 0)  # declared unsupported: skipped, never run
    passed, _, failed = rows["approvals.policy"]
    assert passed > 0
    assert failed == 0
    # The per-backend total is the sum of its capability rows (every scenario counted once).
    totals = [sum(row[column] for row in rows.values()) for column in range(3)]
    result.stdout.fnmatch_lines([f"tiny: {totals[0]} passed, {totals[1]} skipped, {totals[2]} failed"])
    result.stdout.fnmatch_lines(["*tiny does not support approvals.timeout: decided by the service clock*"])
    result.stdout.fnmatch_lines(
        ["*tiny does not support approvals.delegation: not declared in ConformanceBackend.supports*"]
    )
