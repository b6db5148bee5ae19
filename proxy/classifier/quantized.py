"""The encoder's network as int8 ONNX, run by ONNX Runtime: built once per adapter, then cached on disk.

Why not torch, which trains it: on one core a short text (13 tokens, an
image's phrase) took 5.1 ms through torch in bfloat16, traced and frozen, and
takes 1.4 ms here (2.1 ms with the weights cold, as they are after an OCR
read has passed through the cache); 26 tokens 6.5 ms against 2.6. ONNX Runtime
in float32 was no faster than torch (4.4 ms), so the gain is int8: the
linear layers' weights are quantized per output channel, and each
activation per call (dynamic quantization), which multiplies in 8-bit
integers, fastest where the CPU has VNNI. Those figures are from
2026-12-06; on 2026-12-07 the same VM reported AVX2 and no VNNI, and the
13-token text took 3.7 ms in int8 and 6.3 ms in float32. int8 slowed 2.7
times and float32 1.4, which fits an int8 path that lost VNNI. Still, int8
is the faster of the two there. Per-tensor or unsigned weights, and ONNX
Runtime's BERT fusions, took 3.6 to 3.9 ms, so none of them was worth its
change.

The weights are quantized to 7 bits (``reduce_range``: within +-64), not 8, so that the
features are the same on every x86 CPU. Without VNNI, ONNX Runtime multiplies
8-bit pairs with AVX2's ``vpmaddubsw``, which saturates their sum at 16 bits;
VNNI does not saturate. With full 8-bit weights a text's features differed
between the two (400 held-out texts, this host with AVX-512 VNNI against the
same file under ``qemu-x86_64 -cpu Haswell``: per-layer cosine 0.992 on
average, 0.941 at worst), enough to move the held-out recall by 0.4 points
and to change the nearest labelled example of a test's phrase, so the guard
decided differently on the two machines. With 7-bit weights no pair can
saturate: 397 of the 400 came out identical, the others at a cosine of
0.9998 or more (float arithmetic outside the products still differs a
little). Held-out figures of the heads refitted on them: text .953 / .966 /
.039, against .953 / .967 / .039 on 8-bit features on a CPU without VNNI.
The token means move from float32's by a
cosine of 0.987 to 0.996 per layer, which is why the heads are fitted on
these features (``train.py`` encodes through the same session), never on
float32's.

One text per run: dynamic quantization scales an activation by its largest
value over the whole input, so texts packed into one run would each change
the others' features. Alone, a text's features depend on nothing else, and
a cached feature is the one it would get again.

The model is exported with the adapter already merged, quantized, and kept
under ``$XDG_CACHE_HOME/mmguard/encoder/`` by a key of everything it is made
from (the base model, the adapter's fingerprint, torch, onnx and ONNX Runtime
versions), so a process after the first loads it in a fraction of a second
and never loads the torch weights at all. Where the cache cannot be written,
the model is built in a temporary folder, every start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

log = logging.getLogger("mmguard.classifier")

#: Bumped whenever what ``export`` writes changes, so older cached files are not used.
FORMAT = "2"


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mmguard" / "encoder"


def cache_key(base: str, adapter: str, layers: tuple[int, ...]) -> str:
    """A file name for the model built from ``base`` (the model's package and version) and ``adapter`` (its fingerprint, or ``none``)."""
    versions = [metadata.version(p) for p in ("torch", "onnx", "onnxruntime")]
    made_of = "|".join([FORMAT, base, adapter, ",".join(map(str, layers)), *versions])
    return hashlib.sha256(made_of.encode()).hexdigest()[:16]


def export(model: Any, layers: tuple[int, ...], path: Path) -> None:
    """``model`` (a transformers BERT, float32) -> int8 ONNX at ``path``: token ids (1, n) in, token means (layers, width) out."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class TokenMeans(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids), output_hidden_states=True, return_dict=False)[-1]
            return torch.stack([hidden[layer][0].mean(0) for layer in layers])

    plain = path.with_suffix(".float32.onnx")
    with warnings.catch_warnings(), torch.no_grad(), _quiet_transformers():
        warnings.simplefilter("ignore")  # the exporter's notes on constants it folded and its own deprecation
        torch.onnx.export(
            TokenMeans().eval(),
            (torch.tensor([[101, 2019, 2742, 102]]),),
            str(plain),
            input_names=["input_ids"],
            output_names=["means"],
            dynamic_axes={"input_ids": {1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    advice = _DropAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(str(plain), str(path), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        logging.getLogger().removeFilter(advice)
        plain.unlink(missing_ok=True)


class _DropAdvice(logging.Filter):
    """quantize_dynamic advises pre-processing through the root logger; the advice is for static quantization."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing reads every attribute, and the unused loss_type one complains
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


class Session:
    """Token ids of one text -> its token means, (layers, width). Thread-safe (ONNX Runtime's ``run`` is)."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings name graph details no operator can act on
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = path

    def means(self, token_ids: list[int]) -> np.ndarray:
        return self._session.run(None, {"input_ids": np.array([token_ids], np.int64)})[0]


def load(key: str, build: Callable[[Path], None], threads: int) -> Session:
    """The cached model named ``key``, built with ``build(path)`` the first time."""
    path = cache_root() / f"{key}.onnx"
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent) as work:
                built = Path(work) / path.name
                build(built)
                os.replace(built, path)  # atomic: a process starting meanwhile sees no file or the whole one
        except OSError as err:
            log.warning("cannot cache the encoder under %s (%s); building it for this process only", path.parent, err)
            with tempfile.TemporaryDirectory() as work:
                built = Path(work) / path.name
                build(built)
                return Session(built, threads)
    return Session(path, threads)
