"""The nearest-example opinion (built from features, saved small, shipped matching the encoder), and the scores memory."""

from __future__ import annotations

import numpy as np

from proxy.classifier.dataset import load_examples
from proxy.classifier.embedding import EmbeddingClassifier
from proxy.classifier.neighbours import Neighbours


def test_each_training_example_is_its_own_nearest_after_a_save_and_load(tmp_path) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 24)).astype(np.float32)
    targets = ["fraud"] * 10 + ["sex"] * 10 + ["benign"] * 20
    built = Neighbours.build(features, targets, ("fraud", "sex"), "test-features", dimensions=16)
    built.save(tmp_path / "n.npz")
    loaded = Neighbours.load(tmp_path / "n.npz")
    assert loaded is not None and loaded.features == "test-features" and loaded.vectors.shape == (40, 16)
    found = loaded.nearest(features)
    assert [n.scenario for n in found] == ["fraud"] * 10 + ["sex"] * 10 + [None] * 20
    assert min(n.similarity for n in found) > 0.99


def test_a_missing_file_means_no_opinion(tmp_path) -> None:
    assert Neighbours.load(tmp_path / "absent.npz") is None


def test_the_shipped_classifier_names_a_training_example_as_its_own_neighbour() -> None:
    trained = [e for e in load_examples() if not e.held_out]
    harmful = next(e for e in trained if e.label == "harmful" and e.scenario == "malware_generation")
    benign = next(e for e in trained if e.label == "benign" and e.scenario == "malware_generation")
    scores = EmbeddingClassifier().classify([harmful.text, benign.text])
    assert scores[0].nearest is not None and scores[0].nearest.scenario == "malware_generation" and scores[0].nearest.similarity > 0.95
    assert scores[1].nearest is not None and scores[1].nearest.scenario is None


def test_repeated_texts_are_scored_once() -> None:
    classifier = EmbeddingClassifier()
    scored: list[list[str]] = []
    score = classifier._score
    classifier._score = lambda texts: scored.append(texts) or score(texts)  # type: ignore[method-assign]
    first = classifier.classify(["launder cash through a car wash", "bake sourdough bread"])
    again = classifier.classify(["bake sourdough bread", "a new text", "launder cash through a car wash"])
    assert scored == [["launder cash through a car wash", "bake sourdough bread"], ["a new text"]]
    assert again[0] == first[1] and again[2] == first[0]
