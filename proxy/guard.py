"""The guard pipeline: read every image, judge the request as a whole, decide, and shape what the model sees.

Steps, each timed (``GuardOutcome.timings_ms``: fetch, decode, ocr, classify,
total; a stage that did not run, such as OCR when every image was cached, has no key):
1. intake: every image of every user turn, its bytes fetched or taken from its
   ``data:`` URL under the policy's limits (``fetch``), then its pixels decoded
   (``decode``, skipped for images already in the OCR cache);
2. OCR: the text in each image (cached by content hash);
3. classify: three inputs, the users' text, the images' text, and both together
   (MM-SafetyBench's harm only appears when "List steps in detail to perform
   this activity" meets the phrase in the image; a ``Joined``, which the
   default classifier pools from the two it has read), plus the policy's rules; a
   text scored low whose nearest labelled example is in scope is annotated
   where the policy asks (``classifier.nearest_example``), and there a score
   high enough to block blocks only if that example agrees; where the policy
   asks (``classifier.unframe``), an input that opens with an informational
   frame ("Details on ...") is read again without it, and counts as the more
   harmful of its two readings (the shipped policies: the images' words);
4. decide: the most severe action any finding calls for;
5. shape: ``block`` stops here; ``annotate`` adds the images' text to the prompt,
   delimited, so the model's own alignment sees it (after ECSO); the safety
   prompt is added last, exactly once.

The same ``Guard`` serves the proxy, ``mmguard check`` and the benchmark.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from proxy.classifier import Classifier, Input, Joined, Neighbour, Scores, build_classifier, normalize
from proxy.errors import ProxyError
from proxy.frames import unframe_input
from proxy.intake import ImageIntake, LoadedImage, image_refs, refuse_unread_parts
from proxy.ocr import APOSTROPHES, OcrEngine, OcrResult
from proxy.policy import SEVERITY, Action, Policy, Source
from proxy.request import ChatRequest
from proxy.safety_prompt import Placement, apply_safety_prompt
from proxy.scenarios import by_id

log = logging.getLogger("mmguard.guard")

#: How much of the conversation's user text is judged: the tail, where the live request is,
#: long enough to hold a request split over several turns.
USER_TEXT_CHARS = 600
IMAGE_TEXT_CHARS = 800
#: The ``rule`` a finding names when the nearest labelled example, not a score, raised it.
NEAREST_EXAMPLE = "nearest-example"
#: The ``rule`` of a score high enough to block that annotates instead, its nearest example not agreeing.
UNCONFIRMED = "unconfirmed"
#: The ``rule`` of a block that annotates instead because another input of ``classifier.agree`` is not backed (``agreed``).
ONE_SIDED = "one-sided"
#: The ``rule`` of a score from an input's second reading, its informational frame taken out (``classifier.unframe``).
UNFRAMED = "unframed"


@dataclass(frozen=True)
class Finding:
    """One reason to act: which input, which scenario, how sure, and which rule if a rule fired."""

    source: Source
    scenario: str | None
    score: float
    action: Action
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "scenario": self.scenario, "score": round(self.score, 4), "action": self.action, "rule": self.rule}


@dataclass(frozen=True)
class GuardOutcome:
    decision: Action
    policy: str
    messages: list[dict[str, Any]]
    defenses: tuple[str, ...] = ()
    finding: Finding | None = None
    findings: tuple[Finding, ...] = ()
    ocr_texts: tuple[str, ...] = ()
    image_hashes: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    would: Action | None = None  # in monitor mode: what enforcing would have done
    top_harm: float | None = None  # the highest harm score of any input, when the classifier ran


def user_text(request: ChatRequest, chars: int = USER_TEXT_CHARS) -> str:
    """The text of all user turns, joined, keeping the most recent ``chars`` characters."""
    joined = "\n".join(m.text() for m in request.messages if m.role == "user" and m.text())
    return joined[-chars:]


def clean_ocr(result: OcrResult, min_confidence: float) -> str:
    """The words OCR is reasonably sure of; noise from photos and textures is dropped."""
    if not result.words:
        return result.text
    return " ".join(w.text for w in result.words if w.confidence >= min_confidence)


def inputs(policy: Policy, text: str, image_text: str) -> dict[Source, Input]:
    """The three inputs the guard judges, normalised, without empty ones or those the policy skips."""
    text, image_text = normalize(text), normalize(image_text)  # whitespace folded: a blank text is ""
    candidates: dict[Source, Input] = {"text": text, "ocr": image_text}
    if text and image_text:
        candidates["combined"] = Joined(text, image_text)
    return {s: t for s, t in candidates.items() if t and s in policy.sources}


#: Every apostrophe tesseract returns as a plain one: it reads a typed ' as ’, and rules are written with '.
_PLAIN_APOSTROPHES = str.maketrans(dict.fromkeys(APOSTROPHES, "'"))


def rule_findings(policy: Policy, texts: dict[Source, Input]) -> list[Finding]:
    found = []
    plain = {source: str(text).translate(_PLAIN_APOSTROPHES) for source, text in texts.items()}
    for rule in policy.rules:
        pattern = rule.compiled()
        for source, text in plain.items():
            if source in rule.sources and pattern.search(text):
                found.append(Finding(source, rule.scenario, 1.0, rule.action, rule.name))
                break
    return found


def unframed(texts: dict[Source, Input], sources: list[Source]) -> dict[Source, Input]:
    """The second reading of each input of ``sources`` that has an informational frame: the text without it (``proxy/frames.py``)."""
    return {source: second for source, text in texts.items() if source in sources and (second := unframe_input(text)) is not None}


def stronger_readings(sources: list[Source], scores: list[Scores], seconds: dict[Source, Scores]) -> tuple[list[Scores], frozenset[Source]]:
    """Each input's more harmful reading, and the inputs whose second reading (``unframed``) was it."""
    chosen = [seconds[s] if s in seconds and seconds[s].harm > score.harm else score for s, score in zip(sources, scores)]
    return chosen, frozenset(s for s, score, pick in zip(sources, scores, chosen) if pick is not score)


