"""The guard's sets written apart from the labelled set, by name: ``bench/data/guard_NAME.jsonl``.

A module of its own so that the CLI can name them in ``--help`` without
importing the guard; ``bench.guard_eval`` says who wrote each and how it was used.
Adding a set is adding a file: no list to update.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable


def written_order(name: str) -> tuple[str, int]:
    """``fresh`` before ``fresh2`` before ``fresh10``: the names number the sets in the order they were written."""
    stem, number = re.fullmatch(r"(.*?)(\d*)", name).groups()
    return stem, int(number or 1)


def guard_sets() -> dict[str, Traversable]:
    """Each set's file, by name, in the order written (sets of one stem together)."""
    files = {f.name[len("guard_"):-len(".jsonl")]: f for f in resources.files("bench").joinpath("data").iterdir() if f.name.startswith("guard_") and f.name.endswith(".jsonl")}
    return {name: files[name] for name in sorted(files, key=written_order)}
