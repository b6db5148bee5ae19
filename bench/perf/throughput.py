"""How much the proxy serves under load: text-only requests at several concurrencies, and cold TYPO images.

Text throughput is measured for a fixed time at each concurrency, through the
proxy and, for comparison, to the stub directly; the direct figure is also
the load generator's own ceiling, so a proxied figure well below it is the
proxy's. The same text repeats, so the classifier answers from its embedding
cache: this is the proxy's own cost, not the classifier's (``mmguard
perf-guard`` times that). Image throughput sends a fixed number of distinct
TYPO images, so every one is decoded, read and classified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from bench.perf import payloads
from bench.perf.cpu import CpuMeter, CpuUse
from bench.perf.loadgen import LoadRun, Payload, closed_loop, first_error, from_list
from bench.perf.processes import Stack
from bench.perf.stats import Percentiles


@dataclass(frozen=True)
class RatePoint:
    """One closed-loop run: how many requests, how fast, and at what latency."""

    path: str  # "proxied" or "direct"
    concurrency: int
    requests: int
    seconds: float
    per_s: float
    latency_ms: Percentiles
    errors: int
    first_error: str | None
    cpu: CpuUse

    @classmethod
    def of(cls, path: str, concurrency: int, run: LoadRun, cpu: CpuUse) -> "RatePoint":
        errors = sum(s.outcome == "error" for s in run.samples)
        latency = Percentiles.of([s.latency_ms for s in run.samples])
        return cls(path, concurrency, len(run.samples), run.seconds, run.rate, latency, errors, first_error(run.samples), cpu)


async def metered(stack: Stack, path: str, port: int, source: Callable[[], Awaitable[Payload | None]], concurrency: int, seconds: float | None = None) -> RatePoint:
    """A closed-loop run, with the CPU each party used during it."""
    meter = CpuMeter(stack.proxy_pid)
    meter.start()
    run = await closed_loop(port, source, concurrency, seconds)
    return RatePoint.of(path, concurrency, run, meter.stop())


async def text_throughput(stack: Stack, concurrencies: list[int], seconds: float) -> list[RatePoint]:
    payload = payloads.text()

    async def same() -> Payload:
        return payload

    points = []
    for concurrency in concurrencies:
        for path, port in (("proxied", stack.proxy_port), ("direct", stack.stub_port)):
            await closed_loop(port, same, concurrency, min(1.0, seconds / 5))  # warm connections and pools
            points.append(await metered(stack, path, port, same, concurrency, seconds))
    return points


async def image_throughput(stack: Stack, images: int, concurrency: int, phrases: payloads.Phrases) -> RatePoint:
    """``images`` distinct TYPO images through the proxy, ``concurrency`` at a time."""
    warmup = [payloads.image("TYPO", payloads.typo_image(phrases.take())) for _ in range(concurrency)]
    cold = [payloads.image("TYPO", payloads.typo_image(phrases.take())) for _ in range(images)]
    await closed_loop(stack.proxy_port, from_list(warmup), concurrency)
    return await metered(stack, "proxied", stack.proxy_port, from_list(cold), concurrency)
