"""The shell commands of the docs' fenced code blocks, and a fresh working copy to run them in.

A command is one line of a ``bash``/``sh``/``shell`` block (backslash continuations joined);
lines that are only a comment are not commands. ``<name>`` placeholders are filled from what
the commands before them wrote (:func:`fill_placeholders`).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
PLACEHOLDER = re.compile(r"<([a-z][a-z _]*)>")
# A word (or the value of a key=value word) that holds a placeholder.
PLACEHOLDER_WORD = re.compile(r"(?<![^\s=])[^\s=]*<[a-z][a-z _]*>[^\s]*")
REPORT_LINE = re.compile(r"^Report: (.+)/report/index\.html$", re.M)


@dataclass(frozen=True)
class Command:
    doc: str  # the doc's path relative to the project root
    line: int  # the line the command starts on
    text: str  # as written, continuations joined, without its trailing comment

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def strip_comment(line: str) -> str:
    """``line`` without a ``#`` comment that stands outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def shell_commands(doc: Path, root: Path) -> list[Command]:
    """Every command of ``doc``'s shell code blocks, in order."""
    text = doc.read_text(encoding="utf-8")
    commands = []
    for block in FENCE.finditer(text):
        if block.group(1) not in SHELL_LANGUAGES:
            continue
        first_line = text.count("\n", 0, block.start(2)) + 1
        pending, start = "", 0
        for offset, raw in enumerate(block.group(2).splitlines()):
            line = strip_comment(raw) if not pending else raw.rstrip()
            if not pending:
                start = first_line + offset
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            joined = strip_comment((pending + line.strip()).strip())
            pending = ""
            if joined:
                commands.append(Command(str(doc.relative_to(root)), start, joined))
    return commands


def newest(pattern: str, cwd: Path) -> str | None:
    """The most recently changed path matching ``pattern`` under ``cwd``, relative to it."""
    found = glob.glob(pattern, root_dir=cwd)
    return max(found, key=lambda p: (cwd / p).stat().st_mtime) if found else None


def fill_placeholders(command: str, cwd: Path, outputs: list[str]) -> str:
    """``command`` with each ``<name>`` replaced by what the commands before it made.

    ``<ckpt>`` is the newest ``last.ckpt`` of a run; ``<dir>`` is the study dir of the last
    ``Report: <dir>/report/index.html`` printed; a placeholder inside a path (``logs/x/<run>``)
    is the newest existing path that matches it with ``*`` in its place.
    """
    named = {
        "ckpt": lambda: newest("logs/*/runs/*/checkpoints/last.ckpt", cwd),
        "dir": lambda: next(
            (m[-1] for out in reversed(outputs) if (m := REPORT_LINE.findall(out))), None
        ),
    }

    def fill(match: re.Match) -> str:
        value = match.group(0)
        name = PLACEHOLDER.fullmatch(value)
        if name and name.group(1) in named:
            filled = named[name.group(1)]()
        else:
            filled = newest(PLACEHOLDER.sub("*", value), cwd)
        if filled is None:
            raise LookupError(f"nothing made before it fills {value!r} in: {command}")
        return filled

    return PLACEHOLDER_WORD.sub(fill, command)


def working_copy(root: Path, dest: Path) -> Path:
    """The project's files as git sees them (tracked, and untracked unless ignored) in
    ``dest``, modification times kept, with the project's ``.venv`` linked in."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(root / ".venv")
    # make's set-up target is done: the copy's pyproject.toml is not newer than the venv.
    installed = (root / ".venv" / ".installed").stat().st_mtime
    os.utime(dest / "pyproject.toml", (installed - 1, installed - 1))
    return dest
