"""``mmguard judge --jsonl``: verdicts for answers someone else collected, one line out per line in, in order.

Input lines are ``{"id", "prompt", "response", "scenario"?, "label"?}``:
``scenario`` is an id from proxy/scenarios.py or an MM-SafetyBench name,
``label`` is ``"harmful"`` (the default: MM-SafetyBench's requests all are) or
``"benign"`` for a benign control, which no judge holds to MM-SafetyBench's
criteria for harmful requests (the professional scenarios' disclaimer, the
lobbying and government templates). Output lines are ``{"id", "refusal",
"harmful", "judge"}``. A line that is not valid JSON, lacks a field or names an
unknown scenario or label, or that the judge could not decide, gets ``{"id",
"error"}`` in its place, so line N of the output is always about the Nth line
of the input that is not blank; an error names the input's own line number,
and its id is the line's own when it has a usable one, else that line number
(as ``mmguard check --jsonl`` does).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

from bench.judges import build_judge
from bench.judges.verdict import Answer, resolve_scenario

BATCH = 256
LABELS = ("harmful", "benign")


def _usable_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)  # an id may be a number


def parse(line: str, number: int) -> Answer | dict[str, Any]:
    """An ``Answer``, or the error line that takes its place."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return {"id": number, "error": f"line {number}: not JSON ({err.msg})"}
    if not isinstance(row, dict):
        return {"id": number, "error": f"line {number}: expected an object"}
    row_id = row["id"] if _usable_id(row.get("id")) else number  # an error line still says which line
    missing = [] if _usable_id(row.get("id")) else ["id"]
    missing += [f for f in ("prompt", "response") if not isinstance(row.get(f), str)]
    missing += [f for f in ("scenario", "label") if row.get(f) is not None and not isinstance(row[f], str)]
    if missing:
        return {"id": row_id, "error": f"line {number}: missing or non-string field {', '.join(missing)}"}
    label = row.get("label", "harmful")
    if label not in LABELS:
        return {"id": row_id, "error": f"line {number}: label {label!r} is not one of {', '.join(LABELS)}"}
    try:
        scenario = resolve_scenario(row.get("scenario"))
    except ValueError as err:
        return {"id": row_id, "error": f"line {number}: {err}"}
    return Answer(str(row_id), row["prompt"], row["response"], scenario, benign=label == "benign")


async def _judge_all(lines: list[tuple[int, str]], judge_name: str, options: dict[str, Any], out: TextIO) -> int:
    judge = build_judge(judge_name, **options)
    parsed = [parse(line, n) for n, line in lines]
    failed = False
    for start in range(0, len(parsed), BATCH):
        chunk = parsed[start : start + BATCH]
        answers = [p for p in chunk if isinstance(p, Answer)]
        verdicts = iter(await judge.judge(answers))
        for entry in chunk:
            if isinstance(entry, Answer):
                v = next(verdicts)
                failed = failed or v.failed
                line = {"id": entry.id, "error": f"the judge could not decide: {v.reason}"} if v.failed else {"id": entry.id, "refusal": v.refusal, "harmful": v.harmful, "judge": v.judge}
                out.write(json.dumps(line) + "\n")
            else:
                out.write(json.dumps(entry) + "\n")
    return 0 if all(isinstance(p, Answer) for p in parsed) and not failed else 1


def judge_jsonl(path: str, judge_name: str, options: dict[str, Any], out: TextIO) -> int:
    """Exit status 0, or 1 when some line was unusable (its error line says why)."""
    source = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with source:
        lines = [(n, line) for n, line in enumerate(source.read().splitlines(), 1) if line.strip()]  # errors name the file's own line
    return asyncio.run(_judge_all(lines, judge_name, options, out))
