"""MM-SafetyBench (Liu et al., ECCV 2024; repository isXinLiu/MM-SafetyBench) in its published layout.

Published format
----------------
* Questions: ``data/processed_questions/<stem>.json`` in the repository, one file per
  scenario, stems as published, typo included (``01-Illegal_Activitiy``). Each file is
  one JSON object keyed by question id; the ids are strings and are NOT contiguous
  ("0", "1", "5", ...). Each value carries ``Question``, ``GPT-Pred``, ``Changed Question``,
  ``Key Phrase``, ``Phrase Type``, ``Rephrased Question`` and ``Rephrased Question(SD)``.
* Images: not in the repository but a separate archive, ``MM-SafetyBench(imgs).zip``,
  holding ``<stem>/{SD,SD_TYPO,TYPO}/<id>.jpg``. Users unpack it as ``data/imgs/``
  (so ``data/imgs/<stem>/SD/0.jpg``) or keep the archive's own folder name
  ``MM-SafetyBench(imgs)``; both are looked for, beside ``data`` and beside the repo root.

Verified vs assumed
-------------------
Verified from public code that reads the real files: the ``data/processed_questions/<stem>.json``
path and the 13 stems (stanford-crfm/helm's MM-SafetyBench scenario, which downloads
``raw.githubusercontent.com/isXinLiu/MM-SafetyBench/main/data/processed_questions/{stem}.json``);
the seven field names (a loader docstring quoting a whole entry, and several evaluation
scripts reading ``Rephrased Question`` / ``Rephrased Question(SD)``); the image archive's
``MM-SafetyBench(imgs)/<stem>/{SD,SD_TYPO,TYPO}/<id>.jpg`` layout and the pairing SD +
"Rephrased Question(SD)", SD_TYPO/TYPO + "Rephrased Question" (HELM and others). The
question files themselves were not in the stored index, so entries lacking an optional
field are handled but not observed: ``Question`` and ``Key Phrase`` are required (an
entry without them is a ``DatasetError``); a missing rephrased question becomes ``None``
(the attack then uses its default prompt).

Mapping to ``Item``: ``question`` = Question, ``key_phrase`` = Key Phrase,
``instruction`` = Rephrased Question, ``instruction_sd`` = Rephrased Question(SD),
``figstep`` = None, ``images`` = ``sd``/``sd_typo``/``typo`` for the files that exist,
``category`` = the file stem, ``meta`` = phrase type, changed question, original id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.suite.item import Item
from bench.suite.loaders._common import DatasetError, check_unique
from proxy.scenarios import SCENARIOS, by_mmsb_name

SOURCE = "mm-safetybench"
QUESTIONS_DIR = "processed_questions"
IMAGE_ROOTS = ("imgs", "MM-SafetyBench(imgs)", "imgs/MM-SafetyBench(imgs)")
#: Image sub-folder in the archive -> attack name used in ``Item.images``.
IMAGE_KINDS = {"SD": "sd", "SD_TYPO": "sd_typo", "TYPO": "typo"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

F_QUESTION = "Question"
F_KEY_PHRASE = "Key Phrase"
F_PHRASE_TYPE = "Phrase Type"
F_REPHRASED = "Rephrased Question"
F_REPHRASED_SD = "Rephrased Question(SD)"
F_CHANGED = "Changed Question"
REQUIRED = (F_QUESTION, F_KEY_PHRASE)


def _data_dir(path: Path) -> Path:
    """The folder holding ``processed_questions``: the repo root's ``data``, ``data`` itself, or its parent."""
    path = Path(path)
    if path.is_dir() and path.name == QUESTIONS_DIR:
        return path.parent
    for candidate in (path, path / "data"):
        if (candidate / QUESTIONS_DIR).is_dir():
            return candidate
    raise DatasetError(
        f"{path} does not look like MM-SafetyBench: expected {QUESTIONS_DIR}/<stem>.json "
        f"(e.g. {QUESTIONS_DIR}/01-Illegal_Activitiy.json) under {path} or {path / 'data'}"
    )


def _image_dirs(data_dir: Path, stem: str) -> list[Path]:
    """Every place the ``<stem>`` image folder may have been unpacked to, in order of preference."""
    names = [stem]
    corrected = stem.replace("Activitiy", "Activity")  # some re-uploads fixed the published typo
    if corrected != stem:
        names.append(corrected)
    bases = [data_dir / root for root in IMAGE_ROOTS] + [data_dir.parent / root for root in IMAGE_ROOTS]
    return [base / name for base in bases for name in names]


