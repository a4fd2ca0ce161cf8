"""The report as data: sections of blocks that both renderers (HTML and Markdown) write out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis.claims import Verdict


@dataclass
class Text:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    source: Path  # a PNG in a run dir or drawn for the report; copied next to the report
    caption: str
    enlarge: bool = False  # small image grids, shown big with crisp pixels


@dataclass
class Link:
    text: str
    target: Path


@dataclass
class Claim:
    verdict: Verdict


@dataclass
class Missing:
    what: str
    why: str


Block = Text | Table | Figure | Link | Claim | Missing


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self

    @property
    def claims(self) -> list[Verdict]:
        return [block.verdict for block in self.blocks if isinstance(block, Claim)]

    @property
    def missing(self) -> list[Missing]:
        return [block for block in self.blocks if isinstance(block, Missing)]
