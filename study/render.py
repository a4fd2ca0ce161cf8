"""Writes the report's sections as ``index.html`` (self-contained: figures beside it, no network)
and ``report.md`` with the same content."""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from analysis.claims import NOT_REPRODUCED, PARTLY, REPRODUCED
from storage.run_files import atomic_write_bytes
from study.document import Claim, Figure, Link, Missing, Section, Table, Text

HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
FIGURES_DIR = "figures"

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; display: block;
        overflow-x: auto; }
caption { text-align: left; font-size: 0.85rem; color: #555; padding-bottom: 0.2rem; }
td { overflow-wrap: anywhere; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figure img.enlarged { width: 100%; max-width: 36rem; image-rendering: pixelated; }
figcaption { font-size: 0.85rem; color: #555; }
.claim { border-left: 0.4rem solid #999; padding: 0.3rem 0.8rem; margin: 0.8rem 0;
         background: #fafafa; }
.claim.reproduced { border-color: #2a8a2a; }
.claim.partly { border-color: #c98a00; }
.claim.not-reproduced { border-color: #c0392b; }
.missing { border: 1px dashed #c0392b; color: #8a1f14; padding: 0.3rem 0.8rem; margin: 0.8rem 0; }
nav ol { columns: 2; }
"""
_BADGE = {REPRODUCED: "✔", PARTLY: "◐", NOT_REPRODUCED: "✘"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _copy_figures(sections: Sequence[Section], report_dir: Path) -> dict[int, str]:
    """Copies every figure into ``<report>/figures``; id(block) -> its path from the report."""
    target_dir = report_dir / FIGURES_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    names = {}
    for number, section in enumerate(sections, start=1):
        figures = [block for block in section.blocks if isinstance(block, Figure)]
        for index, figure in enumerate(figures, start=1):
            name = f"{number:02d}_{_slug(section.title)}_{index}{figure.source.suffix}"
            if figure.source.resolve() != (target_dir / name).resolve():
                shutil.copyfile(figure.source, target_dir / name)
            names[id(figure)] = f"{FIGURES_DIR}/{name}"
    return names


def _relative(target: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(target, report_dir)).as_posix()


def _html_block(block, figures: dict[int, str], report_dir: Path) -> str:
    e = html.escape
    if isinstance(block, Text):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{e(cell)}</th>" for cell in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
        )
        caption = f"<caption>{e(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Figure):
        css = ' class="enlarged"' if block.enlarge else ""
        return (
            f'<figure><img src="{e(figures[id(block)])}" alt="{e(block.caption)}"{css}>'
            f"<figcaption>{e(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Link):
        return f'<p><a href="{e(_relative(block.target, report_dir))}">{e(block.text)}</a></p>'
    if isinstance(block, Claim):
        v = block.verdict
        return (
            f'<div class="claim {_slug(v.outcome)}"><p><strong>{_BADGE[v.outcome]} '
            f"{e(v.outcome.capitalize())}:</strong> {e(v.claim)}</p>"
            f"<p>Rule: {e(v.rule)}.</p><p>Numbers: {e(v.evidence)}.</p></div>"
        )
    if isinstance(block, Missing):
        return (
            f'<div class="missing"><strong>missing:</strong> {e(block.what)}: {e(block.why)}</div>'
        )
    raise TypeError(f"no HTML for {type(block).__name__}")


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_block(block, figures: dict[int, str], report_dir: Path) -> str:
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Table):
        lines = [f"*{block.caption}*", ""] if block.caption else []
        for row in [block.header, ["---"] * len(block.header), *block.rows]:
            lines.append("| " + " | ".join(_markdown_cell(cell) for cell in row) + " |")
        return "\n".join(lines)
    if isinstance(block, Figure):
        return f"![{block.caption}]({figures[id(block)]})\n\n*{block.caption}*"
    if isinstance(block, Link):
        return f"[{block.text}]({_relative(block.target, report_dir)})"
    if isinstance(block, Claim):
        v = block.verdict
        return (
            f"> **{_BADGE[v.outcome]} {v.outcome.capitalize()}:** {v.claim}  \n"
            f"> Rule: {v.rule}.  \n> Numbers: {v.evidence}."
        )
    if isinstance(block, Missing):
        return f"> **missing:** {block.what}: {block.why}"
    raise TypeError(f"no Markdown for {type(block).__name__}")


def write_report(title: str, sections: Sequence[Section], report_dir: Path) -> Path:
    """Writes ``index.html`` and ``report.md`` into ``report_dir``; returns the HTML's path."""
    figures = _copy_figures(sections, report_dir)
    claims = [(s, c) for s in sections for c in s.claims]
    summary = Table(
        ["claim", "verdict", "section"], [[c.claim, c.outcome, s.title] for s, c in claims]
    )

    nav = "".join(
        f'<li><a href="#{_slug(s.title)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = [f"<h1>{html.escape(title)}</h1>", f"<nav><ol>{nav}</ol></nav>", "<h2>Claims</h2>"]
    body.append(_html_block(summary, figures, report_dir))
    markdown = [f"# {title}", "", "## Claims", "", _markdown_block(summary, figures, report_dir)]
    for number, section in enumerate(sections, start=1):
        heading = f"{number}. {section.title}"
        body.append(f'<h2 id="{_slug(section.title)}">{html.escape(heading)}</h2>')
        body += [_html_block(block, figures, report_dir) for block in section.blocks]
        markdown += ["", f"## {heading}", ""]
        markdown += [_markdown_block(b, figures, report_dir) + "\n" for b in section.blocks]

    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
    atomic_write_bytes(report_dir / MARKDOWN_FILE, ("\n".join(markdown).rstrip() + "\n").encode())
    atomic_write_bytes(report_dir / HTML_FILE, page.encode())
    return report_dir / HTML_FILE
