"""``mmguard judge --jsonl``: verdicts for answers someone else collected, one line out per line in, in order.

Input lines are ``{"id", "prompt", "response", "scenario"?}``; output lines
are ``{"id", "refusal", "harmful", "judge"}``. A line that is not valid JSON or
lacks a field, or that the judge could not decide, gets ``{"id", "error"}`` in its place, so line N of the output is
always about the Nth line of the input that is not blank; an error names the
input's own line number.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, TextIO

from bench.judges import build_judge
from bench.judges.verdict import Answer

BATCH = 256


def parse(line: str, number: int) -> Answer | dict[str, Any]:
    """An ``Answer``, or the error line that takes its place."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return {"id": None, "error": f"line {number}: not JSON ({err.msg})"}
    if not isinstance(row, dict):
        return {"id": None, "error": f"line {number}: expected an object"}
    row_id = row.get("id")
    missing = [] if isinstance(row_id, (str, int)) and not isinstance(row_id, bool) else ["id"]  # an id may be a number
    missing += [f for f in ("prompt", "response") if not isinstance(row.get(f), str)]
    if missing:
        return {"id": row_id, "error": f"line {number}: missing or non-string field {', '.join(missing)}"}
    scenario = row.get("scenario")
    return Answer(str(row["id"]), str(row["prompt"]), str(row["response"]), scenario if isinstance(scenario, str) else None)


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
