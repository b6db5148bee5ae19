"""``mmguard judge --eval``: how often the ``refusal`` judge agrees with hand labels, and how fast it is.

The labelled set is ``bench/judges/data/refusal_labels.jsonl``: answers written
in the styles of real chat models to harmful prompts and to benign look-alikes,
each labelled ``refusal`` or ``compliance`` with a ``kind`` (full_refusal,
partial_refusal, deflection, disclaimer_then_comply, ...; see
:mod:`bench.judges.refusal` for the convention). It is split by a hash of the
id: about 30% is **held out** (:func:`held_out`) and the judge's rules were
tuned only on the rest, so held-out agreement is the honest figure.

Both parts were written by the same hands as the rules, so a second set,
``bench/judges/data/refusal_labels_fresh.jsonl``, was written afterwards by
someone who had read only the labelling convention, never the rules: XSTest-style
prompts (homonyms, figurative language, safe targets and contexts, definitions,
nonsense discrimination, history, privacy of public and fictional figures, and
their unsafe contrasts) with answers in the manner of Llama-2-chat, Mistral-Instruct
and GPT-4. It is split in two halves by a hash of the id (:func:`fresh_test`):
rule changes made after it was written were made from **fresh-tune**'s
disagreements only, and **fresh-test** was not tuned on, so it is the honest
figure. To keep it that way ``--eval`` counts fresh-test's disagreements but does
not list them (they are in ``result["fresh"]["errors"]``).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bench.judges.refusal import RefusalJudge
from bench.judges.verdict import Answer

HELD_OUT_PERCENT = 30
FRESH_TEST_PERCENT = 50
FRESH_PATH = "data/refusal_labels_fresh.jsonl"
#: XSTest's final_label values, as this project's label and kind.
XSTEST_LABELS = {
    "1_full_compliance": ("compliance", "full_compliance"),
    "2_full_refusal": ("refusal", "full_refusal"),
    "3_partial_refusal": ("refusal", "partial_refusal"),
}
#: The columns of XSTest's labelled completions that ``--eval`` reads (``type`` too, when there).
XSTEST_COLUMNS = ("id", "prompt", "completion", "final_label")
#: One labelled answer of a JSONL file, as errors describe it.
LABELLED_SHAPE = '{"id": "...", "prompt": "...", "response": "...", "label": "refusal" or "compliance", "kind": "..." (optional)}'


def _bucket(item_id: str) -> int:
    """An item's fixed bucket, 0 to 99, from sha256 of its id: the splits below are ranges of buckets."""
    return int(hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:8], 16) % 100


def held_out(item_id: str) -> bool:
    """Fixed split: an item is held out when its bucket is among the first ``HELD_OUT_PERCENT``."""
    return _bucket(item_id) < HELD_OUT_PERCENT


def fresh_test(item_id: str) -> bool:
    """Fixed split of the fresh set: an item is in fresh-test when its bucket is among the first ``FRESH_TEST_PERCENT``."""
    return _bucket(item_id) < FRESH_TEST_PERCENT


def xstest_rows(path: str | Path) -> list[dict[str, Any]]:
    """XSTest's human-labelled completions CSV as labelled rows; the prompt type (homonyms, contrast_..., ...) is kept.

    A missing column is named with the columns the file has, since XSTest also
    publishes completions without labels, which cannot measure the judge. A bad
    row names the line it starts on: completions span lines.
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in XSTEST_COLUMNS if c not in columns]
        if missing:
            raise ValueError(
                f"{path}: no {' or '.join(missing)} column (it has {', '.join(columns) or 'none'}); --eval needs XSTest's labelled completions, "
                f"with columns {', '.join(XSTEST_COLUMNS)}; "
                'to judge answers without labels, give them to --jsonl as {"id", "prompt", "response"} lines'
            )
        end = reader.line_num  # the header's last line
        for row in reader:
            start, end = end + 1, reader.line_num
            if any(row[c] is None for c in XSTEST_COLUMNS):
                raise ValueError(f"{path}:{start}: fewer fields than the header's {len(columns)}")
            final_label = row["final_label"].strip()
            if final_label not in XSTEST_LABELS:
                raise ValueError(f"{path}:{start}: final_label {final_label!r} is not one of {', '.join(XSTEST_LABELS)}")
            label, kind = XSTEST_LABELS[final_label]
            rows.append({"id": row["id"], "prompt": row["prompt"], "response": row["completion"], "label": label, "kind": kind, "prompt_type": row.get("type") or ""})
    return rows


def labelled_rows(text: str, where: str) -> list[dict[str, Any]]:
    """The labelled answers of JSONL ``text``; a bad line is an error naming ``where`` and the line, as ``judge --jsonl``'s are."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}:{number}: not JSON ({err.msg}); a line is {LABELLED_SHAPE}") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}:{number}: not an object; a line is {LABELLED_SHAPE}")
        missing = [f for f in ("id", "response") if not isinstance(row.get(f), str)]  # the splits hash the id as text
        if missing:
            raise ValueError(f"{where}:{number}: missing or non-string {', '.join(missing)}; a line is {LABELLED_SHAPE}")
        if row.get("label") not in ("refusal", "compliance"):
            raise ValueError(f"{where}:{number}: label must be refusal or compliance, not {row.get('label')!r}")
        rows.append(row)
    return rows


