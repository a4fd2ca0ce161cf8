"""The sweep summary's files when several seeds share a setting (see analysis/seed_groups)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis import seed_groups
from storage.run_files import atomic_write_bytes, save_figure

JOBS_CSV = "jobs.csv"  # one row per job, as summary.csv is without seed groups
JOBS_MARKDOWN = "jobs.md"
RECORDS_JSON = "summary_records.json"
GROUPS_FIGURE = "sweep_groups.png"


def write(
    sweep_dir: Path,
    groups: Sequence[seed_groups.SeedGroup],
    metrics: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    numeric: Sequence[str],
    shown: Sequence[str],
    table_csv: str,
    table_markdown: str,
) -> list[Path]:
    """``table_csv`` (every numeric metric) and ``table_markdown`` (``shown``) per group,
    the merged non-scalar records, and the figures: against each numeric parameter, or by group.

    Args:
        groups: from :func:`analysis.seed_groups.group_by_seed`.
        metrics: each job's ``metrics.json``, in the order the groups index.
        params: the swept parameters other than the seed.
        numeric: every numeric metric of the jobs.
        shown: the metrics of the Markdown table and the figures.
        table_csv, table_markdown: file names in ``sweep_dir``.
    """
    written = []
    stats = seed_groups.group_statistics(groups, metrics, numeric)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(seed_groups.csv_rows(groups, stats, params, numeric))
    written.append(_write(sweep_dir / table_csv, buffer.getvalue()))

    shown_stats = [{m: s[m] for m in shown} for s in stats]
    lines = [
        f"Mean ± sample std over seeds [min, max]; n seeds per group. Each job: {JOBS_MARKDOWN}.",
        "",
        *seed_groups.markdown_lines(groups, shown_stats, params, shown),
    ]
    records = seed_groups.group_records(groups, metrics)
    if any(records):
        lines += ["", f"Non-scalar records merged over seeds: {RECORDS_JSON}."]
        merged = [
            {"params": g.params, "seeds": g.seeds, **r}
            for g, r in zip(groups, records, strict=True)
        ]
        written.append(_write(sweep_dir / RECORDS_JSON, json.dumps(merged, indent=2) + "\n"))
    written.append(_write(sweep_dir / table_markdown, "\n".join(lines) + "\n"))

    numeric_params = [
        p for p in params if all(seed_groups.is_number(g.params.get(p)) for g in groups)
    ]
    for key in numeric_params:
        figure = seed_groups.plot_groups(groups, metrics, shown, x_key=key)
        written.append(save_figure(figure, sweep_dir / f"sweep_{_file_safe(key)}.png"))
    if not numeric_params:
        figure = seed_groups.plot_groups(groups, metrics, shown)
        written.append(save_figure(figure, sweep_dir / GROUPS_FIGURE))
    return written


def _write(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode())
    return path


def _file_safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key).strip("_")
