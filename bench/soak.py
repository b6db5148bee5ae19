"""``mmguard soak``: many clients for a while against a real proxy, to show it stays correct and its memory flat.

The proxy (``mmguard serve``) and the stub upstream run as in ``mmguard perf``.
Each client sends, one after another, requests drawn from a fixed mix: benign
text, harmful text, benign TYPO images that repeat (OCR cache hits) and that
are new (drawn on demand, off the event loop, so every one is read), and
harmful typography the default policy blocks, both repeated and as new images
of a known phrase (a different size or shade of ink: a new hash, the same
words). A blocked request is an expected answer; anything else that is not
2xx, a lost connection, a timeout, or the guard failing closed is an error.

The memory series is the RSS of the serving processes (summed over workers)
every ``sample_every`` seconds after a short warm-up. Caches (OCR results,
embeddings) fill during the first minutes, so the slope is given over the
whole run and over its second half; a leak shows as a second-half slope that
does not flatten on longer runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TextIO

from bench.perf import payloads
from bench.perf.cpu import CpuMeter, CpuUse
from bench.perf.loadgen import LoadRun, Payload, closed_loop, run_async
from bench.perf.memory import MemoryReport, read_memory
from bench.perf.processes import running_stack
from bench.perf.report import json_ready
from bench.perf.stats import Percentiles, slope

#: Share of each kind of request, in percent.
MIX = {"text": 30, "text_harmful": 5, "image_repeat": 25, "image_new": 20, "harmful_repeat": 10, "harmful_new": 10}
HARMFUL_KINDS = frozenset({"text_harmful", "harmful_repeat", "harmful_new"})
REPEATED_IMAGES = 8


@dataclass(frozen=True)
class SoakSettings:
    clients: int = 32
    seconds: float = 60.0
    sample_every: float = 5.0
    workers: int = 1


class Mix:
    """The next request of the mix; new images are drawn in a thread so the clients' loop keeps running."""

    def __init__(self, seed: int = 0) -> None:
        order = [kind for kind, share in MIX.items() for _ in range(share)]
        random.Random(seed).shuffle(order)
        self._order = itertools.cycle(order)
        self._phrases = payloads.Phrases()
        self._variant = itertools.count()
        self._fixed = {
            "text": [payloads.text()],
            "text_harmful": [payloads.text("text_harmful", payloads.HARMFUL_TEXT)],
            "image_repeat": [payloads.image("image_repeat", payloads.typo_image(self._phrases.take())) for _ in range(REPEATED_IMAGES)],
            "harmful_repeat": [payloads.image("harmful_repeat", payloads.typo_image(p)) for p in payloads.HARMFUL_PHRASES],
        }
        self._turn = itertools.count()

    def _harmful_new(self) -> Payload:
        i = next(self._variant)
        phrase = payloads.HARMFUL_PHRASES[i % len(payloads.HARMFUL_PHRASES)]
        shade = (i // len(payloads.HARMFUL_PHRASES)) % 64
        size = 80 + (i // (64 * len(payloads.HARMFUL_PHRASES))) % 21
        return payloads.image("harmful_new", payloads.typo_image(phrase, size, shade))

    async def next(self) -> Payload:
        kind = next(self._order)
        if kind == "image_new":
            phrase = self._phrases.take()
            return await asyncio.to_thread(lambda: payloads.image(kind, payloads.typo_image(phrase)))
        if kind == "harmful_new":
            return await asyncio.to_thread(self._harmful_new)
        fixed = self._fixed[kind]
        return fixed[next(self._turn) % len(fixed)]


@dataclass(frozen=True)
class KindResult:
    kind: str
    requests: int
    outcomes: dict[str, int]  # ok, block, error
    latency_ms: Percentiles


@dataclass(frozen=True)
class RssSample:
    t_s: float
    rss_mb: float  # summed over the serving processes
    hwm_mb: float  # the largest serving process's peak so far


@dataclass
class SoakReport:
    settings: dict
    cpus: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    run_seconds: float
    requests: int
    errors: int
    error_examples: list[str]
    latency_ms: Percentiles
    by_kind: list[KindResult]
    rss: list[RssSample]
    memory_end: MemoryReport
    cpu: CpuUse

    @property
    def harmful_blocked(self) -> tuple[int, int]:
        """Harmful requests blocked, of those sent: how the guard held up under load (not counted as errors)."""
        harmful = [k for k in self.by_kind if k.kind in HARMFUL_KINDS]
        return sum(k.outcomes.get("block", 0) for k in harmful), sum(k.requests for k in harmful)

    @property
    def rss_slope_mb_per_min(self) -> float:
        return slope([s.t_s / 60 for s in self.rss], [s.rss_mb for s in self.rss])

    @property
    def rss_slope_second_half_mb_per_min(self) -> float:
        half = [s for s in self.rss if s.t_s >= self.rss[-1].t_s / 2] if self.rss else []
        return slope([s.t_s / 60 for s in half], [s.rss_mb for s in half])


def summarize(run: LoadRun, cpu: CpuUse, rss: list[RssSample], memory_end: MemoryReport, settings: SoakSettings, load_before: tuple[float, float, float]) -> SoakReport:
    samples = run.samples
    by_kind = []
    for kind in MIX:
        mine = [s for s in samples if s.kind == kind]
        by_kind.append(KindResult(kind, len(mine), dict(Counter(s.outcome for s in mine)), Percentiles.of([s.latency_ms for s in mine])))
    failed = [s for s in samples if s.outcome == "error"]
    examples = list(dict.fromkeys(s.describe() for s in failed))[:5]
    return SoakReport(
        asdict(settings), os.cpu_count() or 0, load_before, os.getloadavg(), run.seconds, len(samples), len(failed), examples,
        Percentiles.of([s.latency_ms for s in samples]), by_kind, rss, memory_end, cpu,
    )


def run_soak(settings: SoakSettings) -> SoakReport:
    load_before = os.getloadavg()
    with running_stack(settings.workers) as stack:

        def sample(start: float) -> RssSample:
            memory = read_memory(stack.proxy_pid, stack.workers)
            return RssSample(time.monotonic() - start, sum(p.rss_mb for p in memory.serving), memory.hwm_mb_max)

        async def soak() -> SoakReport:
            mix = Mix()
            budget = iter(range(2 * settings.clients))  # warm-up: two requests per client, untimed

            async def warm() -> Payload | None:
                return await mix.next() if next(budget, None) is not None else None

            await closed_loop(stack.proxy_port, warm, settings.clients)
            start = time.monotonic()
            rss = [sample(start)]

            async def sampler() -> None:
                while True:
                    await asyncio.sleep(settings.sample_every)
                    rss.append(sample(start))

            task = asyncio.create_task(sampler())
            meter = CpuMeter(stack.proxy_pid)
            meter.start()
            run = await closed_loop(stack.proxy_port, mix.next, settings.clients, settings.seconds)
            cpu = meter.stop()
            task.cancel()
            rss.append(sample(start))
            return summarize(run, cpu, rss, read_memory(stack.proxy_pid, stack.workers), settings, load_before)

        return run_async(soak())


def to_json(report: SoakReport) -> str:
    data = {
        **{k: v for k, v in asdict(report).items() if k not in ("memory_end", "cpus", "load_before", "load_after")},
        "machine": {"cpus": report.cpus, "load_before": report.load_before, "load_after": report.load_after},
        "requests_per_s": report.requests / report.run_seconds if report.run_seconds else 0.0,
        "harmful_blocked": dict(zip(("blocked", "sent"), report.harmful_blocked)),
        "rss_first_mb": report.rss[0].rss_mb,
        "rss_last_mb": report.rss[-1].rss_mb,
        "rss_slope_mb_per_min": report.rss_slope_mb_per_min,
        "rss_slope_second_half_mb_per_min": report.rss_slope_second_half_mb_per_min,
        "memory_end": {"processes": [asdict(p) for p in report.memory_end.processes], "hwm_mb_max": report.memory_end.hwm_mb_max},
    }
    return json.dumps(json_ready(data), indent=2)


def print_report(report: SoakReport, out: TextIO = sys.stdout) -> None:
    s = report.settings
    out.write(
        f"mmguard soak: {s['clients']} clients for {s['seconds']:g} s, loopback stub upstream, mmguard serve --workers {s['workers']}; "
        f"{report.cpus} CPUs, load average {report.load_before[0]:.2f} before, {report.load_after[0]:.2f} after\n\n"
    )
    out.write(f"{'kind':<18}{'requests':>9}{'ok':>8}{'blocked':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}\n")
    for k in report.by_kind:
        o = k.outcomes
        out.write(f"{k.kind:<18}{k.requests:>9}{o.get('ok', 0):>8}{o.get('block', 0):>9}{o.get('error', 0):>8}{k.latency_ms.p50:>9.1f}{k.latency_ms.p99:>9.1f}\n")
    out.write(f"{'all':<18}{report.requests:>9}{'':>25}{report.errors:>8}{report.latency_ms.p50:>9.1f}{report.latency_ms.p99:>9.1f}\n")
    out.write(f"\nrequests: {report.requests} in {report.run_seconds:.1f} s ({report.requests / report.run_seconds:.0f}/s); errors: {report.errors}\n")
    for example in report.error_examples:
        out.write(f"  error: {example}\n")
    blocked, sent = report.harmful_blocked
    out.write(f"harmful requests blocked: {blocked} of {sent}\n")
    c = report.cpu
    out.write(f"CPU cores over the run: proxy {c.proxy:.2f}, load generator {c.client:.2f} (it draws the new images), rest of the machine {c.other:.2f}\n")
    series = " ".join(f"{r.rss_mb:.0f}" for r in report.rss)
    out.write(f"\nRSS of the serving processes, MB, every {s['sample_every']:g} s: {series}\n")
    out.write(
        f"first {report.rss[0].rss_mb:.0f} MB, last {report.rss[-1].rss_mb:.0f} MB; slope {report.rss_slope_mb_per_min:+.1f} MB/min"
        f" ({report.rss_slope_second_half_mb_per_min:+.1f} MB/min over the second half); peak VmHWM {report.memory_end.hwm_mb_max:.0f} MB\n"
    )
