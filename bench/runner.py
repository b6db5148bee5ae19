"""The runner: every case to every arm, concurrently, with retries, the answer cache, judging and resume.

Per case, the messages are rendered once (in a thread: Pillow and PNG encoding
are CPU work) and sent to each arm that still lacks an answer, so the arms see
identical bytes and the proxy's OCR cache serves the second arm. Answers are
judged in batches and appended to ``results.jsonl``; an interrupted run loses
at most the batch in flight, and those answers are in the cache. A verdict is
kept with the identity of the judge that gave it: an answer its arm still
stands behind, judged by another judge (a rerun under the same ``--name``), is
judged again without asking the arm.
"""

from __future__ import annotations

import asyncio
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from bench import cache as answer_cache
from bench.judges.verdict import Answer, Judge
from bench.results import ResultRow, ResultsFile, VerdictRow
from bench.suite.attacks import Case, sent_text
from bench.targets import Arm, ArmError, Reply
from proxy.errors import redact

JUDGE_BATCH = 64
Render = Callable[[Case], list[dict[str, Any]]]


@dataclass
class RunStats:
    asked: int = 0
    cached: int = 0
    errors: int = 0
    retries: int = 0
    rejudged: int = 0
    judge_failures: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    retry_kinds: dict[str, int] = field(default_factory=dict)

    def count(self, err: ArmError, retried: bool) -> None:
        """Count a failed call by its kind, as a retry or as a final error."""
        kinds = self.retry_kinds if retried else self.error_kinds
        kind = f"HTTP {err.status}" if err.status else "connection/timeout"
        kinds[kind] = kinds.get(kind, 0) + 1
        if retried:
            self.retries += 1
        else:
            self.errors += 1

    def describe(self) -> str:
        """One line for the end of a run; where answers are missing, or needed asking again, it says why."""
        line = f"answers: {self.asked} asked, {self.cached} from cache, {self.errors} errors{_kinds(self.error_kinds)}, {self.retries} retries{_kinds(self.retry_kinds)}"
        if self.rejudged:
            line += f"; {self.rejudged} kept answers judged again (their verdicts were another judge's, or none)"
        if self.judge_failures:
            line += f"; {self.judge_failures} answers left unjudged by a judge failure (rerun the same command to judge them)"
        return line


def _kinds(kinds: dict[str, int]) -> str:
    return " (" + ", ".join(f"{n} x {kind}" for kind, n in sorted(kinds.items())) + ")" if kinds else ""


