"""The capture writer process: the endpoint server hands each flush's requests to it, and nothing is
lost when it dies (the server writes the files itself), when the server is killed, or on a stop."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from mlops_sdk.backends.local._processes import process_alive
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.models.deployments import Capture
from tests.local._deploy import COLUMNS, ROWS, Models, formula_a, save_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@contextlib.contextmanager
def _capturing(folder: Path, name: str, models: Models, capture: Capture) -> Iterator[EndpointServer]:
    """A started endpoint server whose only deployment ``blue`` (all the traffic) captures; stopped after."""
    endpoint = EndpointServer(folder / "endpoints" / name, name)
    endpoint.create()
    endpoint.start()
    try:
        metadata = {"capture": capture.model_dump(mode="json")}
        endpoint.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": metadata})
        endpoint.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
def server(tmp_path: Path, models: Models) -> Iterator[EndpointServer]:
    with _capturing(tmp_path, "ep-writer", models, Capture(flush_interval=300)) as endpoint:  # written on flush
        yield endpoint


def _score(server: EndpointServer, count: int) -> list[str]:
    info = server.info()
    assert info is not None
    headers = {"Authorization": f"Bearer {server.keys()['primary_key']}"}
    ids = []
    with httpx.Client(base_url=info.url, timeout=30, headers=headers) as http:
        for number in range(count):
            row = ROWS[number % len(ROWS)]
            answer = http.post("/score", json={"input_data": {"columns": COLUMNS, "data": [row]}})
            assert answer.status_code == 200
            assert answer.json() == [pytest.approx(formula_a(row))]
            ids.append(answer.headers["x-mlops-correlation-id"])
    return ids


def _files(server: EndpointServer) -> dict[Path, list[dict[str, object]]]:
    return {path: pq.read_table(path).to_pylist() for path in sorted((server.folder / "capture").rglob("*.parquet"))}


def _writer_of(path: Path) -> int:
    """The pid in ``part-<epoch ms>-<pid>-<seq>.parquet``: the process that wrote the file."""
    return int(path.stem.split("-")[2])


def _wait_gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while process_alive(pid, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not process_alive(pid, None)


def _writer_ready(server: EndpointServer, seconds: float = 60.0) -> int:
    """The writer process's pid once it takes batches (while it starts, the server writes them itself)."""
    deadline = time.monotonic() + seconds
    while (pid := server.admin("GET", "capture")["writer_pid"]) is None:
        assert time.monotonic() < deadline, "the capture writer process did not start"
        time.sleep(0.05)
    return int(pid)


def _warm(server: EndpointServer) -> tuple[list[str], int, set[Path]]:
    """Score one request (the first captured request starts the writer process), write it (the server
    does: the process is still starting), wait for the process; the id, its pid and the files so far."""
    first = _score(server, 1)
    assert server.admin("POST", "capture/flush")["written"] == 1
    return first, _writer_ready(server), set(_files(server))


def test_capture_files_are_written_by_a_separate_process(server: EndpointServer) -> None:
    _, writer, before = _warm(server)
    info = server.info()
    assert info is not None
    assert writer != info.pid
    assert [_writer_of(path) for path in before] == [info.pid]  # written while the process started
    ids = _score(server, 12)
    stats = server.admin("POST", "capture/flush")
    assert stats["writer_pid"] == writer
    assert (stats["captured"], stats["written"], stats["failed"], stats["files"]) == (13, 13, 0, 2)
    files = {path: rows for path, rows in _files(server).items() if path not in before}
    assert [_writer_of(path) for path in files] == [writer]
    rows = next(iter(files.values()))
    assert [row["_id"] for row in rows] == ids
    assert [row["_prediction"] for row in rows] == [pytest.approx(formula_a(ROWS[i % len(ROWS)])) for i in range(12)]
    assert [[row[name] for name in COLUMNS] for row in rows] == [ROWS[i % len(ROWS)] for i in range(12)]
    assert server.stop()
    assert _wait_gone(writer)  # a graceful stop ends the writer process too


def test_a_killed_writer_process_loses_no_row(server: EndpointServer) -> None:
    _, writer, before = _warm(server)
    first = _score(server, 5)
    assert server.admin("POST", "capture/flush")["written"] == 6
    os.kill(writer, signal.SIGKILL)
    assert _wait_gone(writer)
    second = _score(server, 7)
    stats = server.admin("POST", "capture/flush")  # the server writes this batch itself
    info = server.info()
    assert info is not None
    assert (stats["captured"], stats["written"], stats["failed"], stats["files"]) == (13, 13, 0, 3)
    assert stats["writer_pid"] is None  # not restarted at once (RESTART_AFTER seconds later)
    files = {path: rows for path, rows in _files(server).items() if path not in before}
    assert [_writer_of(path) for path in files] == [writer, info.pid]
    assert [[row["_id"] for row in rows] for rows in files.values()] == [first, second]
    assert "capture writer process failed" in server.log_tail(50)


def test_a_killed_server_leaves_no_writer_process_and_no_partial_file(server: EndpointServer) -> None:
    ids, writer, _ = _warm(server)
    ids += _score(server, 8)
    server.admin("POST", "capture/flush")
    info = server.info()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    assert _wait_gone(writer)  # its input ended with the server: it exits
    files = _files(server)  # every file reads whole
    assert sorted(row["_id"] for rows in files.values() for row in rows) == sorted(ids)
    assert not [path for path in (server.folder / "capture").rglob("*") if path.name.startswith(".")]


def test_the_writer_thread_writes_when_the_process_is_switched_off(
    tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_CAPTURE_WRITER", "thread")
    with _capturing(tmp_path, "ep-thread", models, Capture()) as endpoint:
        ids = _score(endpoint, 4)
        stats = endpoint.admin("POST", "capture/flush")
        info = endpoint.info()
        assert info is not None
        assert stats["writer_pid"] is None
        assert stats["written"] == 4
        files = _files(endpoint)
        assert {_writer_of(path) for path in files} == {info.pid}
        assert [row["_id"] for rows in files.values() for row in rows] == ids


def test_a_hung_writer_process_is_replaced_by_the_server_after_the_timeout(
    tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_CAPTURE_WRITER_TIMEOUT", "2")
    writer = 0
    with _capturing(tmp_path, "ep-hung", models, Capture(flush_interval=300)) as endpoint:
        try:
            first, writer, _ = _warm(endpoint)
            os.kill(writer, signal.SIGSTOP)  # alive, never answering (a hung disk, a stopped process)
            ids = _score(endpoint, 5)  # scoring does not wait for capture
            stats = endpoint.admin("POST", "capture/flush")  # the batch waits 2 s, then the server writes it
            assert (stats["captured"], stats["written"], stats["failed"]) == (6, 6, 0)
            assert stats["writer_pid"] is None
            assert _wait_gone(writer)  # killed, not left stopped
            assert sorted(row["_id"] for rows in _files(endpoint).values() for row in rows) == sorted(first + ids)
            assert "capture writer process failed (no answer within 2s)" in endpoint.log_tail(50)
        finally:
            if writer:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(writer, signal.SIGCONT)