def score_findings(policy: Policy, texts: dict[Source, Input], scores: list[Scores], second_read: frozenset[Source] = frozenset()) -> list[Finding]:
    """The classifier's findings: a scenario's threshold reached, or else, where the policy asks, an in-scope nearest example.

    Where the policy sets ``nearest_example.confirm_block``, a score that would
    block blocks only if the nearest labelled example agrees: that similar, and
    of a scenario the policy blocks too. Otherwise it annotates, and the finding
    names the rule ``unconfirmed``. A neighbour from a scenario the policy only
    annotates does not agree: the heads confuse a personal finance question
    with economic harm ("my payoff plan for three maxed-out cards"), and its
    nearest example, a financial-advice request, says so. Backends that keep no examples have no neighbour to ask,
    and their blocks stand. Where the policy sets ``classifier.agree``, see ``agreed``. A finding from an input in
    ``second_read`` (its informational frame taken out, ``stronger_readings``) names the rule ``unframed``.
    """
    found, backed = [], set()
    near = policy.classifier.nearest_example
    for source, score in zip(texts, scores):
        scenario = score.scenario
        action = policy.scenario(scenario).action_for(score.harm) if scenario is not None else None
        neighbour = score.nearest
        confirmed = near is None or near.confirm_block is None or neighbour is None or _agrees(policy, neighbour, near.confirm_block)
        if action is not None and confirmed:
            backed.add(source)
        if action == "block" and not confirmed:
            found.append(Finding(source, scenario, score.harm, "annotate", UNCONFIRMED))
        elif action is not None:
            found.append(Finding(source, scenario, score.harm, action, UNFRAMED if source in second_read else None))
        elif near is not None and neighbour is not None and neighbour.scenario is not None and source in near.sources:
            if neighbour.similarity >= near.min_similarity and policy.scenario(neighbour.scenario).action != "allow":
                found.append(Finding(source, neighbour.scenario, score.harm, "annotate", NEAREST_EXAMPLE))
    return agreed(policy.classifier.agree, set(texts), backed, found)


def _agrees(policy: Policy, neighbour: Neighbour, min_similarity: float) -> bool:
    """Whether the nearest example backs a score: that similar, and of a scenario the policy blocks."""
    return neighbour.scenario is not None and neighbour.similarity >= min_similarity and policy.scenario(neighbour.scenario).action == "block"


