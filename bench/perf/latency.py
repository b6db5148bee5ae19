"""What the proxy adds to one request's latency: the same request to the stub directly and through the proxy.

Requests go one at a time, alternating direct and proxied, so drift on the
(shared) machine touches both alike; the added latency is the difference of
the two distributions' percentiles. Cold image rows send a new image every
request, cached rows one image over and over after it has been read once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.perf import payloads
from bench.perf.loadgen import Client, Payload, Sample, first_error
from bench.perf.processes import Stack
from bench.perf.stats import Percentiles


@dataclass(frozen=True)
class LatencyRow:
    name: str
    requests: int
    direct_ms: Percentiles
    proxied_ms: Percentiles
    added_ms: Percentiles
    errors: int
    first_error: str | None
    decisions: dict[str, int]


async def alternate(stack: Stack, name: str, timed: list[Payload], warmup: list[Payload]) -> LatencyRow:
    """Each payload to the stub, then to the proxy; ``warmup`` the same way, untimed."""
    direct, proxied = Client(stack.stub_port), Client(stack.proxy_port)
    samples: tuple[list[Sample], list[Sample]] = ([], [])
    try:
        for payload in warmup:
            await direct.send(payload)
            await proxied.send(payload)
        for payload in timed:
            samples[0].append(await direct.send(payload))
            samples[1].append(await proxied.send(payload))
    finally:
        direct.close()
        proxied.close()
    d = Percentiles.of([s.latency_ms for s in samples[0]])
    p = Percentiles.of([s.latency_ms for s in samples[1]])
    errors = sum(s.outcome == "error" for s in samples[0] + samples[1])
    decisions = dict(Counter(s.decision or f"status {s.status}" for s in samples[1]))
    return LatencyRow(name, len(timed), d, p, p.minus(d), errors, first_error(samples[0] + samples[1]), decisions)


async def text_latency(stack: Stack, requests: int) -> LatencyRow:
    payload = payloads.text()
    return await alternate(stack, "text-only", [payload] * requests, [payload] * min(100, requests))


async def image_latency(stack: Stack, requests: int, phrases: payloads.Phrases) -> list[LatencyRow]:
    """TYPO and SD+TYPO, cold and cached; all images are drawn before any clock starts."""
    rows = []
    for label, draw in (("TYPO", payloads.typo_image), ("SD+TYPO", payloads.sd_typo_image)):
        warmup = [payloads.image(label, draw(phrases.take())) for _ in range(3)]  # code paths, not caches
        pictures = [draw(phrases.take()) for _ in range(requests)]
        name = f"{label} {payloads.size(pictures[0])}"
        cold = [payloads.image(label, p) for p in pictures]
        rows.append(await alternate(stack, f"{name} cold", cold, warmup))
        rows.append(await alternate(stack, f"{name} cached", [cold[0]] * requests, [cold[0]]))
    return rows
