"""Jobs of a sweep that differ only by ``seed``, summarised per group: statistics, merged records,
tables and a figure with every seed's point and the mean with an error bar.

Works on plain ``{parameter: value}`` and ``{metric: value}`` mappings (no torch), so the sweep
summary and any notebook can use it on what the jobs' ``metrics.json`` files hold.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SEED_KEY = "seed"
STATISTICS = ("mean", "std", "n", "min", "max")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class SeedGroup:
    """Jobs with the same parameters apart from the seed.

    Args:
        params: the group's parameters, without the seed.
        members: indices of the group's jobs in the list they were grouped from.
        seeds: each member's seed, in member order.
    """

    params: dict[str, Any]
    members: list[int] = field(default_factory=list)
    seeds: list[Any] = field(default_factory=list)

    def label(self) -> str:
        return ", ".join(f"{k.split('.')[-1]}={_text(v)}" for k, v in self.params.items())


def group_by_seed(
    params: Sequence[Mapping[str, Any]], seed_key: str = SEED_KEY
) -> list[SeedGroup] | None:
    """Groups of the jobs whose ``params`` differ only by ``seed_key``, in first-seen order.

    None when no two jobs share a group (one seed per setting, or no seed swept): the sweep
    is then summarised job by job, as before.
    """
    groups: dict[str, SeedGroup] = {}
    for index, job in enumerate(params):
        rest = {k: v for k, v in job.items() if k != seed_key}
        group = groups.setdefault(repr(sorted(rest.items())), SeedGroup(rest))
        group.members.append(index)
        group.seeds.append(job.get(seed_key))
    found = list(groups.values())
    if all(len(g.members) == 1 for g in found):
        return None
    return found


def describe(values: Sequence[Any]) -> dict[str, float | int | None]:
    """mean, sample std (n - 1 in the denominator), n, min and max of the finite numbers."""
    numbers = [float(v) for v in values if is_number(v)]
    if not numbers:
        return {"mean": None, "std": None, "n": 0, "min": None, "max": None}
    return {
        "mean": statistics.fmean(numbers),
        "std": statistics.stdev(numbers) if len(numbers) > 1 else None,
        "n": len(numbers),
        "min": min(numbers),
        "max": max(numbers),
    }


def merge_records(values: Sequence[Any]) -> Any:
    """One value for a non-scalar record of several seeds.

    - lists of ``{label fields..., number fields...}`` (e.g. ``test/top_confused``'s
      ``{"true", "predicted", "rate"}``): one entry per distinct label, its numbers averaged
      over the seeds that list it, with ``seeds`` (how many do), largest first;
    - lists of numbers of one length (e.g. a value per latent dim): the mean per position;
    - anything else: the value when every seed has the same, else the list of values.
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, list) and all(isinstance(e, Mapping) for e in v) for v in present):
        return _merge_labelled(present)
    lengths = {len(v) for v in present if isinstance(v, list)}
    if len(lengths) == 1 and all(
        isinstance(v, list) and all(is_number(e) for e in v) for v in present
    ):
        return [statistics.fmean(column) for column in zip(*present, strict=True)]
    if all(v == present[0] for v in present):
        return present[0]
    return list(present)


