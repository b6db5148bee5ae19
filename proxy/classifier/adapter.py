"""The encoder's low-rank adapter: this project's tuning of all-MiniLM-L6-v2, merged into its weights at load.

Why tune the encoder at all: a frozen sentence embedding places text by topic
more than by intent, so "keep a bike from being stolen" sits beside "steal a
bike", and no head on top can pull them apart reliably. Tuning the encoder on
the labelled set (``finetune.py``) halved the held-out false-positive rate at
the same recall (0.036 to 0.018), and raised the recall of the combined input
(instruction plus image text) from 0.87 to 0.95, measured on the same data and
split with the heads refitted either way.

Why low-rank: a full fine-tune would ship another 90 MB of weights. A rank-16
update ``B @ A`` of the six linear maps in each of the six layers is about
660,000 numbers (1.2 MB as float16 in ``adapter.npz``; ``finetune.Settings``
says why 16), and once added to the weights at load time it costs nothing per
request.

The file holds, for each ``"<layer>.<target>"``, ``A`` (rank x in) and ``B``
(out x rank) with the LoRA scale already folded into ``B``.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

ADAPTER_FILE = "adapter.npz"
#: The linear maps of a BERT layer that get an update: attention's four and the feed-forward's two.
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def default_path() -> Path:
    return Path(str(resources.files("proxy.classifier").joinpath(ADAPTER_FILE)))


def fingerprint(path: Path) -> str:
    """A short content hash: a head records it, so it is never served on another adapter's features."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def linear(layer: Any, target: str) -> Any:
    """The ``torch.nn.Linear`` at dotted path ``target`` inside one encoder layer."""
    module = layer
    for name in target.split("."):
        module = getattr(module, name)
    return module


def save(path: Path, factors: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write ``{"<layer>.<target>": (A, scaled B)}`` as float16."""
    arrays = {}
    for key, (a, b) in factors.items():
        arrays[f"{key}.A"] = a.astype(np.float16)
        arrays[f"{key}.B"] = b.astype(np.float16)
    np.savez_compressed(path, **arrays)


def merge(model: Any, path: Path) -> None:
    """Add each update ``B @ A`` to its weight, in the weights' own (float32) precision, in place."""
    import torch

    with np.load(path, allow_pickle=False) as data:
        expected = {f"{i}.{t}.{m}" for i in range(len(model.encoder.layer)) for t in TARGETS for m in "AB"}
        if set(data.files) != expected:
            raise ValueError(f"{path} is not an adapter for this encoder (its keys differ)")
        with torch.no_grad():
            for i, layer in enumerate(model.encoder.layer):
                for target in TARGETS:
                    weight = linear(layer, target).weight
                    update = data[f"{i}.{target}.B"].astype(np.float32) @ data[f"{i}.{target}.A"].astype(np.float32)
                    if update.shape != tuple(weight.shape):
                        raise ValueError(f"{path}: {i}.{target} is {update.shape}, the encoder's is {tuple(weight.shape)}")
                    weight += torch.from_numpy(update).to(weight.dtype)
