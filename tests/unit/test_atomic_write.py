"""``atomic_write``: a file is replaced whole or not at all, whatever happens while it is written."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_sdk.core.files import atomic_write


def test_the_new_content_replaces_the_old_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    with atomic_write(target, mode=0o600, sync_folder=True) as temporary:
        assert temporary.parent == target.parent
        assert temporary.name.startswith(".state.json.")
        temporary.write_text("one")
    with atomic_write(target) as temporary:
        temporary.write_text("two")
    assert target.read_text() == "two"
    assert [path.name for path in target.parent.iterdir()] == ["state.json"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def write_half() -> None:
        with atomic_write(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError, match="disk"):
        write_half()
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["state.json"]


def test_the_mode_is_applied(tmp_path: Path) -> None:
    target = tmp_path / "shared.json"
    with atomic_write(target, mode=0o644) as temporary:
        temporary.write_text("{}")
    assert target.stat().st_mode & 0o777 == 0o644


WRITER = """
import sys, time
from pathlib import Path
from mlops_sdk.core.files import atomic_write
target = Path(sys.argv[1])
with atomic_write(target) as temporary:
    with temporary.open("w") as stream:
        stream.write("new-" * 1000)
        stream.flush()
        print("writing", flush=True)
        time.sleep(60)
"""


def test_a_process_killed_while_writing_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "writing"  # inside the block, the new bytes half-written
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert target.read_text() == "old"
    leftovers = [path.name for path in tmp_path.iterdir() if path.name != "state.json"]
    assert all(name.startswith(".state.json.") and name.endswith(".tmp") for name in leftovers)


def test_a_report_that_fails_half_way_leaves_the_old_report_and_no_temporary_file(tmp_path: Path) -> None:
    from mlops_sdk.cli.output import write_report

    class Report:
        def __init__(self, text: str) -> None:
            self.text = text

        def to_markdown(self) -> str:
            return self.text

    target = tmp_path / "reports" / "monitor.md"
    write_report(Report("# old\n"), target)
    assert target.read_text(encoding="utf-8") == "# old\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # a report is for others to read
    with pytest.raises(UnicodeEncodeError):  # fails while writing: the text cannot be UTF-8
        write_report(Report("# new\n" + "\ud800"), target)
    assert target.read_text(encoding="utf-8") == "# old\n"
    assert sorted(path.name for path in target.parent.iterdir()) == ["monitor.md"]
