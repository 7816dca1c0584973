"""The newcomer transcript in docs/getting-started.md stays true: its commands run, its lines match.

Format of the ``console`` block after ``<!-- transcript -->``: ``$ command`` lines, then the output
lines expected from it. ``...`` alone skips any number of lines, ``...`` inside a line stands for any
text, ``<name>`` captures a word the first time and must equal it afterwards (commands reuse it).
Table borders and runs of spaces are ignored. ``mlops`` commands run in this process; ``cd`` changes
the working folder.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mlops_sdk.cli.main import run

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
_BOX = re.compile(r"[\u2500-\u257f]")
_PLACEHOLDER = re.compile(r"<([a-z][a-z0-9-]*)>")


def transcript() -> list[tuple[str, list[str]]]:
    """``(command, expected lines)`` pairs of the guide's transcript block."""
    text = GUIDE.read_text(encoding="utf-8").split("<!-- transcript -->", 1)[1]
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def normalize(line: str) -> str:
    """Without table borders, surrounding blanks and repeated spaces."""
    return " ".join(_BOX.sub(" ", line).split())


def _pattern(expected: str, known: dict[str, str]) -> re.Pattern[str]:
    parts = []
    position = 0
    text = normalize(expected)
    for match in _PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[position : match.start()]).replace(r"\.\.\.", ".*"))
        name = match[1]
        parts.append(re.escape(known[name]) if name in known else f"(?P<{name.replace('-', '_')}>\\S+)")
        position = match.end()
    parts.append(re.escape(text[position:]).replace(r"\.\.\.", ".*"))
    return re.compile("".join(parts))


def match_output(expected: list[str], output: list[str], known: dict[str, str]) -> None:
    """Match ``expected`` against ``output`` in order; record captured placeholders in ``known``."""
    lines = [normalize(line) for line in output if normalize(line)]
    position, skipping = 0, False
    for wanted in expected:
        if normalize(wanted) == "...":
            skipping = True
            continue
        pattern = _pattern(wanted, known)
        candidates = range(position, len(lines)) if skipping else range(position, min(position + 1, len(lines)))
        found = next((index for index in candidates if pattern.fullmatch(lines[index])), None)
        assert found is not None, f"no line matching {wanted!r} at line {position} of:\n" + "\n".join(lines)
        for name, value in pattern.fullmatch(lines[found]).groupdict().items():  # type: ignore[union-attr]
            known[name.replace("_", "-")] = value
        position, skipping = found + 1, False
    assert skipping or position == len(lines), "unexpected output after the transcript's lines:\n" + "\n".join(
        lines[position:]
    )


def _substitute(command: str, known: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: known[match[1]], command)


@pytest.mark.slow
def test_getting_started_transcript_is_what_the_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    known: dict[str, str] = {}
    steps = transcript()
    assert [command.split()[:2] for command in (c for c, _ in steps)][:3] == [
        ["mlops", "init"],
        ["cd", "my-project"],
        ["mlops", "data"],
    ]
    try:
        for command, expected in steps:
            words = shlex.split(_substitute(command, known))
            if words[0] == "cd":
                monkeypatch.chdir(Path.cwd() / words[1])
                continue
            assert words[0] == "mlops", f"the transcript runs mlops and cd only: {command}"
            capsys.readouterr()
            code = run(words[1:])
            out = capsys.readouterr()
            assert code == 0, f"{command} exited {code}:\n{out.out}\n{out.err}"
            match_output(expected, out.out.splitlines(), known)
    finally:
        if (Path.cwd() / ".mlops" / "endpoints").is_dir():
            run(["endpoints", "stop", "diabetes"])


def test_the_matcher_can_fail() -> None:
    known: dict[str, str] = {}
    match_output(["a <x> c", "...", "end <x>"], ["a b c", "noise", "end b"], known)
    assert known == {"x": "b"}
    with pytest.raises(AssertionError, match="no line matching"):
        match_output(["a <x> c", "end <x>"], ["a b c", "end z"], {})
    with pytest.raises(AssertionError, match="unexpected output"):
        match_output(["a"], ["a", "b"], {})