async def send(arm: Arm, messages: list[dict[str, Any]], retries: int, stats: RunStats, base_delay_s: float = 0.5) -> Reply:
    """One call with exponential backoff and jitter on 429, 5xx and timeouts."""
    for attempt in range(retries + 1):
        try:
            return await arm.send(messages)
        except ArmError as err:
            if not err.retry or attempt == retries:
                raise
            stats.count(err, retried=True)
            await asyncio.sleep(base_delay_s * 2**attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def row_for(case: Case, arm: Arm, messages: list[dict[str, Any]], reply: Reply | None, error: str | None, cached: bool) -> ResultRow:
    """The row of one answer: ``prompt`` is what the model was sent, ``question`` what the judge weighs it against."""
    item = case.item
    base = {"case_id": case.id, "item_id": item.id, "source": item.source, "scenario": item.scenario, "attack": case.attack, "harmful": item.harmful, "arm": arm.name, "prompt": sent_text(messages), "question": item.question, "fingerprint": arm.fingerprint}
    if reply is None:
        return ResultRow(**base, error=error)
    return ResultRow(
        **base,
        response=reply.content,
        latency_ms=reply.latency_ms,
        overhead_ms=reply.overhead_ms,
        blocked=reply.blocked,
        decision=reply.decision,
        guard_scenario=reply.scenario,
        guard_policy=reply.policy,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cost_usd=reply.cost_usd,
        cached=cached,
    )


class Runner:
    """``judge_identity`` names what decides the verdicts (``bench.run.judge_identity``); ``read_cache`` False
    asks every arm again and refreshes the cache (``--fresh``: its latencies are this run's)."""

    def __init__(self, arms: list[Arm], judge: Judge, results: ResultsFile, render: Render, *, judge_identity: str, cache: answer_cache.ResponseCache | None, read_cache: bool = True, concurrency: int = 8, retries: int = 3, progress: bool = True) -> None:
        self.arms, self.judge, self.judge_identity, self.results, self.render = arms, judge, judge_identity, results, render
        self.cache, self.read_cache = cache, read_cache
        self.concurrency, self.retries, self.progress = concurrency, retries, progress
        self.stats = RunStats()
        self._pending: list[ResultRow] = []
        self._judge_lock = asyncio.Lock()

    async def _answer(self, arm: Arm, messages: list[dict[str, Any]], digest: str) -> tuple[Reply | None, str | None, bool]:
        cache_key = answer_cache.key(arm.fingerprint, digest) if self.cache else ""
        if self.cache and self.read_cache and (hit := self.cache.get(cache_key)) is not None:
            self.stats.cached += 1
            return hit, None, True
        try:
            reply = await send(arm, messages, self.retries, self.stats)
        except ArmError as err:
            self.stats.count(err, retried=False)
            return None, str(err), False
        self.stats.asked += 1
        if self.cache:
            self.cache.put(cache_key, reply)
        return reply, None, False

    async def _flush(self, force: bool = False) -> None:
        async with self._judge_lock:
            if not self._pending or (len(self._pending) < JUDGE_BATCH and not force):
                return
            batch, self._pending = self._pending, []
            answered = [r for r in batch if r.response is not None]
            try:
                verdicts = await self.judge.judge([Answer(f"{r.case_id}|{r.arm}", r.question, r.response, r.scenario, benign=not r.harmful, blocked=r.blocked) for r in answered])
                for row, verdict in zip(answered, verdicts):
                    if verdict.failed:  # left unjudged: a hole the report counts and a rerun judges again
                        self.stats.judge_failures += 1
                        row.judge_error = redact(verdict.reason or "the judge gave no verdict", [])
                        continue
                    row.verdict = VerdictRow(refusal=verdict.refusal, harmful=verdict.harmful, judge=verdict.judge, rating=verdict.rating, reason=verdict.reason, identity=self.judge_identity)
                    row.judge_error = None
            except Exception as err:  # a judge outage leaves rows unjudged; the next run judges them
                self.stats.judge_failures += len(answered)
                for row in answered:
                    row.judge_error = redact(f"{type(err).__name__}: {err}", [])[:300]  # a provider's message may quote the key
                print(f"mmguard bench: judge {self.judge.name} failed on a batch ({type(err).__name__}); rerun to judge those rows", file=sys.stderr)
            self.results.append(batch)

    async def _case(self, case: Case, arms: list[Arm], semaphore: asyncio.Semaphore, bar: Any) -> None:
        async with semaphore:
            messages = await asyncio.to_thread(self.render, case)
            digest = answer_cache.messages_digest(messages) if self.cache else ""
            answers = await asyncio.gather(*(self._answer(arm, messages, digest) for arm in arms))
        for arm, (reply, error, cached) in zip(arms, answers):
            self._pending.append(row_for(case, arm, messages, reply, error, cached))
        if bar is not None:
            bar.update(len(arms))
        await self._flush()

    async def _record_sent_prompts(self, cases: list[Case], answered: dict[tuple[str, str], str]) -> None:
        """Rows kept from before ``prompt`` was the text sent get it now, by rendering their case again:
        their answer stands, so a resumed run does not ask it again."""
        for case in cases:
            stale = [row for a in self.arms if (row := self.results.rows.get((case.id, a.name))) is not None and row.prompt is None and answered.get(row.key) == a.fingerprint]
            if stale:
                prompt = sent_text(await asyncio.to_thread(self.render, case))
                self.results.append([row.model_copy(update={"prompt": prompt}) for row in stale])

    async def _judge_again(self, rows: list[ResultRow]) -> None:
        """Kept answers without this judge's verdict, judged in batches as new answers are; the arm is not asked."""
        self.stats.rejudged += len(rows)
        for start in range(0, len(rows), JUDGE_BATCH):
            self._pending += [row.model_copy(update={"verdict": None}) for row in rows[start:start + JUDGE_BATCH]]
            await self._flush(force=True)

    async def run(self, cases: list[Case]) -> RunStats:
        """Answer and judge every (case, arm) not yet done in the results file by this very arm and judge: a row
        answered through another guard build (its fingerprint differs) is asked again, not reused; an answer
        the arm still stands behind, but without this judge's verdict, is judged again, not asked."""
        answered = self.results.answered()
        await self._record_sent_prompts(cases, answered)
        done = self.results.done(self.judge_identity)
        current = {(case.id, a.name) for case in cases for a in self.arms if answered.get((case.id, a.name)) == a.fingerprint}
        await self._judge_again([self.results.rows[key] for key in sorted(current - done.keys())])
        todo = [(case, [a for a in self.arms if (case.id, a.name) not in current]) for case in cases]
        todo = [(case, arms) for case, arms in todo if arms]
        bar = None
        if self.progress and todo:
            from tqdm import tqdm

            bar = tqdm(total=sum(len(a) for _, a in todo), unit="answer", desc="bench", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        semaphore = asyncio.Semaphore(self.concurrency)
        try:
            await asyncio.gather(*(self._case(case, arms, semaphore, bar) for case, arms in todo))
        finally:
            await self._flush(force=True)
            if bar is not None:
                bar.close()
        return self.stats
