"""``mmguard perf``: the proxy's added latency, its throughput and its memory, against a loopback upstream.

How it is measured, and why:

- The system under test is a real ``mmguard serve`` (``--workers N``) in its own
  process tree, in front of the stub upstream (``bench.stub_upstream``) in
  another process, a "model" that answers in well under a millisecond, so what
  is measured is the proxy (``processes.py``).
- The load generator runs in this, the harness's, process: a closed loop of
  keep-alive connections over pre-encoded requests, parsed by httptools on
  uvloop (``loadgen.py``). Every image is drawn and encoded before any clock
  starts. The client costs a few tens of microseconds per request, and the same
  load sent to the stub directly shows its ceiling beside every proxied figure.
- Latency (``latency.py``): one request at a time, alternately to the stub and
  through the proxy, text-only and with MM-SafetyBench TYPO and SD+TYPO images,
  each cold (a new image every request) and cached (one image repeated).
- Throughput (``throughput.py``): text-only at several concurrencies, and
  distinct TYPO images at one.
- Memory (``memory.py``): VmRSS, VmHWM and Pss of every proxy process after the run.

On a 2-core machine the client, the stub and the proxy share the cores, so the
figures are for that whole arrangement; the load average before and after is
printed, because on a shared machine other work moves them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from bench.perf.latency import image_latency, text_latency
from bench.perf.loadgen import run_async
from bench.perf.memory import read_memory
from bench.perf.payloads import Phrases
from bench.perf.processes import running_stack
from bench.perf.report import PerfReport, print_report, to_json
from bench.perf.throughput import image_throughput, text_throughput

PARTS = ("text", "images", "throughput", "image-throughput")

__all__ = ["PARTS", "PerfSettings", "PerfReport", "run_perf", "print_report", "to_json"]


@dataclass(frozen=True)
class PerfSettings:
    parts: tuple[str, ...] = PARTS
    requests: int = 1000  # text-only latency, each way
    image_requests: int = 100  # per image row, each way
    concurrency: tuple[int, ...] = (1, 8, 32)
    seconds: float = 5.0  # per text throughput point and path
    images: int = 300  # cold TYPO images for image throughput
    image_concurrency: int = 8
    workers: int = 1
    transport: str = "auto"

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")


def run_perf(settings: PerfSettings) -> PerfReport:
    load_before = os.getloadavg()
    with running_stack(settings.workers, settings.transport) as stack:

        async def measure() -> PerfReport:
            phrases = Phrases()
            latency, throughput, images = [], [], None
            if "text" in settings.parts:
                latency.append(await text_latency(stack, settings.requests))
            if "images" in settings.parts:
                latency += await image_latency(stack, settings.image_requests, phrases)
            if "throughput" in settings.parts:
                throughput = await text_throughput(stack, list(settings.concurrency), settings.seconds)
            if "image-throughput" in settings.parts:
                images = await image_throughput(stack, settings.images, settings.image_concurrency, phrases)
            memory = read_memory(stack.proxy_pid, stack.workers)
            return PerfReport(asdict(settings), os.cpu_count() or 0, load_before, os.getloadavg(), memory, latency, throughput, images)

        return run_async(measure())