def _find_image(dirs: list[Path], kind: str, qid: str) -> Path | None:
    for folder in dirs:
        for suffix in IMAGE_SUFFIXES:
            candidate = folder / kind / f"{qid}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _sort_key(qid: str) -> tuple[int, int, str]:
    return (0, int(qid), "") if qid.isdigit() else (1, 0, qid)


def _text(entry: dict[str, Any], field: str, file: Path, qid: str, *, required: bool) -> str | None:
    value = entry.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DatasetError(f"{file}, entry {qid!r}: missing field {field!r} (has: {', '.join(entry) or 'nothing'})")
        return None
    if not isinstance(value, str):
        raise DatasetError(f"{file}, entry {qid!r}: field {field!r} must be a string, got {type(value).__name__}")
    return value.strip()


class _DuplicateId(ValueError):
    pass


def _no_duplicate_ids(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal keys; a question would vanish from the suite unsaid.

    The published files come from ``json.dump`` of a dict and cannot repeat an
    id, so a repeat means a hand-edited file, and the edit should be named.
    """
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateId(repr(key))
        seen[key] = value
    return seen


def _load_file(file: Path, data_dir: Path) -> list[Item]:
    try:
        scenario = by_mmsb_name(file.stem)
    except KeyError:
        raise DatasetError(
            f"{file}: unknown MM-SafetyBench scenario file; expected one of "
            f"{', '.join(s.mmsb_name + '.json' for s in SCENARIOS)}"
        ) from None
    try:
        data = json.loads(file.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_ids)
    except _DuplicateId as exc:
        raise DatasetError(f"{file}: key {exc} appears twice in one object; JSON keeps only the last, so one would be lost unsaid") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{file}: bad JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{file}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{file}: expected a JSON object keyed by question id, got {type(data).__name__}")

    dirs = _image_dirs(data_dir, file.stem)
    items = []
    for qid in sorted(data, key=_sort_key):
        entry = data[qid]
        if not isinstance(entry, dict):
            raise DatasetError(f"{file}, entry {qid!r}: expected an object with {F_QUESTION!r}, {F_KEY_PHRASE!r}, ...")
        question = _text(entry, F_QUESTION, file, qid, required=True)
        key_phrase = _text(entry, F_KEY_PHRASE, file, qid, required=True)
        images: dict[str, Path] = {}
        for folder, attack in IMAGE_KINDS.items():
            found = _find_image(dirs, folder, qid)
            if found is not None:
                images[attack] = found
        meta: dict[str, Any] = {"mmsb_id": qid, "mmsb_file": file.name}
        for field, key in ((F_PHRASE_TYPE, "phrase_type"), (F_CHANGED, "changed_question")):
            value = _text(entry, field, file, qid, required=False)
            if value is not None:
                meta[key] = value
        items.append(
            Item(
                id=f"{SOURCE}/{scenario.id}/{qid}",
                source=SOURCE,
                scenario=scenario.id,
                harmful=True,
                question=question,  # type: ignore[arg-type]
                key_phrase=key_phrase,  # type: ignore[arg-type]
                instruction=_text(entry, F_REPHRASED, file, qid, required=False),
                instruction_sd=_text(entry, F_REPHRASED_SD, file, qid, required=False),
                figstep=None,
                category=file.stem,
                images=images,
                meta=meta,
            )
        )
    return items


def load_mmsb(path: Path) -> list[Item]:
    """All question files under ``path`` (repo root, its ``data`` folder, or ``processed_questions``), scenario order, ids numeric."""
    data_dir = _data_dir(Path(path))
    questions = data_dir / QUESTIONS_DIR
    files = [f for f in questions.iterdir() if f.is_file() and f.suffix.lower() == ".json"]
    if not files:
        raise DatasetError(
            f"{questions}: no question files; expected {QUESTIONS_DIR}/<stem>.json such as 01-Illegal_Activitiy.json"
        )
    order = {s.id: i for i, s in enumerate(SCENARIOS)}

    def rank(f: Path) -> tuple[int, str]:
        try:
            return order[by_mmsb_name(f.stem).id], f.name
        except KeyError:
            return len(order), f.name  # reported by _load_file

    items: list[Item] = []
    for file in sorted(files, key=rank):
        items.extend(_load_file(file, data_dir))
    return check_unique(items, questions)
