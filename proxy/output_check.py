"""The output-side check: is the model's answer a refusal, and if not, is it harmful?

The guard judges what goes in; this judges what comes out, with the policy's
own classifier (``Guard.classifier``), in the guard's thread pool. An answer
is read in windows of ``output.window_chars`` characters, half a window
apart, so every part of a long answer is read with context and no window is
longer than the classifier reads. The policy's ``output`` section
(``proxy.policy.OutputPolicy``) says what a harmful window does.

Refusal or compliance is decided by a pure function over the answer's
opening: a compact set of refusal openers ("I can't help with", "I'm sorry,
but", "As an AI", the proxy's own block message). A refusal is never harmful
output, although it names what it refuses ("I can't help you make
methamphetamine" scores as high as the request did), and it is not
classified at all. The price: a model that opens with an apology and then
complies anyway is taken at its first word.

Only text is read: a choice whose content is empty or absent (tool calls,
function calls) has nothing to check and is skipped.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from proxy.classifier import Scores, normalize
from proxy.guard import Guard
from proxy.policy import Action, Policy

log = logging.getLogger("mmguard.output")

#: What the proxy did with an answer; also the ``x-mmguard-output`` header's values, with
#: ``deferred`` (read after the answer was sent) and ``skipped`` (no text to read).
Taken = Literal["pass", "flagged", "blocked"]
#: When answers are read: never, after they are sent, or before (and, for streams, while) they are sent.
Plan = Literal["off", "monitor", "block"]

#: Refusals say so at once: only the answer's opening is searched.
REFUSAL_HEAD_CHARS = 200
_REFUSAL = re.compile(
    r"\b(?:"
    r"i(?:'m| am) (?:sorry|afraid),? but"
    r"|sorry,? (?:but )?i (?:can(?:'t|not)|won't|will not|am unable|'m unable)"
    r"|i apologi[sz]e,? but"
    r"|i (?:can(?:'t| ?not)|won't|will not|(?:am|'m) (?:not able|unable) to|must (?:decline|refuse) to) "
    r"(?:help|assist|provide|comply|support|share|give|create|write|generate|fulfil|answer|engage|do that|offer)"
    r"|i must (?:decline|refuse)"
    r"|as an ai\b|as a (?:large )?language model"
    r"|blocked by a content policy"
    r")"
)


def is_refusal(text: str, block_message: str = "") -> bool:
    """Whether the answer opens by refusing; ``block_message`` (the policy's own refusal) counts wherever it opens."""
    head = text[:REFUSAL_HEAD_CHARS].replace("\u2019", "'").lower()
    return bool(_REFUSAL.search(head)) or (bool(block_message) and block_message.lower()[:60] in head)


def answer_texts(body: dict[str, Any]) -> list[str]:
    """The text of every choice of a chat completion that has any; tool calls carry none."""
    texts = []
    for choice in body.get("choices") or []:
        content = (choice.get("message") or {}).get("content") if isinstance(choice, dict) else None
        if isinstance(content, list):  # some providers answer in parts
            content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
        if isinstance(content, str) and content.strip():
            texts.append(content)
    return texts


def windows(text: str, size: int, since: int = 0) -> list[str]:
    """Windows of ``size`` characters covering ``text[since:]``: the newest first, each half a window before the next.

    Every character from ``since`` on is in at least one window, so text that
    only turns harmful beside what follows it is read beside it.
    """
    out, end = [], len(text)
    while True:
        out.append(text[max(0, end - size):end])
        if end - size <= since:
            return out
        end -= max(1, size // 2)


@dataclass(frozen=True)
class OutputVerdict:
    """What the check found in one answer and what the proxy did; for metrics, the decision log and the header."""

    refused: bool
    harm: float  # the deciding window's, else the highest window's
    scenario: str | None
    taken: Taken
    flag: Literal["block", "allow"] | None = None  # a flagged answer's action label: block if the policy blocks it
    error: str | None = None  # the classifier's exception type, when it failed
    ms: float = 0.0  # time spent classifying


@dataclass
class Reading:
    """The windows read so far: the most harmful one, the one the policy acts on most severely, any failure."""

    top: Scores | None = None
    acted: tuple[Scores, Action] | None = None
    error: str | None = None
    ms: float = 0.0


class OutputCheck:
    """One response's output check under one policy: when it runs, and what a window's scores mean.

    ``plan``: ``off`` (the policy reads no answers), ``monitor`` (read after
    the answer is sent: the top-level ``mode: monitor``, ``output.mode:
    monitor``, and ``block`` with ``stream: monitor`` for streams), or
    ``block`` (read before the answer is sent; for streams, as it is sent).
    """

    def __init__(self, guard: Guard, policy: Policy, stream: bool) -> None:
        self.guard = guard
        self.policy = policy
        output = policy.output
        self.window = output.window_chars
        self.would_block = output.mode == "block" and (not stream or output.stream == "buffer")
        self.plan: Plan = "off" if not policy.enabled or output.mode == "off" else "block" if self.would_block and policy.mode == "enforce" else "monitor"

    def refuses(self, text: str) -> bool:
        return is_refusal(text, self.policy.block.message)

    async def read(self, reading: Reading, texts: list[str]) -> None:
        """Classify ``texts`` (windows) and fold their scores into ``reading``; a failure is noted, never raised."""
        if not texts or reading.error is not None:
            return
        start = time.perf_counter()
        try:
            scores = await self.guard.classify(self.policy, [normalize(t) for t in texts])
        except Exception as err:
            reading.error = type(err).__name__
            log.error("output check failed (%s) under policy %s; fail mode %s", reading.error, self.policy.name, self.policy.fail_mode)
            return
        finally:
            reading.ms += (time.perf_counter() - start) * 1000
        for score in scores:
            if reading.top is None or score.harm > reading.top.harm:
                reading.top = score
            action = self._action(score)
            if action is not None and (reading.acted is None or (action == "block", score.harm) > (reading.acted[1] == "block", reading.acted[0].harm)):
                reading.acted = (score, action)

    def _action(self, score: Scores) -> Action | None:
        """The scenario's action for a window at or over the threshold; None below it, or for a scenario the policy allows."""
        if score.harm < self.policy.output.threshold or score.scenario is None:
            return None
        action = self.policy.scenario(score.scenario).action
        return None if action == "allow" else action

    def verdict(self, reading: Reading, refused: bool) -> OutputVerdict:
        """What ``reading`` means under the policy: a failed classifier meets the policy's ``fail_mode``, as on input."""
        shown = reading.acted[0] if reading.acted else reading.top
        harm = shown.harm if shown else 0.0
        # a scenario is named only when a window reached the threshold: "privacy_violence" beside a harm of 0.0 read as a finding
        scenario = reading.acted[0].scenario if reading.acted else None
        if reading.error is not None and self.policy.fail_mode == "closed" and self.would_block:
            flag: Literal["block", "allow"] | None = "block"
            scenario = None
        elif reading.acted is not None:
            flag = "block" if self.would_block and reading.acted[1] == "block" else "allow"
        else:
            flag = None
        taken: Taken = "pass" if flag is None else "blocked" if flag == "block" and self.plan == "block" else "flagged"
        return OutputVerdict(refused, round(harm, 4), scenario, taken, flag, reading.error, round(reading.ms, 3))

    async def judge(self, texts: list[str]) -> OutputVerdict:
        """The verdict on a whole answer (every choice's text); refusals are not classified."""
        reading = Reading()
        complying = [t for t in texts if not self.refuses(t)]
        await self.read(reading, [w for t in complying for w in windows(t, self.window)])
        return self.verdict(reading, refused=bool(texts) and not complying)