def load(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The labelled rows of ``path``; ``None`` is the bundled set, ``"fresh"`` the bundled fresh set, ``*.csv`` XSTest's format."""
    if path is not None and str(path).endswith(".csv"):
        return xstest_rows(path)
    if path is None or path == "fresh":
        name = FRESH_PATH if path == "fresh" else "data/refusal_labels.jsonl"
        return labelled_rows(resources.files("bench.judges").joinpath(name).read_text(encoding="utf-8"), f"bench/judges/{name}")
    return labelled_rows(Path(path).read_text(encoding="utf-8"), str(path))


def _score(rows: list[dict[str, Any]], predicted: dict[str, bool]) -> dict[str, Any]:
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    agree = 0
    tp = fp = fn = 0
    for row in rows:
        want = row["label"] == "refusal"
        got = predicted[row["id"]]
        ok = want == got
        agree += ok
        kinds[row.get("kind", "?")][0] += ok
        kinds[row.get("kind", "?")][1] += 1
        tp += want and got
        fp += got and not want
        fn += want and not got
    n = len(rows)
    return {
        "n": n,
        "agreement": agree / n if n else float("nan"),
        "refusal_precision": tp / (tp + fp) if tp + fp else float("nan"),
        "refusal_recall": tp / (tp + fn) if tp + fn else float("nan"),
        "per_kind": {k: {"n": v[1], "agreement": v[0] / v[1]} for k, v in sorted(kinds.items())},
    }


def _judge_rows(judge: RefusalJudge, rows: list[dict[str, Any]]) -> list[Any]:
    answers = [Answer(r["id"], r.get("prompt", ""), r["response"], r.get("scenario")) for r in rows]
    return asyncio.run(judge.judge(answers))


def evaluate_fresh(judge: RefusalJudge | None = None) -> dict[str, Any]:
    """Agreement on the bundled fresh set, on its fresh-tune and fresh-test halves and overall, with its disagreements."""
    judge = judge or RefusalJudge()
    rows = load("fresh")
    verdicts = _judge_rows(judge, rows)
    predicted = {r["id"]: v.refusal for r, v in zip(rows, verdicts)}
    return {
        "path": "bench/judges/" + FRESH_PATH,
        "fresh_tune": _score([r for r in rows if not fresh_test(r["id"])], predicted),
        "fresh_test": _score([r for r in rows if fresh_test(r["id"])], predicted),
        "overall": _score(rows, predicted),
        "errors": [
            {"id": r["id"], "fresh_test": fresh_test(r["id"]), "kind": r.get("kind"), "label": r["label"], "reason": v.reason}
            for r, v in zip(rows, verdicts)
            if (r["label"] == "refusal") != v.refusal
        ],
    }


def evaluate(path: str | Path | None = None, repeat: int = 20) -> dict[str, Any]:
    """Agreement with the labels overall and, on the bundled set, on its tuning and held-out parts; answers judged per second.

    Speed is the best of ``repeat`` passes over the whole set (one batch per pass), on this machine.
    On the bundled set (``path`` None) the result also has ``fresh``: :func:`evaluate_fresh`.
    """
    rows = load(path)
    judge = RefusalJudge()
    best = float("inf")
    verdicts = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        verdicts = _judge_rows(judge, rows)
        best = min(best, time.perf_counter() - start)
    predicted = {r["id"]: v.refusal for r, v in zip(rows, verdicts)}
    bundled = path is None
    tune = [r for r in rows if not held_out(r["id"])]
    held = [r for r in rows if held_out(r["id"])]
    errors = [
        {"id": r["id"], "held_out": held_out(r["id"]), "kind": r.get("kind"), "label": r["label"], "reason": v.reason}
        for r, v in zip(rows, verdicts)
        if (r["label"] == "refusal") != v.refusal
    ]
    return {
        "judge": judge.name,
        "path": str(path) if path else "bench/judges/data/refusal_labels.jsonl",
        "overall": _score(rows, predicted),
        "tune": _score(tune, predicted) if bundled else None,  # the split means something only where rules were tuned
        "held_out": _score(held, predicted) if bundled else None,
        "answers_per_second": len(rows) / best if best > 0 else float("inf"),
        "ms_per_answer": 1000 * best / len(rows) if rows else float("nan"),
        "errors": errors,
        "fresh": evaluate_fresh(judge) if bundled else None,
    }


def print_evaluation(result: dict[str, Any], out: TextIO = sys.stdout) -> None:
    """The evaluation as a plain-text table."""
    parts = tuple(p for p in ("tune", "held_out", "overall") if result[p])
    out.write(f"refusal judge vs hand labels ({result['path']})\n\n")
    out.write(f"{'':26}" + "".join(f"{p:>16}" for p in parts) + "\n")

    def cell(score: dict[str, Any] | None) -> str:
        if not score:
            return f"{'-':>16}"
        return f"{score['agreement']:>9.1%} ({score['n']:>3})"

    out.write(f"{'agreement (n)':26}" + "".join(cell(result[p]) for p in parts) + "\n")
    for metric in ("refusal_precision", "refusal_recall"):
        out.write(f"{metric.replace('_', ' '):26}" + "".join(f"{result[p][metric]:>16.1%}" for p in parts) + "\n")
    kinds = sorted(result["overall"]["per_kind"])
    if kinds != ["?"]:  # a file of the user's own, without kinds, has nothing to split by
        out.write("\nper kind\n")
        for kind in kinds:
            out.write(f"  {kind:24}" + "".join(cell(result[p]["per_kind"].get(kind)) for p in parts) + "\n")
    out.write(f"\nspeed: {result['answers_per_second']:,.0f} answers/s ({result['ms_per_answer']:.3f} ms an answer, one core)\n")
    if result["errors"]:
        out.write(f"\ndisagreements ({len(result['errors'])}):\n")
        for e in result["errors"]:
            where = ("held-out" if e["held_out"] else "tune") if result["tune"] else "file"
            out.write(f"  {e['id']} [{where}] {_kind(e)}labelled {e['label']}, judged {'refusal' if e['label'] == 'compliance' else 'compliance'} ({e['reason']})\n")
    fresh = result.get("fresh")
    if fresh:
        _print_fresh(fresh, cell, out)


def _print_fresh(fresh: dict[str, Any], cell: Any, out: TextIO) -> None:
    parts = ("fresh_tune", "fresh_test", "overall")
    out.write(f"\nfresh set, written apart from the rules ({fresh['path']}); rules were tuned on fresh-tune only\n\n")
    out.write(f"{'':26}" + "".join(f"{p.replace('_', '-'):>16}" for p in parts) + "\n")
    out.write(f"{'agreement (n)':26}" + "".join(cell(fresh[p]) for p in parts) + "\n")
    for metric in ("refusal_precision", "refusal_recall"):
        out.write(f"{metric.replace('_', ' '):26}" + "".join(f"{fresh[p][metric]:>16.1%}" for p in parts) + "\n")
    out.write("\nper kind\n")
    for kind in sorted(fresh["overall"]["per_kind"]):
        out.write(f"  {kind:24}" + "".join(cell(fresh[p]["per_kind"].get(kind)) for p in parts) + "\n")
    # fresh-test disagreements are counted but not listed, so whoever tunes the rules next does not see them
    # (they are in ``result["fresh"]["errors"]`` for whoever deliberately wants them)
    tune_errors = [e for e in fresh["errors"] if not e["fresh_test"]]
    out.write(f"\nfresh disagreements: {len(fresh['errors']) - len(tune_errors)} on fresh-test (not listed), {len(tune_errors)} on fresh-tune:\n")
    for e in tune_errors:
        out.write(f"  {e['id']} [fresh-tune] {_kind(e)}labelled {e['label']}, judged {'refusal' if e['label'] == 'compliance' else 'compliance'} ({e['reason']})\n")


def _kind(error: dict[str, Any]) -> str:
    """``"homonym: "`` for a disagreement whose line has a kind; nothing for one without (it printed ``None:``)."""
    return f"{error['kind']}: " if error.get("kind") not in (None, "?") else ""


if __name__ == "__main__":
    print_evaluation(evaluate())
