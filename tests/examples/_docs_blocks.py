"""The code blocks of the public docs (README.md, docs/*.md) and the directives in front of them.

Rules (docs/contributing.md, "Examples in the docs are tests"):

* every fenced ``python`` block of a page is one test case, ``page.md:N`` (N counts the page's
  python blocks from 1); the blocks of a page run in order in ONE namespace and one working folder;
* HTML comments directly above a block (blank lines allowed in between) steer it:
  ``<!-- skip: reason -->`` skips it with that reason, ``<!-- setup: name, name -->`` runs the named
  setups of tests/examples/_docs_setups.py first (they provide what the prose assumes);
* ``console`` / ``bash`` blocks: every ``mlops ...`` command in them (after ``$ ``, inside ``$(...)``,
  between ``&&`` / ``;`` / ``|``) must parse against the real CLI.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<key>[a-z-]+)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")
DIRECTIVES = {"skip", "setup", "file", "transcript"}
"""Comment keys a block may carry (``transcript`` marks the getting-started console transcript)."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: str
    """File name relative to the repository (``README.md``, ``docs/deployments.md``)."""
    lang: str
    index: int
    """1-based position among the page's blocks of the same language."""
    line: int
    """Line of the opening fence (1-based)."""
    code: str
    directives: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        """``deployments.md:3`` for python blocks, ``deployments.md:console:1`` for the others."""
        name = Path(self.page).name
        return f"{name}:{self.index}" if self.lang == "python" else f"{name}:{self.lang}:{self.index}"

    def directive(self, key: str) -> str | None:
        """The value of the ``key`` directive (``""`` when it has none), or ``None`` when absent."""
        return next((value for name, value in self.directives if name == key), None)

    @property
    def setups(self) -> tuple[str, ...]:
        """Names in the block's ``setup:`` directives, in order."""
        names: list[str] = []
        for key, value in self.directives:
            if key == "setup":
                names.extend(name.strip() for name in value.split(",") if name.strip())
        return tuple(names)

    def source(self) -> str:
        """The code padded with blank lines, so tracebacks show the page's own line numbers."""
        return "\n" * self.line + self.code


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` with the directives in front of it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    counts: dict[str, int] = {}
    position = 0
    while position < len(lines):
        fence = _FENCE.match(lines[position])
        if fence is None:
            position += 1
            continue
        end = position + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        lang = fence["lang"]
        counts[lang] = counts.get(lang, 0) + 1
        found.append(
            Block(
                page=page.relative_to(ROOT).as_posix(),
                lang=lang,
                index=counts[lang],
                line=position + 1,
                code=textwrap.dedent("\n".join(lines[position + 1 : end])) + "\n",
                directives=_directives_above(lines, position),
            )
        )
        position = end + 1
    return found


def _directives_above(lines: list[str], fence: int) -> tuple[tuple[str, str], ...]:
    directives: list[tuple[str, str]] = []
    position = fence - 1
    while position >= 0 and (not lines[position].strip() or _DIRECTIVE.match(lines[position])):
        match = _DIRECTIVE.match(lines[position])
        if match is not None:
            directives.insert(0, (match["key"], match["value"] or ""))
        position -= 1
    return tuple(directives)


def python_blocks() -> list[Block]:
    """Every ``python`` block of the public docs, page by page."""
    return [block for page in PAGES for block in blocks(page) if block.lang == "python"]


def shell_blocks() -> list[Block]:
    """Every ``console`` / ``bash`` block of the public docs."""
    return [block for page in PAGES for block in blocks(page) if block.lang in ("console", "bash")]


@dataclass(frozen=True)
class CommandLine:
    """One ``mlops`` command shown in the docs, without the ``mlops`` word."""

    args: tuple[str, ...]
    partial: bool
    """Only the command and option names are meant (prose, ``list / show`` shorthands): arguments may be
    missing and ``...`` stands for the rest."""


def mlops_commands(block: Block) -> list[CommandLine]:
    """Every ``mlops`` command a shell block shows.

    ``console`` blocks: only ``$ `` lines are commands (the rest is output). Continuation lines
    (``\\``) are joined, comments dropped, ``$(...)`` substitutions looked into, and ``&&``, ``;``, ``|``
    split commands. ``mlops models list / show / alias`` (the README's shorthand for several
    subcommands) gives one command per alternative.
    """
    commands: list[CommandLine] = []
    for line in _command_lines(block):
        if not re.search(r"(^|[\s(;&|])mlops\s", line):
            continue
        line = re.sub(r"<[^<>]*>", "PLACEHOLDER", line)  # <run id>, <eval snapshot or file>
        for inner in re.findall(r"\$\(([^()]*)\)", line):
            commands.extend(_split_mlops(inner))
        commands.extend(_split_mlops(re.sub(r"\$\(([^()]*)\)", "SUBST", line)))
    return commands


def _command_lines(block: Block) -> list[str]:
    raw = block.code.splitlines()
    if block.lang == "console":
        joined: list[str] = []
        continuing = False
        for line in raw:
            if line.startswith("$ ") or continuing:
                text = line[2:] if line.startswith("$ ") else line
                if continuing:
                    joined[-1] = joined[-1].rstrip().removesuffix("\\") + " " + text.strip()
                else:
                    joined.append(text)
                continuing = text.rstrip().endswith("\\")
        raw = joined
    lines: list[str] = []
    for line in raw:
        if lines and lines[-1].rstrip().endswith("\\"):
            lines[-1] = lines[-1].rstrip()[:-1] + " " + line.strip()
        else:
            lines.append(line)
    return [line.rstrip().removesuffix("\\") for line in lines]


_INLINE = re.compile(r"`mlops( [^`]+)?`")


def inline_commands(page: Path) -> list[tuple[int, CommandLine]]:
    """``(line, command)`` for every inline code span of ``page`` that starts with ``mlops``."""
    found: list[tuple[int, CommandLine]] = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for match in _INLINE.finditer(line):
            text = re.sub(r"<[^<>]*>", "PLACEHOLDER", match[0].strip("`"))
            for command in _split_mlops(text):
                found.append((number, CommandLine(command.args, partial=True)))
    return found


def _split_mlops(line: str) -> list[CommandLine]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = list(lexer)
    commands: list[CommandLine] = []
    current: list[str] = []
    for word in [*words, ";"]:
        if word and set(word) <= set(";&|"):
            if current and current[0] == "mlops":
                commands.extend(_alternatives(current[1:]))
            current = []
        else:
            current.append(word)
    return commands


def _alternatives(args: list[str]) -> list[CommandLine]:
    if "/" not in args:
        return [CommandLine(tuple(args), partial=False)]
    group, rest = args[0], args[1:]
    alternatives: list[list[str]] = [[]]
    for word in rest:
        if word == "/":
            alternatives.append([])
        else:
            alternatives[-1].append(word)
    return [CommandLine((group, *alternative), partial=True) for alternative in alternatives if alternative]
