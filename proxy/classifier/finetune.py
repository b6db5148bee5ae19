"""Training the encoder's low-rank adapter (``adapter.py``): step one of ``mmguard train-classifier``.

The adapter is trained with two throwaway linear heads on the pooled features
the serving heads will read: is the text in scope at all (binary), and if so,
which scenario (softmax over the in-scope ones). The serving heads are then
refitted on the tuned features (``train.py``), so the throwaway ones never ship.

It runs on the CPU: about 45 minutes for three epochs of 13,666 examples
(2,856 steps) on one core with native bfloat16 (autocast; the weights and
the update stay float32), about twice that without (two hours for 20,499
examples, 4,282 steps, on an AVX2-only core in 2026-12); the anchor
(``Settings.anchor``) reads every batch a second time through the plain
encoder. Same data and seed, same adapter.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from proxy.classifier import Input
from proxy.classifier.adapter import TARGETS, linear
from proxy.classifier.dataset import BENIGN


@dataclass(frozen=True)
class Settings:
    """LoRA settings. Rank and epochs were compared on the held-out quarter (text input, at 0.5):

    | rank, epochs | precision | recall | FPR  |
    |--------------|-----------|--------|------|
    | 8, 2         | .924      | .927   | .046 |
    | 8, 4         | .937      | .941   | .038 |
    | 16, 3        | .951      | .947   | .030 |
    | 32, 3        | .957      | .934   | .025 |

    Rendered through the guard (``mmguard eval-guard``), 16 and 32 blocked as
    few look-alikes (2.9%), and 16 blocked more harmful images (92.4% against
    91.6%) with an adapter half the size (1.2 MB).

    The table is from before the combined input was pooled from its two texts
    (``encoder.join``). Retrained so, rank 16 and 3 epochs gave .958 / .956 /
    .025, and through the guard 2.1% of look-alikes blocked instead of 2.9%.
    """

    rank: int = 16
    alpha: float = 16.0
    #: Weight of the anchor, a second loss: the mean cosine distance between each text's tuned features and
    #: the plain encoder's. 0 (off) trains the shipped adapter. Without it the tuning makes the feature space
    #: one axis of harm: an unseen "How do I kill a process that is frozen?" sits nearest "How can I make a
    #: bomb from fertilizer and fuel?" (0.81) and scores 0.96, though its near twin "How do I kill a frozen
    #: Node.js process on macOS?" is a benign training line. At 4.0, with the policy's ``confirm_block``
    #: at 0.3 (its neighbours are less alike), look-alikes blocked on seven sets written apart fell from
    #: 5.8-9.2% to 2.9-7.8%, and XSTest's contrasts flagged rose; but attacks blocked moved -2.9 to +2.1
    #: points, the held-out quarter's fell from 91.8% to 89.6%, and the bench's over-refusal rose from 4.7%
    #: to 5.3%, over its 5% target, so it is not shipped yet (proxy/classifier/HISTORY.md, "An anchored adapter").
    anchor: float = 0.0
    epochs: float = 3.0
    learning_rate: float = 1e-3
    batch_size: int = 32
    dropout: float = 0.1
    seed: int = 0
    #: Scales the unit-length pooled features before the throwaway heads, so that their logits can grow large.
    feature_scale: float = 8.0
    #: One thread: on this project's 2-core machine two threads ran slower as soon as anything else was busy.
    threads: int = 1


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware, so training autocasts to it (torch has no public API for this yet)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def finetune(pairs: list[tuple[Input, str]], settings: Settings = Settings(), stream: TextIO = sys.stderr) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(input, target) pairs, target a scenario or ``benign`` -> ``{"<layer>.<target>": (A, scaled B)}``.

    A ``Joined`` input is pooled from its two texts read apart, as the encoder serves it."""
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    from proxy.classifier.encoder import LAYERS, MAX_TOKENS, input_features, model_dir, pool, texts_of

    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    shuffle = random.Random(settings.seed)

    class LowRank(nn.Module):
        """``base(x) + scale * B(A(dropout(x)))``, with the base frozen and B starting at zero."""

        def __init__(self, base: nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.scale = settings.alpha / settings.rank
            self.a = nn.Parameter(torch.randn(settings.rank, base.in_features) / math.sqrt(base.in_features))
            self.b = nn.Parameter(torch.zeros(base.out_features, settings.rank))
            self.dropout = nn.Dropout(settings.dropout)
            self.active = True

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.active:
                return self.base(x)
            return self.base(x) + (self.dropout(x) @ self.a.T @ self.b.T) * self.scale

    path = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    model.requires_grad_(False)
    updates: dict[str, LowRank] = {}
    for i, layer in enumerate(model.encoder.layer):
        for target in TARGETS:
            parent_path, _, name = target.rpartition(".")
            parent = linear(layer, parent_path)
            updates[f"{i}.{target}"] = LowRank(getattr(parent, name))
            setattr(parent, name, updates[f"{i}.{target}"])

    def features_of(inputs: list[Input], texts: list[str], tokens: Any) -> torch.Tensor:
        """A batch's features, pooled as the serving encoder pools them, through the model as it stands."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            hidden = model(**tokens, output_hidden_states=True).hidden_states
        return input_features(inputs, texts, pool(hidden, tokens["attention_mask"]))

    def plain_features(inputs: list[Input], texts: list[str], tokens: Any) -> torch.Tensor:
        """The features the plain encoder gives a batch: every update switched off, no gradient."""
        with torch.no_grad():
            for update in updates.values():
                update.active = False
            try:
                return features_of(inputs, texts, tokens)
            finally:
                for update in updates.values():
                    update.active = True

    scenarios = sorted({t for _, t in pairs if t != BENIGN})
    index = {s: i for i, s in enumerate(scenarios)}
    width = model.config.hidden_size
    in_scope_head = nn.Linear(width * len(LAYERS), 1)
    scenario_head = nn.Linear(width * len(LAYERS), len(scenarios))
    parameters = [p for u in updates.values() for p in (u.a, u.b)] + list(in_scope_head.parameters()) + list(scenario_head.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=0.01)
    steps = max(1, int(len(pairs) / settings.batch_size * settings.epochs))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.learning_rate, total_steps=steps, pct_start=0.1)
    autocast = native_bfloat16()

    model.train()
    order = list(pairs)
    step, started = 0, time.perf_counter()
    while step < steps:
        shuffle.shuffle(order)
        for start in range(0, len(order) - settings.batch_size + 1, settings.batch_size):
            if step >= steps:
                break
            batch = order[start : start + settings.batch_size]
            inputs = [item for item, _ in batch]
            texts = texts_of(inputs)
            tokens = tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
            pooled = features_of(inputs, texts, tokens)
            features = pooled * settings.feature_scale
            in_scope = torch.tensor([float(t != BENIGN) for _, t in batch])
            loss = nn.functional.binary_cross_entropy_with_logits(in_scope_head(features).squeeze(-1), in_scope)
            if settings.anchor:  # the drift from the plain encoder's features
                plain = plain_features(inputs, texts, tokens)
                loss = settings.anchor * (1 - nn.functional.cosine_similarity(pooled.float(), plain.float(), dim=-1)).mean() + loss
            rows = [i for i, (_, t) in enumerate(batch) if t != BENIGN]
            if rows:
                loss = loss + nn.functional.cross_entropy(scenario_head(features[rows]), torch.tensor([index[batch[i][1]] for i in rows]))
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 100 == 0 or step == steps:
                stream.write(f"adapter: step {step}/{steps}, loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s\n")
    return {key: (u.a.detach().numpy().copy(), (u.b.detach() * u.scale).numpy().copy()) for key, u in updates.items()}
