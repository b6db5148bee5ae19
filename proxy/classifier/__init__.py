"""Scoring text for harm, per scenario, with pluggable backends.

A backend maps texts to ``Scores``: for each scenario, the probability that the
text is an in-scope request of that scenario. The guard runs it on three
inputs per request (the user's text, the text read in the images, and both
together), so that harm which only appears when the instruction meets the
image's phrase is still seen. "Both together" is a ``Joined`` rather than one
string, so that a backend that can judge it from the two parts it has already
read (the default one does) need not read them again; the others read
``str(joined)``, the two texts one after the other.

Backends, by the name a policy uses:

``embedding`` (default)
    all-MiniLM-L6-v2 embeddings and a linear head this project trained on its
    own labelled set; offline. See ``embedding.py`` and ``train.py``.
``llm``
    any litellm model as a judge, e.g. Llama Guard served by vLLM, prompted
    with the MLCommons hazard taxonomy. See ``llm.py``.
``moderation``
    OpenAI's omni-moderation through litellm. See ``moderation.py``.
``hf``
    a local transformers sequence-classification model directory. See ``hf.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


_LONE_BAR = re.compile(r"(?<!\S)\|(?!\S)")
#: A token of nothing but these marks is OCR's noise, not the writer's: JPEG grain read as ":" or "~".
_STRAY_MARKS = re.compile(r"(?<!\S)[:;,.!'`~_^]+(?!\S)")
_LIST_MARKERS = re.compile(r"(?:(?<=\s)|^)(?:\d{1,2}[.)]|[a-z]\))(?=\s|$)", re.IGNORECASE)


def normalize(text: str) -> str:
    """Text as classifiers should see it: without bare list markers or stray marks, a lone "|" read as "I", whitespace folded.

    FigStep images end in an empty list ("1. 2. 3."); the markers carry no
    meaning but pull a short request's embedding toward "numbered list".
    Tesseract often reads a standalone capital I as "|" ("What do | have?"),
    which hides first-person requests for advice. On a grainy page it reads a
    speck as a mark of its own, and one ":" took "Steps to claim unemployment
    benefits in someone else's name." from 0.999 to under every threshold.
    Such tokens were in 6 of 3,333 held-out reads (noisy JPEG, plain, tilted),
    whose scores moved by at most 0.004 without them.
    """
    return " ".join(_LONE_BAR.sub("I", _STRAY_MARKS.sub(" ", _LIST_MARKERS.sub(" ", text))).split())


def combine(user_text: str, image_text: str) -> str:
    """The combined input as one string: the user's words followed by what the images say (``str(Joined)``)."""
    return f"{user_text}\n{image_text}" if user_text and image_text else user_text or image_text


@dataclass(frozen=True)
class Joined:
    """The "combined" input: the user's words and what the images say, judged as one request."""

    user_text: str
    image_text: str

    def __str__(self) -> str:
        return combine(self.user_text, self.image_text)


#: What a backend judges: a text, or a user's text joined with the images' text.
Input = str | Joined


def as_text(inputs: list[Input]) -> list[str]:
    """The inputs as plain strings, for backends that read one string per input."""
    return [str(i) for i in inputs]


@dataclass(frozen=True)
class Neighbour:
    """The labelled example closest to a text: its scenario (None when it is benign) and how similar it is."""

    scenario: str | None
    similarity: float


@dataclass(frozen=True)
class Scores:
    """One text's verdict: how likely it is an in-scope request at all (``harm``), and of which scenario.

    ``harm`` is not the top scenario's probability: a request that is half
    fraud, half economic harm is still wholly harmful. ``nearest`` is, for
    backends that keep their training examples (the default one), the closest
    of them; None from backends that keep no examples.
    """

    harm: float = 0.0
    by_scenario: dict[str, float] = field(default_factory=dict)
    nearest: Neighbour | None = None

    @property
    def scenario(self) -> str | None:
        return max(self.by_scenario, key=self.by_scenario.__getitem__) if self.by_scenario else None


class Classifier(Protocol):
    name: str

    def classify(self, texts: list[Input]) -> list[Scores]:
        """Scores for each input, in order. Blocking: the guard calls it from a worker thread."""
        ...


def _embedding(options: dict[str, Any]) -> Classifier:
    from proxy.classifier.embedding import EmbeddingClassifier

    return EmbeddingClassifier(**options)


def _llm(options: dict[str, Any]) -> Classifier:
    from proxy.classifier.llm import LlmJudge

    return LlmJudge(**options)


def _moderation(options: dict[str, Any]) -> Classifier:
    from proxy.classifier.moderation import ModerationClassifier

    return ModerationClassifier(**options)


def _hf(options: dict[str, Any]) -> Classifier:
    from proxy.classifier.hf import HfClassifier

    return HfClassifier(**options)


BACKENDS: dict[str, Callable[[dict[str, Any]], Classifier]] = {
    "embedding": _embedding,
    "llm": _llm,
    "moderation": _moderation,
    "hf": _hf,
}


def build_classifier(backend: str, options: dict[str, Any] | None = None) -> Classifier:
    if backend not in BACKENDS:
        raise ValueError(f"unknown classifier backend {backend!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[backend](dict(options or {}))