def _merge_labelled(lists: Sequence[list[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    merged: dict[tuple, dict[str, list[float]]] = {}
    labels: dict[tuple, dict[str, Any]] = {}
    for entries in lists:
        for entry in entries:
            label = {k: v for k, v in entry.items() if not is_number(v)}
            key = tuple(sorted((k, repr(v)) for k, v in label.items()))
            labels.setdefault(key, label)
            numbers = merged.setdefault(key, {})
            for k, v in entry.items():
                if is_number(v):
                    numbers.setdefault(k, []).append(float(v))
    rows = []
    for key, numbers in merged.items():
        seeds = max(len(v) for v in numbers.values()) if numbers else 0
        means = {k: round(statistics.fmean(v), 6) for k, v in numbers.items()}
        rows.append({**labels[key], **means, "seeds": seeds})
    # Seen in more seeds first, then by the first number (a rate, say), largest first.
    return sorted(
        rows,
        key=lambda r: (-r["seeds"], -next((v for v in r.values() if is_number(v)), 0.0)),
    )


def group_statistics(
    groups: Sequence[SeedGroup], metrics: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> list[dict[str, dict[str, float | int | None]]]:
    """Per group, ``{metric: describe(its members' values)}`` for each of ``names``."""
    return [
        {name: describe([metrics[i].get(name) for i in group.members]) for name in names}
        for group in groups
    ]


def group_records(
    groups: Sequence[SeedGroup], metrics: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per group, every non-scalar metric (lists, mappings) merged with :func:`merge_records`."""
    merged = []
    for group in groups:
        names = dict.fromkeys(
            k
            for i in group.members
            for k, v in metrics[i].items()
            if isinstance(v, (list, Mapping))
        )
        merged.append(
            {name: merge_records([metrics[i].get(name) for i in group.members]) for name in names}
        )
    return merged


def _text(value: Any, digits: int = 5) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def csv_rows(
    groups: Sequence[SeedGroup],
    stats: Sequence[Mapping[str, Mapping[str, Any]]],
    params: Sequence[str],
    names: Sequence[str],
) -> list[list[Any]]:
    """Header and one row per group: parameters, seeds, then ``<metric>/<statistic>`` columns."""
    header = [*params, SEED_KEY + "s", *(f"{m}/{s}" for m in names for s in STATISTICS)]
    rows = [header]
    for group, stat in zip(groups, stats, strict=True):
        seeds = " ".join(_text(s) for s in group.seeds)
        values = [stat[m][s] for m in names for s in STATISTICS]
        rows.append([*(group.params.get(p) for p in params), seeds, *values])
    return rows


def mean_std_text(stat: Mapping[str, Any]) -> str:
    """``0.9071 ± 0.0012`` (``± std``; without it for one seed), or empty."""
    if stat["mean"] is None:
        return ""
    if stat["std"] is None:
        return f"{stat['mean']:.4f}"
    return f"{stat['mean']:.4f} ± {stat['std']:.4f}"


def markdown_lines(
    groups: Sequence[SeedGroup],
    stats: Sequence[Mapping[str, Mapping[str, Any]]],
    params: Sequence[str],
    names: Sequence[str],
) -> list[str]:
    """A table of groups: parameters, n, then per metric ``mean ± std [min, max]``."""
    header = [*params, "n", *names]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for group, stat in zip(groups, stats, strict=True):
        cells = [_text(group.params.get(p)) for p in params]
        cells.append(str(max((stat[m]["n"] for m in names), default=0)))
        for m in names:
            text = mean_std_text(stat[m])
            if stat[m]["n"]:
                text += f" [{stat[m]['min']:.4f}, {stat[m]['max']:.4f}]"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_groups(
    groups: Sequence[SeedGroup],
    metrics: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    x_key: str | None = None,
):
    """One panel per metric: every seed's value as a dot, each group's mean ± std as a bar.

    With ``x_key`` (a numeric parameter) the groups sit at their value of it, one line per
    setting of the other parameters; without, one column per group.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(4.0, 1.2 * len(groups)) * max(len(names), 1) / 1.5, 4.0))
    for i, name in enumerate(names):
        ax = figure.add_subplot(1, len(names), i + 1)
        lines: dict[str, list[tuple[float, float, float]]] = {}
        for position, group in enumerate(groups):
            values = [metrics[j].get(name) for j in group.members]
            values = [float(v) for v in values if is_number(v)]
            if not values:
                continue
            x = float(group.params[x_key]) if x_key else float(position)
            ax.scatter([x] * len(values), values, s=12, alpha=0.5, color="gray", zorder=2)
            stat = describe(values)
            others = {k: v for k, v in group.params.items() if k != x_key}
            label = ", ".join(f"{k.split('.')[-1]}={_text(v)}" for k, v in others.items())
            lines.setdefault(label, []).append((x, stat["mean"], stat["std"] or 0.0))
        for label, points in lines.items():
            xs, means, stds = zip(*sorted(points), strict=True)
            ax.errorbar(
                xs,
                means,
                yerr=stds,
                marker="o",
                capsize=4,
                linestyle="-" if x_key else "none",
                label=(label or None) if x_key else None,
                zorder=3,
            )
        if x_key:
            xs_all = [float(g.params[x_key]) for g in groups]
            if min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10:
                ax.set_xscale("log")
            ax.set_xlabel(x_key)
            if len(lines) > 1:
                ax.legend(fontsize="small")
        else:
            ax.set_xticks(range(len(groups)), [g.label() for g in groups], rotation=20)
        ax.set_title(f"{name} (mean ± std over seeds)", fontsize="medium")
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure
