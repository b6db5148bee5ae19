"""The ``hf`` backend: a local transformers sequence-classification model directory.

Options: ``path`` (the model directory; never a hub name, nothing is
downloaded), ``labels`` (the model's label names mapped to scenario ids or to
``benign``; unmapped labels count as benign), ``max_tokens``.
"""

from __future__ import annotations

import os
from pathlib import Path

from proxy.classifier import Input, Scores, as_text

BENIGN = "benign"


class HfClassifier:
    name = "hf"

    def __init__(self, path: str, labels: dict[str, str], max_tokens: int = 256) -> None:
        if not Path(path, "config.json").is_file():
            raise ValueError(f"{path}: not a local transformers model directory (no config.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        id2label = self._model.config.id2label
        self._targets = [labels.get(id2label[i], BENIGN) for i in range(len(id2label))]
        self._max_tokens = max_tokens

    def classify(self, texts: list[Input]) -> list[Scores]:
        torch = self._torch
        with torch.inference_mode():
            batch = self._tokenizer(as_text(texts), padding=True, truncation=True, max_length=self._max_tokens, return_tensors="pt")
            probabilities = torch.softmax(self._model(**batch).logits, dim=-1).numpy()
        out = []
        for row in probabilities:
            by_scenario: dict[str, float] = {}
            for target, p in zip(self._targets, row):
                if target != BENIGN:
                    by_scenario[target] = by_scenario.get(target, 0.0) + float(p)
            out.append(Scores(sum(by_scenario.values()), by_scenario))
        return out