def agreed(agree: list[Source], present: set[Source], backed: set[Source], found: list[Finding]) -> list[Finding]:
    """``found``, with blocks from the inputs of ``agree`` turned to annotations (rule ``one-sided``) unless every such input present is backed.

    Backed: scored at or above its scenario's threshold, its nearest example
    agreeing where the policy asks for that. An image's words alone and the
    whole request are two readings of one request; when only one of them
    looks harmful, the block rests on one reading, and the model is shown the
    text instead.
    """
    quorum = [s for s in agree if s in present]
    if len(quorum) < 2 or all(s in backed for s in quorum):
        return found
    return [replace(f, action="annotate", rule=ONE_SIDED) if f.action == "block" and f.source in quorum else f for f in found]


def sure_benign(findings: Sequence[Finding], top_harm: float | None, failed: bool, skip_below: float | None) -> bool:
    """Whether the guard is sure a request is benign at ``skip_below``: the classifier ran without error
    on at least one input, every score was under ``skip_below``, and nothing (no rule, no score) was found.

    One predicate for the proxy (``needs_safety_prompt``) and for ``mmguard eval-guard``, which reports
    how many requests each value would spare, so the number a policy sets is the number measured.
    """
    return skip_below is not None and not failed and not findings and top_harm is not None and top_harm < skip_below


def needs_safety_prompt(policy: Policy, findings: list[Finding], top_harm: float | None, error: Exception | None) -> bool:
    """Whether the request gets the safety prompt: always, unless the policy spares requests the guard is sure are benign."""
    prompt = policy.safety_prompt
    return prompt.enabled and not sure_benign(findings, top_harm, error is not None, prompt.skip_below)


def decide(findings: list[Finding]) -> Finding | None:
    """The finding that decides: the most severe action, then the surer kind of finding, then the higher score."""
    if not findings:
        return None
    return max(findings, key=lambda f: (SEVERITY[f.action], _sureness(f), f.score))


def _sureness(finding: Finding) -> int:
    """A policy rule is surer than a classifier score (from either reading), which is surer than a nearest example or an unconfirmed score."""
    if finding.rule in (NEAREST_EXAMPLE, UNCONFIRMED, ONE_SIDED):
        return 0
    return 2 if finding.rule not in (None, UNFRAMED) else 1


def annotate(messages: list[dict[str, Any]], ocr_texts: tuple[str, ...], policy: Policy, professional: bool) -> list[dict[str, Any]]:
    """Append the images' text, delimited, to the latest user turn; a copy, the input is untouched."""
    quoted = [f"<<<IMAGE {i} TEXT>>>\n{t}\n<<<END IMAGE {i} TEXT>>>" for i, t in enumerate(ocr_texts, 1) if t.strip()]
    blocks = [policy.annotate.instruction, *quoted] if quoted else []
    if professional:
        blocks.append(policy.annotate.professional_instruction)
    if not blocks:
        return messages
    note = {"type": "text", "text": "\n".join(blocks)}
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].get("role") == "user":
            content = out[i].get("content")
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
            out[i] = {**out[i], "content": [*parts, note]}
            break
    return out


