"""``list_*`` results are pageable and list-compatible; deprecated names warn and return what the new ones do."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.core.paging import ItemPaged
from mlops_sdk.models.approvals import ApprovalPolicy
from mlops_sdk.testing import FakeClock

SCRIPT = "import pathlib, sys\n(pathlib.Path(sys.argv[1]) / 'MLmodel').write_text('flavors: {}\\n')\n"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[MLOpsClient]:
    with MLOpsClient("memory://", clock=FakeClock(), show_progress=False) as client:
        code = tmp_path / "code"
        code.mkdir()
        (code / "job.py").write_text(SCRIPT)
        job = {"code": code, "command": "python job.py ${{outputs.model}}", "outputs": {"model": "mlflow_model"}}
        for name in ("churn", "churn", "fraud"):
            run = client.training.begin_train({**job, "experiment": name}).result()
            client.models.register(run, name=name)
        yield client


def test_pages_are_fetched_as_iteration_reaches_them() -> None:
    asked: list[str | None] = []
    pages = {None: ([1, 2], "p2"), "p2": ([3], "p3"), "p3": ([], None)}

    def fetch(token: str | None) -> tuple[list[int], str | None]:
        asked.append(token)
        return pages[token]

    result = ItemPaged(fetch)
    assert asked == [None]  # the first page at the call, so errors surface there
    iterator = iter(result)
    assert [next(iterator), next(iterator)] == [1, 2]
    assert asked == [None]
    assert next(iterator) == 3
    assert asked == [None, "p2"]
    assert list(result.by_page()) == [[1, 2], [3], []]
    assert asked == [None, "p2", "p3"]
    assert list(result) == [1, 2, 3]
    assert asked == [None, "p2", "p3"]  # fetched pages are kept


def test_the_first_items_fetch_only_the_pages_they_need() -> None:
    asked: list[str | None] = []
    pages = {None: ([1, 2], "p2"), "p2": ([3, 4], "p3"), "p3": ([5], None)}

    def fetch(token: str | None) -> tuple[list[int], str | None]:
        asked.append(token)
        return pages[token]

    result = ItemPaged(fetch)
    assert (result[0], result[1], result[:2], result[0:2:1]) == (1, 2, [1, 2], [1, 2])
    assert asked == [None]  # a listing of thousands of runs shown 20 at a time reads one page
    assert result[:3] == [1, 2, 3]
    assert asked == [None, "p2"]
    assert (result[4], result[-1], result[3:], result[::-1], result[:99]) == (
        5,
        5,
        [4, 5],
        [5, 4, 3, 2, 1],
        [1, 2, 3, 4, 5],
    )
    with pytest.raises(IndexError):
        result[5]
    assert asked == [None, "p2", "p3"]


def test_a_paged_result_still_behaves_as_the_list_it_replaced() -> None:
    result = ItemPaged.of(["a", "b", "c"])
    assert result == ["a", "b", "c"]
    assert ["a", "b", "c"] == result  # noqa: SIM300  # the reflected comparison is the point
    assert (len(result), result[0], result[-1], result[:2]) == (3, "a", "c", ["a", "b"])
    assert not ItemPaged.of([])
    assert ItemPaged.of([]) == []
    with pytest.raises(TypeError):
        hash(result)


def test_every_list_method_returns_an_item_paged(hub: MLOpsClient) -> None:
    results = [
        hub.models.list_versions("churn"),
        hub.models.list_models(),
        hub.training.list_runs(),
        hub.approvals.list_requests("all"),
        hub.data_factory.list_runs(),
        hub.data_factory.list_pipelines(),
    ]
    for result in results:
        assert isinstance(result, ItemPaged)
    assert [v.version for v in results[0]] == ["2", "1"]
    assert sorted(v.name for v in results[1]) == ["churn", "fraud"]


def test_model_client_list_is_a_deprecated_alias(hub: MLOpsClient) -> None:
    with pytest.warns(DeprecationWarning, match=r"ModelClient.list\(name\) .* use ModelClient.list_versions") as seen:
        old = hub.models.list("churn")
    assert seen[0].filename == __file__  # the warning points at the caller's line
    assert old == hub.models.list_versions("churn")
    with pytest.warns(DeprecationWarning, match=r"use ModelClient.list_models\(\)"):
        everything = hub.models.list()
    assert everything == hub.models.list_models()
    assert len(everything) == 2


def test_approval_client_list_is_a_deprecated_alias(hub: MLOpsClient) -> None:
    version = hub.models.list_versions("churn")[0]
    policy = ApprovalPolicy(approvers=["alice"], require_validation_passed=False)
    hub.approvals.request(version, policy=policy)
    with pytest.warns(DeprecationWarning, match=r"use ApprovalClient.list_requests\(\)"):
        old = hub.approvals.list("all", model=version.ref)
    assert old == hub.approvals.list_requests("all", model=version.ref)
    assert len(old) == 1


def test_the_new_names_do_not_warn(hub: MLOpsClient) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        hub.models.list_versions("churn")
        hub.models.list_models()
        hub.approvals.list_requests()
