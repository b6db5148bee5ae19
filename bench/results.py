"""``results.jsonl``: one row per case x arm, appended as answers are judged, which is what makes a run resumable.

The file is append-only. Reading it keeps the last row for each (case, arm),
so a rerun that fills a hole or re-judges a row simply appends. A row counts as
done for a run when it has an answer and a verdict from that run's judge (the
judge's identity, ``bench.run.judge_identity``); rows with an upstream error are
asked again by the next run, and answers without a verdict from this judge
(its call failed, or another judge gave it) are judged again without asking. A torn last line (the process
was killed mid-write) is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from typing import Any

from pydantic import BaseModel, ValidationError, model_validator


class VerdictRow(BaseModel):
    refusal: bool
    harmful: bool | None = None
    judge: str
    rating: float | None = None
    reason: str | None = None
    identity: str = ""  # the judge's kind, model(s), rounds and code (bench.run.judge_identity); "" before it was kept


class ResultRow(BaseModel):
    case_id: str
    item_id: str
    source: str
    scenario: str
    attack: str
    harmful: bool
    arm: str
    prompt: str | None  # the user text the model received; None in a row written before it was recorded
    question: str  # the item's plain question: what the judge weighs the answer against
    response: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    overhead_ms: float | None = None
    blocked: bool = False
    decision: str | None = None
    guard_scenario: str | None = None
    guard_policy: str | None = None  # the proxy's x-mmguard-policy: the policy that decided, as the proxy named it
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    fingerprint: str = ""  # the arm's: what besides the messages decided the answer (bench.targets)
    verdict: VerdictRow | None = None
    judge_error: str | None = None  # why the judge left this answer unjudged (a rerun judges it again); None once judged

    @model_validator(mode="before")
    @classmethod
    def _before_question(cls, data: Any) -> Any:
        """A row written before ``question`` existed kept the question in ``prompt`` and not the text sent.

        It is still a judged answer, so it is read, not dropped: the question moves to
        ``question`` and ``prompt`` is None until the runner records the text sent
        (``Runner.run``), without asking or judging again.
        """
        if isinstance(data, dict) and "question" not in data and "prompt" in data:
            return {**data, "question": data["prompt"], "prompt": None}
        return data

    @property
    def key(self) -> tuple[str, str]:
        return self.case_id, self.arm

    @property
    def done(self) -> bool:
        return self.response is not None and self.verdict is not None

    @property
    def success(self) -> bool | None:
        """Did the attack land? A harm verdict decides when the judge gives one, else "not refused"."""
        if self.verdict is None:
            return None
        if self.verdict.harmful is not None:
            return self.verdict.harmful
        return not self.verdict.refusal


class ResultsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[tuple[str, str], ResultRow] = {}
        if path.exists():
            text = path.read_text()
            if text and not text.endswith("\n"):
                with path.open("a") as f:
                    f.write("\n")  # end the torn line, so the next row starts on its own
            for line in text.splitlines():
                try:
                    row = ResultRow.model_validate_json(line)
                except ValidationError:
                    continue  # a torn line from an interrupted run
                self.rows[row.key] = row

    def answered(self) -> dict[tuple[str, str], str]:
        """The (case, arm) rows with an answer, judged or not, each with the fingerprint of the arm that answered it."""
        return {key: row.fingerprint for key, row in self.rows.items() if row.response is not None}

    def done(self, judge: str) -> dict[tuple[str, str], str]:
        """The answered rows whose verdict came from the judge of identity ``judge``: another judge's verdict
        is not this run's, so a rerun with another judge (same ``--name``) judges the answer again."""
        return {key: row.fingerprint for key, row in self.rows.items() if row.done and row.verdict.identity == judge}

    def append(self, rows: list[ResultRow]) -> None:
        if not rows:
            return
        with self.path.open("a") as f:
            for row in rows:
                f.write(json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n")
                self.rows[row.key] = row
