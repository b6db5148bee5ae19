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
    # A benign control, not a harmful request. MM-SafetyBench's criteria (a "not a licensed professional"
    # disclaimer, a refusal to lobby or to make government decisions) are about harmful requests: a crochet
    # answer is neither harmful for lacking a disclaimer nor judged by one. False when unknown, as in
    # MM-SafetyBench, whose requests are all harmful.
    benign: bool = False
    # The proxy stopped the request (the caller saw its block decision). Its block answer is a refusal whatever
    # its wording, which a policy may change, so no judge model is asked about it.
    blocked: bool = False


class Judge(Protocol):
    name: str

    async def judge(self, answers: list[Answer]) -> list[Verdict]: ...  # same order


def resolve_scenario(scenario: str | None) -> str | None:
    """A scenario id or an MM-SafetyBench folder name ("08-Political_Lobbying") -> the id; None, and the
    suite's ``NO_SCENARIO`` (XSTest's unscoped prompts, SafeBench's MiniBench), -> None.

    An unknown name is an error naming the valid ids: judged under no scenario, a legal-advice answer would
    silently escape MM-SafetyBench's disclaimer criterion. ``NO_SCENARIO`` is not unknown: the loaders give it
    to items that belong to no scenario, and taking it for a typo failed every batch that held one.
    """
    from bench.suite.item import NO_SCENARIO

    if scenario is None or scenario == NO_SCENARIO:
        return None
    from proxy.scenarios import SCENARIOS, by_id, by_mmsb_name

    for lookup in (by_id, by_mmsb_name):
        try:
            return lookup(scenario).id
        except KeyError:
            pass
    raise ValueError(f"unknown scenario {scenario!r}; scenarios: {', '.join(s.id for s in SCENARIOS)} (or MM-SafetyBench's names, e.g. {SCENARIOS[0].mmsb_name})")
