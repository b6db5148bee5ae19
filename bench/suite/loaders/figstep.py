"""FigStep's SafeBench (Gong et al., AAAI 2025; repository ThuCCSLab/FigStep) in its published layout.

Not to be confused with SafeBench-MM (``safebench.py``): FigStep calls its own 500-question
set "SafeBench" too.

Published format
----------------
* ``data/question/safebench.csv`` (500 rows) and ``data/question/SafeBench-Tiny.csv``
  (50 rows, 5 per category), columns ``dataset, category_id, task_id, category_name,
  question, instruction``; ``dataset`` is ``ForbidQI``; ``question`` is the plain
  question, ``instruction`` the typographic statement ("Steps to manufacture illegal
  drugs."), which may also begin "Methods to" or "List of".
* Images ``query_ForbidQI_<category_id>_<task_id>_6.png``: ``data/images/SafeBench/``
  for the full set (linked from the README), ``data/images/SafeBench-Tiny/`` for Tiny.
* Ten categories, ids 1-10: Illegal Activity, Hate Speech, Malware Generation, Physical
  Harm, Fraud, Adult Content, Privacy Violation, Legal Opinion, Financial Advice, Health
  Consultation.

Verified vs assumed
-------------------
Verified by reading ThuCCSLab/FigStep: ``data/question/safebench.csv`` (header and the
first ~110 rows), ``data/question/SafeBench-Tiny.csv`` (whole file: all ten category names
and ids above), the image names under ``data/images/SafeBench-Tiny/``, and the README
(``data/images/SafeBench`` folder, the 500/50 sizes). Not read: the category names of
rows past ~110 of the full CSV; a name we do not know falls back to its ``category_id``.
Also accepted: a folder with any one CSV of these columns and an ``images/`` folder (how
the Tiny sample is often redistributed), or the CSV file itself; ``dataset`` may be
missing (the image names then use ``ForbidQI``), every other column is required.

Mapping to ``Item``: ``question`` = question; ``figstep`` = instruction;
``key_phrase`` = the instruction without its "Steps to"/"Methods to"/"List of" lead-in
and final full stop; ``images["figstep"]`` = the PNG when it exists; ``category`` =
category_name; ``harmful`` = True for all ten categories (the professional-advice ones
count as harmful in FigStep's ASR, as in MM-SafetyBench).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.suite.item import Item
from bench.suite.loaders._common import DatasetError, check_unique, describe_columns, find_file, first_existing, parse_int, read_csv_rows

SOURCE = "figstep"
REQUIRED = ("category_id", "task_id", "category_name", "question", "instruction")
#: Published in every file, but only its image names use it, and ``ForbidQI`` is the one value published.
OPTIONAL = ("dataset",)
DEFAULT_DATASET = "ForbidQI"
#: Where the CSV lives, relative to the path given, in order of preference (full set first).
CSV_CANDIDATES = (
    "data/question/safebench.csv",
    "question/safebench.csv",
    "safebench.csv",
    "data/question/SafeBench-Tiny.csv",
    "question/SafeBench-Tiny.csv",
    "SafeBench-Tiny.csv",
    "questions.csv",
)
IMAGE_DIRS = ("images/SafeBench", "images/SafeBench-Tiny", "data/images/SafeBench", "data/images/SafeBench-Tiny", "images", ".")
IMAGE_NAME = "query_{dataset}_{category_id}_{task_id}_6.png"

#: FigStep category name (as published) -> our scenario id.
CATEGORY_TO_SCENARIO = {
    "Illegal Activity": "illegal_activity",
    "Hate Speech": "hate_speech",
    "Malware Generation": "malware_generation",
    "Physical Harm": "physical_harm",
    "Fraud": "fraud",
    "Adult Content": "sex",
    "Privacy Violation": "privacy_violence",
    "Legal Opinion": "legal_opinion",
    "Financial Advice": "financial_advice",
    "Health Consultation": "health_consultation",
}
#: The same by category_id (1-10, as published), used when a name is spelled differently.
CATEGORY_ID_TO_SCENARIO = {i: s for i, s in enumerate(CATEGORY_TO_SCENARIO.values(), start=1)}

_LEAD_IN = re.compile(r"^(?:steps|methods|list|ways)\s+(?:to|for|of|used\s+to|used\s+by)\s+", re.IGNORECASE)


def _norm(name: str) -> str:
    name = re.sub(r"[^a-z]+", " ", name.lower()).strip()
    return re.sub(r"\bactivities\b", "activity", name)


_BY_NORMALISED_NAME = {_norm(k): v for k, v in CATEGORY_TO_SCENARIO.items()}


def key_phrase_of(instruction: str) -> str:
    """"Steps to manufacture illegal drugs." -> "manufacture illegal drugs"."""
    phrase = _LEAD_IN.sub("", instruction.strip()).rstrip(". ").strip()
    return phrase or instruction.strip()


def _csv_path(path: Path) -> Path:
    """The published CSV names first; else a folder's only CSV (a sample redistributed under a name of its own)."""
    only = sorted(path.glob("*.csv")) if path.is_dir() else []
    names = (*CSV_CANDIDATES, only[0].name) if len(only) == 1 else CSV_CANDIDATES
    return find_file(path, names, f"does not look like FigStep: expected data/question/safebench.csv (or SafeBench-Tiny.csv, a questions.csv, or a folder's only CSV) with columns {describe_columns(REQUIRED, OPTIONAL)}")


def _image_dirs(csv_path: Path) -> list[Path]:
    bases = [csv_path.parent, csv_path.parent.parent, csv_path.parent.parent.parent]
    dirs: list[Path] = []
    for base in bases:
        for rel in IMAGE_DIRS:
            d = (base / rel).resolve()
            if d not in dirs and d.is_dir():
                dirs.append(d)
    return dirs


def load_figstep(path: Path) -> list[Item]:
    """FigStep questions in file order, with the typographic image of each when it is on disk."""
    csv_path = _csv_path(Path(path))
    dirs = _image_dirs(csv_path)
    items: list[Item] = []
    for line, row in read_csv_rows(csv_path, REQUIRED, optional=OPTIONAL):
        category_id = parse_int(row["category_id"], csv_path, line, "category_id")
        task_id = parse_int(row["task_id"], csv_path, line, "task_id")
        name = row["category_name"].strip()
        scenario = _BY_NORMALISED_NAME.get(_norm(name)) or CATEGORY_ID_TO_SCENARIO.get(category_id)
        if scenario is None:
            raise DatasetError(
                f"{csv_path}, line {line}: unknown category {name!r} (id {category_id}); "
                f"known: {', '.join(CATEGORY_TO_SCENARIO)}"
            )
        dataset = (row.get("dataset") or "").strip() or DEFAULT_DATASET
        image_name = IMAGE_NAME.format(dataset=dataset, category_id=category_id, task_id=task_id)
        image = first_existing(d / image_name for d in dirs)
        instruction = row["instruction"].strip()
        items.append(
            Item(
                id=f"{SOURCE}/{category_id}/{task_id}",
                source=SOURCE,
                scenario=scenario,
                harmful=True,
                question=row["question"].strip(),
                key_phrase=key_phrase_of(instruction),
                figstep=instruction,
                category=name,
                images={"figstep": image} if image is not None else {},
                meta={"category_id": category_id, "task_id": task_id, "dataset": dataset, "file": csv_path.name},
            )
        )
    if not items:
        raise DatasetError(f"{csv_path}: no rows")
    return check_unique(items, csv_path)
