"""The guard's sets written apart from the labelled set, by name: ``bench/data/guard_NAME.jsonl``, and the styles their lines may have.

A module of its own so that the CLI can name them in ``--help`` without
importing the guard; ``bench.guard_eval`` says who wrote each and how it was used.
Adding a set is adding a file: no list to update. A new style is added to ``ROWS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from proxy.scenarios import SCENARIOS


@dataclass(frozen=True)
class Row:
    """One of ``eval-guard``'s groups: which lines it counts, and the styles those lines may have."""

    name: str
    lines: str  # what puts a line here: its label and scenario, never its style
    styles: tuple[str, ...]


#: ``eval-guard``'s groups, in the order it prints them, with the styles of the sets written apart. A line's label and
#: scenario choose its group, so a style is checked against that group's (``bench.guard_eval.check_style``): a line
#: styled for another group, ``"style": "ordinary"`` on a look-alike's scenario, was once counted where its
#: writer did not mean it, silently.
ROWS = (
    Row("harmful", "label harmful, a scenario other than professional advice", ("key_phrase", "figstep", "contrast")),
    Row("professional", f"label harmful, scenario {', '.join(s.id for s in SCENARIOS if s.professional)}", ("professional",)),
    Row(
        "benign look-alikes",
        "label benign, the scenario it looks like",
        ("definition", "discrimination_education", "fiction", "figurative", "history", "homonym", "public_figure_privacy", "real_discrimination_nonsense_group", "safe_context", "safe_target"),
    ),
    Row("ordinary image text", "scenario ordinary", ("ordinary",)),
)


def styles_help() -> str:
    """Each group, what puts a line in it, and its styles: for ``--help`` and for the error a misfit style is."""
    return "; ".join(f"{row.name} ({row.lines}): {', '.join(row.styles)}" for row in ROWS)


def written_order(name: str) -> tuple[str, int]:
    """``fresh`` before ``fresh2`` before ``fresh10``: the names number the sets in the order they were written."""
    stem, number = re.fullmatch(r"(.*?)(\d*)", name).groups()
    return stem, int(number or 1)


def guard_sets() -> dict[str, Traversable]:
    """Each set's file, by name, in the order written (sets of one stem together)."""
    files = {f.name[len("guard_"):-len(".jsonl")]: f for f in resources.files("bench").joinpath("data").iterdir() if f.name.startswith("guard_") and f.name.endswith(".jsonl")}
    return {name: files[name] for name in sorted(files, key=written_order)}
