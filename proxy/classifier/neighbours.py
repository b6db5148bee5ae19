"""The nearest labelled example: a second opinion on texts the heads score low.

The heads generalise from the labelled set, and in doing so they let some of
it go: on the held-out quarter they miss about 5% of harmful requests, many
of them close kin of a harmful training example ("infect a USB with malware").
The label of the single nearest training example catches about a quarter of
those misses (held-out recall of the text input .956 -> .966 at similarity
0.7, projected to 128 dimensions; with the first, rank-8 adapter it caught
half, 94.5% -> 96.8%), at the price of benign texts flagged 2.5% -> 3.6%.
That price is why its verdict on a low score only ever *annotates*: the model
is shown the image's text and left to judge it, nothing is refused. The same
verdict can also veto a block it disagrees with (``confirm_block`` in the
policy).

``neighbours.npz`` beside the head holds the training examples' features
projected onto their top ``DIMENSIONS`` principal components (the full
1,536-dimensional features would be 19 MB; with 128 dimensions the nearest
example of a held-out text had the same label as in the full space for 98%
of them, and they take 1.6 MB), unit length, float16, with each example's
scenario, or -1 for benign ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from proxy.classifier import Neighbour

NEIGHBOURS_FILE = "neighbours.npz"
DIMENSIONS = 128
BENIGN = -1
#: The similarity from which the nearest example's opinion counts: the policy key's default and the
#: training report's (0.8 kept only a quarter of its gain on the held-out set).
MIN_SIMILARITY = 0.7


@dataclass(frozen=True)
class Neighbours:
    mean: np.ndarray  # (dim,) the training features' mean, subtracted before projecting
    projection: np.ndarray  # (dim, DIMENSIONS)
    # (DIMENSIONS, examples): the examples, unit length, as contiguous columns; multiplying
    # by a transposed view of row vectors cost 0.45 ms a request, this 0.14
    columns: np.ndarray
    labels: np.ndarray  # (examples,) index into scenarios, or BENIGN
    scenarios: tuple[str, ...]
    features: str  # the encoder output they were computed from (``Encoder.features``)

    @property
    def vectors(self) -> np.ndarray:
        """The examples as rows, (examples, DIMENSIONS)."""
        return self.columns.T

    @classmethod
    def build(cls, features: np.ndarray, targets: list[str], scenarios: tuple[str, ...], encoder_features: str, dimensions: int = DIMENSIONS) -> "Neighbours":
        """From training features and their targets (a scenario, or anything else for benign)."""
        mean = features.mean(axis=0)
        _, _, components = np.linalg.svd(features - mean, full_matrices=False)
        projection = components[:dimensions].T.astype(np.float32)
        index = {s: i for i, s in enumerate(scenarios)}
        labels = np.array([index.get(t, BENIGN) for t in targets], np.int8)
        return cls(mean.astype(np.float32), projection, _columns(_unit((features - mean) @ projection)), labels, scenarios, encoder_features)

    def nearest(self, features: np.ndarray) -> list[Neighbour]:
        similarity = _unit((features - self.mean) @ self.projection) @ self.columns
        best = similarity.argmax(axis=1)
        return [
            Neighbour(None if self.labels[i] == BENIGN else self.scenarios[self.labels[i]], float(row[i]))
            for i, row in zip(best, similarity)
        ]

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            mean=self.mean.astype(np.float16),
            projection=self.projection.astype(np.float16),
            vectors=self.vectors.astype(np.float16),
            labels=self.labels,
            scenarios=np.array(self.scenarios),
            features=np.array(self.features),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> "Neighbours | None":
        """The shipped (or given) file; None when there is none, for a head trained without it."""
        path = path or Path(str(resources.files("proxy.classifier").joinpath(NEIGHBOURS_FILE)))
        if not path.is_file():
            return None
        with np.load(path) as data:
            return cls(
                data["mean"].astype(np.float32),
                data["projection"].astype(np.float32),
                _columns(data["vectors"].astype(np.float32)),
                data["labels"].astype(np.int8),
                tuple(str(s) for s in data["scenarios"]),
                str(data["features"]),
            )


def _columns(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows.T)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)