class Guard:
    """The pipeline's moving parts: intake, OCR, classifiers (one per backend spec), and a thread pool."""

    def __init__(self, ocr: OcrEngine, workers: int = 2) -> None:
        self.intake = ImageIntake()
        self.ocr = ocr
        self._classifiers: dict[str, Classifier] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classify")

    def classifier(self, policy: Policy) -> Classifier:
        key = json.dumps(policy.classifier.model_dump(), sort_keys=True)
        if key not in self._classifiers:
            self._classifiers[key] = build_classifier(policy.classifier.backend, policy.classifier.options)
        return self._classifiers[key]

    async def _read(self, images: list[LoadedImage], policy: Policy, timings: dict[str, float]) -> list[OcrResult]:
        """OCR text of every image. Cache hits skip decoding altogether; the misses are decoded, then read,
        as two timed phases, so ``decode`` and ``ocr`` each report their own wall time (only when they ran)."""
        hits = [self.ocr.cached(image.sha256) for image in images]
        misses = [image for image, hit in zip(images, hits) if hit is None]
        if not misses:
            return [hit for hit in hits if hit is not None]
        mark = time.perf_counter()
        decoded = await asyncio.gather(*(self.intake.decode(image, policy.limits) for image in misses))
        timings["decode"] = (time.perf_counter() - mark) * 1000
        mark = time.perf_counter()
        read = iter(await asyncio.gather(*(self.ocr.aread(d.image, i.sha256, policy.limits.ocr_timeout_s) for i, d in zip(misses, decoded))))
        timings["ocr"] = (time.perf_counter() - mark) * 1000
        return [hit if hit is not None else next(read) for hit in hits]

    async def classify(self, policy: Policy, texts: list[Input]) -> list[Scores]:
        """Scores of ``texts`` under the policy's classifier, in the guard's pool: the event loop never waits on a model."""
        classifier = self.classifier(policy)
        return await asyncio.get_running_loop().run_in_executor(self._pool, classifier.classify, texts)

    async def inspect(self, request: ChatRequest, policy: Policy, placement: Placement = "prefix") -> GuardOutcome:
        """Decide what happens to ``request``; raises ProxyError (400) for images the client got wrong."""
        start = time.perf_counter()
        timings: dict[str, float] = {}
        messages = request.messages_as_dicts()
        ocr_texts: tuple[str, ...] = ()
        hashes: tuple[str, ...] = ()
        finding: Finding | None = None
        findings: list[Finding] = []
        error: Exception | None = None
        failed: Source = "text"
        top_harm: float | None = None  # the highest harm score of any input, when the classifier ran

        if policy.enabled:
            if policy.mode == "enforce":
                refuse_unread_parts(request, policy.limits)
            images = await self.intake.load(image_refs(request), policy.limits)
            hashes = tuple(i.sha256 for i in images)
            if images:
                timings["fetch"] = (time.perf_counter() - start) * 1000
            try:
                results = await self._read(images, policy, timings)
                ocr_texts = tuple(clean_ocr(r, policy.limits.min_word_confidence) for r in results)
            except ProxyError:
                raise  # a bad image is the client's 400, not a guard failure
            except Exception as err:  # OCR failed: the user's text is still judged, and the fail mode covers the images
                error, failed = err, "ocr"
            texts = inputs(policy, user_text(request), " ".join(t for t in ocr_texts if t)[:IMAGE_TEXT_CHARS])
            mark = time.perf_counter()
            findings = rule_findings(policy, texts)  # sure-fire rules hold even when a model below fails
            if texts:
                try:
                    seconds = unframed(texts, policy.classifier.unframe)
                    scored = await self.classify(policy, [*texts.values(), *seconds.values()])
                    scores, second_read = stronger_readings(list(texts), scored[: len(texts)], dict(zip(seconds, scored[len(texts) :])))
                    findings += score_findings(policy, texts, scores, second_read)
                    top_harm = max((s.harm for s in scores), default=None)
                except Exception as err:  # the classifier failed: the rules' findings stand, the fail mode adds the rest
                    if error is None:
                        error, failed = err, "text"
            timings["classify"] = (time.perf_counter() - mark) * 1000
            if error is not None:
                log.error("guard failed (%s) under policy %s; fail mode %s", type(error).__name__, policy.name, policy.fail_mode)
                if policy.fail_mode == "closed":
                    findings.append(Finding(failed, None, 1.0, "block", "guard_error"))
            finding = decide(findings)

        decision: Action = finding.action if finding else "allow"
        would = None
        if policy.mode == "monitor":
            would, decision = decision, "allow"
        defenses: list[str] = []
        if decision == "annotate":
            professional = finding is not None and finding.scenario is not None and by_id(finding.scenario).professional
            messages = annotate(messages, ocr_texts, policy, professional)
            defenses.append("annotate")
        if decision != "block" and needs_safety_prompt(policy, findings, top_harm, error):
            messages = apply_safety_prompt(messages, policy.safety_prompt.text, placement)
            defenses.append("safety_prompt")
        timings["total"] = (time.perf_counter() - start) * 1000
        failure = None if error is None else f"{type(error).__name__}: {error}"[:300]
        return GuardOutcome(decision, policy.name, messages, tuple(defenses), finding, tuple(findings), ocr_texts, hashes, timings, failure, would, top_harm)

    async def aclose(self) -> None:
        await self.intake.aclose()
        self._pool.shutdown(wait=False)
