"""The simulated model's behaviour, as a pure function of what it was sent.

Parameters (set them in the route's ``litellm_params``, see the README):

``sim_comply_rate`` (default 0.20)
    With a safety prompt present, the share of image-borne harmful requests the
    simulator still complies with. After MM-SafetyBench, where the safety prompt
    took LLaVA-1.5-7B from about 77% to about 16% attack success.
``sim_seed`` (default 0)
    Seeds that share. The draw is a hash of the seed and the request, so the
    same request always gets the same answer, and over many distinct requests
    the complied share converges to ``sim_comply_rate``.
``sim_safety_prompt_pattern`` (default ``refuse to answer``)
    How the simulator recognises a safety prompt anywhere in the conversation
    (case-insensitive regex). The MM-SafetyBench sentence matches it.
``sim_disclaimer_pattern`` (default ``not a licensed professional``)
    How the simulator recognises an instruction to disclaim professional
    authority (the guard's annotation for legal, financial, health and
    government questions); when present, a helpful answer opens with that
    disclaimer, as an instruction-following model would.

Behaviour, in order:
1. Overtly harmful text in the request (``lexicon.overtly_harmful``) is refused:
   the language model's own alignment, which only looks at text.
2. Overtly harmful text read in an image is complied with, with a list of
   placeholder steps, unless a safety prompt is present; then it is refused,
   except for the seeded ``sim_comply_rate`` share.
3. Everything else gets a helpful templated answer, opening with a
   disclaimer when the request asks for one.

Of OpenAI's own parameters it honours ``max_tokens`` (litellm passes
``max_completion_tokens`` as that): an answer is cut at that many words, its
tokens here, and ends with ``finish_reason: "length"`` (``within``); and
``n``: as many choices, all the same answer, since the answer is a function
of the request (a stream carries the first).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from proxy.simulator.lexicon import overtly_harmful

Verdict = Literal["refused_text", "refused_image", "complied_image", "helpful"]


@dataclass(frozen=True)
class SimulatorSettings:
    comply_rate: float = 0.20
    seed: int = 0
    safety_prompt_pattern: str = r"refuse to answer"
    disclaimer_pattern: str = r"not a licensed professional"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "SimulatorSettings":
        settings = cls(
            comply_rate=float(params.get("sim_comply_rate", cls.comply_rate)),
            seed=int(params.get("sim_seed", cls.seed)),
            safety_prompt_pattern=str(params.get("sim_safety_prompt_pattern", cls.safety_prompt_pattern)),
            disclaimer_pattern=str(params.get("sim_disclaimer_pattern", cls.disclaimer_pattern)),
        )
        if not 0.0 <= settings.comply_rate <= 1.0:
            raise ValueError("sim_comply_rate must be between 0 and 1")
        return settings


@dataclass(frozen=True)
class SimRequest:
    """What the simulated model perceives: the conversation's text, and the text it read in each image."""

    text: str
    image_texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimAnswer:
    verdict: Verdict
    content: str


def _draw(seed: int, request: SimRequest) -> float:
    """A uniform number in [0, 1) that depends only on the seed and the request."""
    digest = hashlib.sha256(f"{seed}\0{request.text}\0{'|'.join(request.image_texts)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refusal(phrase: str) -> str:
    return (
        "I'm sorry, but I can't help with that. The request asks about "
        f"\"{_quote(phrase)}\", which could cause serious harm, so I won't provide steps or details for it."
    )


def _placeholder_steps(subject: str) -> str:
    steps = "\n".join(
        f"{i}. [placeholder step {i}: mmguard-sim is a simulator and writes no real instructions]" for i in (1, 2, 3)
    )
    return f"Sure! Here are detailed steps for \"{_quote(subject)}\":\n{steps}"


DISCLAIMER = "I am not a licensed professional; please consult a qualified one about your own situation."


def _helpful(request: SimRequest) -> str:
    seen = " ".join(t for t in request.image_texts if t.strip())
    if seen:
        return (
            f"The image shows the text \"{_quote(seen)}\". Here is a helpful answer:\n"
            "1. [simulated helpful point 1]\n2. [simulated helpful point 2]\n3. [simulated helpful point 3]"
        )
    return (
        f"Here is a helpful answer to \"{_quote(request.text, 60)}\": "
        "[simulated helpful content from mmguard-sim, a simulator, not a real model]"
    )


def within(content: str, max_tokens: int | None) -> tuple[str, str]:
    """``content`` cut after ``max_tokens`` words, and the finish reason: ``length`` where it was cut, else ``stop``."""
    words = list(re.finditer(r"\S+", content))
    if max_tokens is None or len(words) <= max_tokens:
        return content, "stop"
    return (content[: words[max_tokens - 1].end()] if max_tokens > 0 else ""), "length"


def answer(request: SimRequest, settings: SimulatorSettings) -> SimAnswer:
    """How the simulator responds; see the module docstring for the rules."""
    in_text = overtly_harmful(request.text)
    if in_text:
        return SimAnswer("refused_text", _refusal(in_text))
    in_image = next((hit for hit in map(overtly_harmful, request.image_texts) if hit), None)
    if in_image:
        guarded = re.search(settings.safety_prompt_pattern, request.text, re.IGNORECASE) is not None
        if guarded and _draw(settings.seed, request) >= settings.comply_rate:
            return SimAnswer("refused_image", _refusal(in_image))
        return SimAnswer("complied_image", _placeholder_steps(" ".join(request.image_texts)))
    content = _helpful(request)
    if re.search(settings.disclaimer_pattern, request.text, re.IGNORECASE):
        content = f"{DISCLAIMER}\n{content}"
    return SimAnswer("helpful", content)
