"""The default classifier: MiniLM features and two small heads.

``head.npz`` beside this file holds both heads (float16, about 1.5 MB):

- a harm head, one hidden layer of 128 ReLU units and a logistic output: is
  this an in-scope request at all? A linear head could not separate "regrout a
  bathroom floor" from "launder cash through a car wash" well enough: on the
  held-out set the hidden layer raised AUC from 0.981 to 0.992 and halved the
  false positives at the same threshold. The head is the mean of four such
  networks trained from different seeds: one network's AUC hardly moved with
  its seed, but its false-positive rate at 0.5 ranged from 2.7% to 5.8%;
- a scenario head, softmax over the 13 scenarios, trained on in-scope requests
  only: which scenario is it?

Two heads rather than one 14-way softmax, because the benign look-alikes of
every scenario are one class with many topics; folding them into a softmax
beside 13 small classes made the benign class the hardest to learn.
Per-scenario probability is ``harm * P(scenario | in scope)``. The heads are
trained by ``mmguard train-classifier`` (``train.py``) on the project's own
labelled set, so inference needs numpy and the encoder, nothing else.
``neighbours.npz``, written beside the head by the same command, adds the
nearest training example's label as a second opinion (``neighbours.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import threadpoolctl

from proxy.classifier import Scores
from proxy.classifier.encoder import Encoder, shared_encoder
from proxy.classifier.neighbours import NEIGHBOURS_FILE, Neighbours
from proxy.lru import LRU

HEAD_FILE = "head.npz"
#: Texts whose scores are remembered (the encoder's feature cache holds as many).
MEMORY = 4096


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Head:
    hidden_weights: np.ndarray  # (members, dim, hidden)
    hidden_bias: np.ndarray  # (members, hidden)
    harm_weights: np.ndarray  # (members, hidden)
    harm_bias: np.ndarray  # (members,)
    scenario_weights: np.ndarray  # (scenarios, dim)
    scenario_bias: np.ndarray  # (scenarios,)
    scenarios: tuple[str, ...]
    features: str  # the encoder output it was trained on (``encoder.FEATURES``)

    def harm(self, features: np.ndarray) -> np.ndarray:
        # matmul broadcasts the members onto BLAS: 0.07 ms for two inputs, where the same einsum took 0.34
        hidden = np.maximum(np.matmul(features[None], self.hidden_weights) + self.hidden_bias[:, None, :], 0.0)
        logits = np.einsum("mnh,mh->mn", hidden, self.harm_weights) + self.harm_bias[:, None]
        return (1.0 / (1.0 + np.exp(-logits))).mean(axis=0)

    def scenario_probabilities(self, features: np.ndarray) -> np.ndarray:
        return _softmax(features @ self.scenario_weights.T + self.scenario_bias)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            hid_w=self.hidden_weights.astype(np.float16),
            hid_b=self.hidden_bias.astype(np.float32),
            harm_w=self.harm_weights.astype(np.float32),
            harm_b=self.harm_bias.astype(np.float32),
            scen_w=self.scenario_weights.astype(np.float16),
            scen_b=self.scenario_bias.astype(np.float32),
            scenarios=np.array(self.scenarios),
            features=np.array(self.features),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> "Head":
        path = path or Path(str(resources.files("proxy.classifier").joinpath(HEAD_FILE)))
        with np.load(path, allow_pickle=False) as data:
            single = data["hid_w"].ndim == 2  # a head from before the ensemble: one network
            member = (lambda a: a[None]) if single else (lambda a: a)
            return cls(
                member(data["hid_w"].astype(np.float32)),
                member(data["hid_b"].astype(np.float32)),
                member(data["harm_w"].astype(np.float32)),
                data["harm_b"].astype(np.float32).reshape(-1),
                data["scen_w"].astype(np.float32),
                data["scen_b"].astype(np.float32),
                tuple(str(c) for c in data["scenarios"]),
                str(data["features"]) if "features" in data.files else "unrecorded",
            )


class EmbeddingClassifier:
    name = "embedding"

    def __init__(self, head: str | None = None, encoder: Encoder | None = None) -> None:
        self._head = Head.load(Path(head) if head else None)
        self._neighbours = Neighbours.load(Path(head).with_name(NEIGHBOURS_FILE) if head else None)
        self._encoder = encoder or shared_encoder()
        # The heads' matrix products are small, and they already run on the guard's own worker threads:
        # BLAS threads on top of those fought them for the cores (cached images took 50 ms, not 2).
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        if self._head.features != self._encoder.features:
            raise ValueError(
                f"the head {head or HEAD_FILE} was trained on features {self._head.features!r}, but the encoder gives "
                f"{self._encoder.features!r}: retrain it with `mmguard train-classifier`"
            )
        if self._neighbours is not None and self._neighbours.features != self._encoder.features:
            raise ValueError(f"{NEIGHBOURS_FILE} beside the head does not match the encoder: retrain with `mmguard train-classifier`")
        self._memory: LRU[Scores] = LRU(MEMORY)

    def classify(self, texts: list[str]) -> list[Scores]:
        """Scores in order; a text seen lately is answered from memory, the rest in one batch.

        The encoder caches features, but the heads and the nearest-example
        search still cost about 1 ms a request on each repeat (a cached image's
        text, a retried prompt); the finished scores cost a lookup.
        """
        return self._memory.get_many(texts, self._score)

    def _score(self, texts: list[str]) -> list[Scores]:
        features = self._encoder.encode(texts)
        harm = self._head.harm(features)
        scenarios = self._head.scenario_probabilities(features)
        names = self._head.scenarios
        near = self._neighbours.nearest(features) if self._neighbours is not None else [None] * len(texts)
        return [
            Scores(float(h), {n: float(h * p) for n, p in zip(names, row)}, near_example)
            for h, row, near_example in zip(harm, scenarios, near)
        ]
