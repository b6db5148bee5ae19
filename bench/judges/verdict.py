"""The judge boundary: what every bench judge takes and returns.

A judge reads a model's answers and says, for each, whether the model refused
and (if the judge can tell) whether the answer is harmful. Judges take *batches*
rather than one answer at a time, because the two kinds of judge want opposite
things from a batch: a cheap offline judge (``refusal``) can vectorise or
simply loop without per-call overhead over thousands of answers, while an LLM
judge (``llm``, ``jury``) can send the whole batch concurrently under its own
rate limit. Either way the caller hands over a list and gets back one verdict
per answer, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    refusal: bool
    harmful: bool | None   # None: this judge does not decide harm
    judge: str
    rating: float | None = None   # SafeBench's 1–5 safety rating (jury), else None
    reason: str | None = None
    # The judge could not decide: its call failed for good, or its reply said neither safe nor unsafe. Such a
    # verdict is not one: counted as "not a refusal" it made every such answer a successful attack.
    failed: bool = False


@dataclass(frozen=True)
class Answer:
    id: str
    prompt: str
    response: str
    scenario: str | None = None


class Judge(Protocol):
    name: str

    async def judge(self, answers: list[Answer]) -> list[Verdict]: ...  # same order
