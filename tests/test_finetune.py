"""The adapter's training (``proxy/classifier/finetune.py``): repeatable, and the anchor takes part in it."""

from __future__ import annotations

import io

import numpy as np

from proxy.classifier.dataset import BENIGN, load_examples
from proxy.classifier.finetune import Settings, finetune


def _pairs() -> list:
    examples = load_examples()
    harmful = [e for e in examples if e.label == "harmful"][:32]
    benign = [e for e in examples if e.label == "benign"][:32]
    return [(e.text, e.target) for e in harmful + benign]


def _train(anchor: float) -> dict:
    settings = Settings(epochs=1.0, anchor=anchor)  # 64 pairs, batches of 32: two steps
    return finetune(_pairs(), settings, stream=io.StringIO())


def test_the_same_data_and_seed_give_the_same_adapter_and_the_anchor_changes_it() -> None:
    first, again, unanchored = _train(4.0), _train(4.0), _train(0.0)
    assert first.keys() == unanchored.keys()
    assert all(np.array_equal(first[k][0], again[k][0]) and np.array_equal(first[k][1], again[k][1]) for k in first)
    assert any(np.abs(first[k][1]).max() > 0 for k in first)  # the update left zero
    assert any(not np.array_equal(first[k][1], unanchored[k][1]) for k in first)
    assert BENIGN in {t for _, t in _pairs()}
