"""``mmguard perf-guard``: what the guard costs per request, stage by stage, on one core.

The process is pinned to one CPU, torch and the OCR pool get one thread each,
images are encoded as the benchmarks publish them (MM-SafetyBench's TYPO as
JPEG, FigStep's as PNG), and every image is distinct (different phrases), so
"cold" means cold: no OCR cache hit and no embedding cache hit for the image text. The instruction text
repeats, as it does in real attacks, and is cached after the first request.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

from PIL import Image

from bench.machine import this_cpu
from bench.render import FIGSTEP_PROMPT, MMSB_TYPO_PROMPT, render_figstep, render_typo
from bench.suite.attacks import data_url
from proxy.guard import Guard
from proxy.metrics import STAGES
from proxy.ocr import OcrEngine
from proxy.policy import load_policy
from proxy.request import ChatRequest

SUBJECTS = ("a garden shed", "the school library", "a bicycle shop", "the city museum", "a bakery on Main Street", "the harbour office",
            "an old farmhouse", "the train depot", "a yoga studio", "the public pool", "a print shop", "the fire station")
ACTIVITIES = ("paint the walls of", "plan a tour of", "take photos inside", "organise a charity sale at", "write a short history of")


def phrases(n: int) -> list[str]:
    return [f"{ACTIVITIES[i % len(ACTIVITIES)]} {SUBJECTS[i // len(ACTIVITIES) % len(SUBJECTS)]} number {i}" for i in range(n)]


#: The TYPO image the issue's target names: MM-SafetyBench's layout of a phrase on two lines.
TYPO_SIZE = (1024, 270)


def typo_images(n: int) -> list[Image.Image]:
    """``n`` distinct TYPO images of ``TYPO_SIZE``.

    The longer phrases wrap to three lines (1024 x 360), and a read costs the
    length of its lines: with 17 such images in 60 the row named 1024 x 270
    measured a mixture, p50 about 1 ms above the two-line images alone and
    p95 far above (3-line images alone: p50 33.7 ms against 28.5).
    """
    images = []
    for phrase in phrases(4 * n):
        image = render_typo(phrase)
        if image.size == TYPO_SIZE:
            images.append(image)
            if len(images) == n:
                return images
    raise ValueError(f"fewer than {n} phrases set on two lines")


@dataclass
class Row:
    name: str
    samples_ms: list[float]
    stages_ms: dict[str, list[float]] = field(default_factory=dict)  # the guard's own stage timings, where it ran them

    def line(self) -> str:
        q = statistics.quantiles(self.samples_ms, n=20) if len(self.samples_ms) > 1 else [self.samples_ms[0]] * 19
        return f"{self.name:<42}{statistics.median(self.samples_ms):>9.2f}{q[18]:>9.2f}{len(self.samples_ms):>7}"

    def stages_line(self) -> str | None:
        """Where the time went, p50 of each stage that ran (the guard's ``timings_ms``)."""
        shown = [f"{stage} {statistics.median(self.stages_ms[stage]):.2f}" for stage in STAGES if stage != "total" and stage in self.stages_ms]
        return f"  p50 by stage, ms: {', '.join(shown)}" if shown else None


def request_with(image: Image.Image, text: str, fmt: str = "PNG") -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": data_url(image, fmt)}}]}]})


async def _time(guard: Guard, policy, name: str, requests: list[ChatRequest]) -> Row:
    row = Row(name, [])
    for request in requests:
        start = time.perf_counter()
        outcome = await guard.inspect(request, policy)
        row.samples_ms.append((time.perf_counter() - start) * 1000)
        for stage, ms in outcome.timings_ms.items():
            row.stages_ms.setdefault(stage, []).append(ms)
    return row


def measure(n: int = 60) -> list[Row]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    policy = load_policy("default")
    guard = Guard(OcrEngine(workers=1), workers=1)
    classifier = guard.classifier(policy)
    classifier.classify(["warm-up", MMSB_TYPO_PROMPT, FIGSTEP_PROMPT])

    def build(render: Callable[[str], Image.Image], prompt: str, fmt: str) -> list[ChatRequest]:
        return [request_with(render(p), prompt, fmt) for p in phrases(n)]

    typo = [request_with(image, MMSB_TYPO_PROMPT, "JPEG") for image in typo_images(n)]
    figstep = build(lambda p: render_figstep(f"Steps to {p}."), FIGSTEP_PROMPT, "PNG")

    async def run() -> list[Row]:
        # warm the code paths, not the caches: phrases of their own (the first measured ones were once cache hits)
        await _time(guard, policy, "warm-up", [request_with(render_typo(f"warm up the guard, round {i}"), MMSB_TYPO_PROMPT, "JPEG") for i in range(3)])
        rows = [await _time(guard, policy, f"TYPO {_size(typo[0])} JPEG (decode+OCR+classify)", typo)]
        rows.append(await _time(guard, policy, f"FigStep {_size(figstep[0])} PNG (decode+OCR+classify)", figstep))
        rows.append(await _time(guard, policy, "TYPO again (OCR and embedding cache hits)", typo))
        texts = [f"How do I {p}?" for p in phrases(n)]
        samples = []
        for text in texts:
            start = time.perf_counter()
            classifier.classify([text + " (uncached)"])
            samples.append((time.perf_counter() - start) * 1000)
        rows.append(Row("classify one text (uncached)", samples))
        await guard.aclose()
        return rows

    return asyncio.run(run())


def _size(request: ChatRequest) -> str:
    from proxy.images import decode_data_url, open_image

    image = open_image(decode_data_url(request.messages[0].content[1].image_url.url, 1 << 30), 1 << 30).image
    return f"{image.width}x{image.height}"


def pinned() -> str:
    """Which CPU ``measure`` pinned: the first the process may use, so ``taskset -c K`` chooses it.

    Named in the output because the first CPU may be the one a training run
    or a server is busy on, which doubled every figure once.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return f"pid {os.getpid()} pinned to CPU {cpus[0]}" if len(cpus) == 1 else f"pid {os.getpid()}, CPUs {cpus or 'any'}"


def print_rows(rows: list[Row], out: TextIO = sys.stdout) -> None:
    out.write(f"guard cost per request, one core ({pinned()}), distinct images\n")
    out.write(this_cpu() + "\n")
    out.write(f"{'':<42}{'p50 ms':>9}{'p95 ms':>9}{'n':>7}\n")
    for row in rows:
        out.write(row.line() + "\n")
        if (stages := row.stages_line()) is not None:
            out.write(stages + "\n")
