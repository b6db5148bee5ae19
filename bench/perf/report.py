"""``mmguard perf``'s results: one dataclass, the targets beside the measured values, a table and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from bench.perf.cpu import CpuUse
from bench.perf.latency import LatencyRow
from bench.perf.memory import MemoryReport
from bench.perf.throughput import RatePoint


@dataclass(frozen=True)
class Target:
    """A figure the product promises on the project's 2-core machine."""

    name: str
    measured: float
    op: str  # "<=" or ">="
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit if self.op == "<=" else self.measured >= self.limit


@dataclass
class PerfReport:
    settings: dict[str, Any]
    cpus: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    memory: MemoryReport
    latency: list[LatencyRow] = field(default_factory=list)
    throughput: list[RatePoint] = field(default_factory=list)
    images: RatePoint | None = None

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.latency) + sum(p.errors for p in self.throughput) + (self.images.errors if self.images else 0)

    @property
    def error_examples(self) -> list[str]:
        """The first failure of each part that had one, without repeats."""
        parts = [*self.latency, *self.throughput, *([self.images] if self.images else [])]
        return list(dict.fromkeys(p.first_error for p in parts if p.first_error))

    def targets(self) -> list[Target]:
        """The targets this run measured; parts left out with ``--only`` have none."""
        found = []
        for row in self.latency:
            if row.name == "text-only":
                found += [Target("text-only added latency p50", row.added_ms.p50, "<=", 2, "ms"), Target("text-only added latency p99", row.added_ms.p99, "<=", 10, "ms")]
        for point in self.throughput:
            if point.path == "proxied" and point.concurrency == 32:
                found.append(Target("text-only throughput, concurrency 32", point.per_s, ">=", 800, "req/s"))
        if self.images:
            found.append(Target(f"cold TYPO images, concurrency {self.images.concurrency}", self.images.per_s, ">=", 60, "images/s"))
        found.append(Target("VmRSS per serving process (default classifier)", self.memory.rss_mb_max, "<=", 700, "MB"))
        return found


def json_ready(value: Any) -> Any:
    """Rounded floats, and null for a figure that could not be measured (JSON has no NaN)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def to_json(report: PerfReport) -> str:
    memory = report.memory
    data = {
        "settings": report.settings,
        "machine": {"cpus": report.cpus, "load_before": report.load_before, "load_after": report.load_after},
        "latency": [asdict(r) for r in report.latency],
        "throughput": {"text": [asdict(p) for p in report.throughput], "images": asdict(report.images) if report.images else None},
        "memory": {
            "processes": [asdict(p) for p in memory.processes],
            "rss_mb_total": memory.rss_mb_total, "rss_mb_max": memory.rss_mb_max, "hwm_mb_max": memory.hwm_mb_max,
        },
        "targets": [{**asdict(t), "met": t.met} for t in report.targets()],
        "errors": report.errors,
        "error_examples": report.error_examples,
    }
    return json.dumps(json_ready(data), indent=2)


def _latency(rows: list[LatencyRow], out: TextIO) -> None:
    out.write(f"\n{'latency ms, one at a time':<30}{'n':>6}{'direct p50':>12}{'p99':>8}{'proxied p50':>13}{'p95':>8}{'p99':>8}{'added p50':>11}{'p95':>8}{'p99':>8}  proxy decisions\n")
    for r in rows:
        d, p, a = r.direct_ms, r.proxied_ms, r.added_ms
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(r.decisions.items()))
        out.write(f"{r.name:<30}{r.requests:>6}{d.p50:>12.2f}{d.p99:>8.2f}{p.p50:>13.2f}{p.p95:>8.2f}{p.p99:>8.2f}{a.p50:>11.2f}{a.p95:>8.2f}{a.p99:>8.2f}  {decisions}\n")


def _cpu(cpu: CpuUse) -> str:
    return f"{cpu.proxy:>7.2f}{cpu.client:>8.2f}{cpu.other:>7.2f}"


def _throughput(points: list[RatePoint], images: RatePoint | None, out: TextIO) -> None:
    header = f"{'p50 ms':>8}{'p99 ms':>9}{'errors':>8}   CPU cores: proxy  client  other\n"
    if points:
        out.write(f"\n{'text-only throughput':<22}{'clients':>8}{'path':>9}{'req/s':>8}{header}")
        for p in sorted(points, key=lambda p: (p.concurrency, p.path != "proxied")):
            out.write(f"{'':<22}{p.concurrency:>8}{p.path:>9}{p.per_s:>8.0f}{p.latency_ms.p50:>8.2f}{p.latency_ms.p99:>9.2f}{p.errors:>8}{'':>11}{_cpu(p.cpu)}\n")
    if images:
        out.write(f"\n{'cold TYPO images':<22}{'clients':>8}{'images':>9}{'/s':>8}{header}")
        i = images
        out.write(f"{'':<22}{i.concurrency:>8}{i.requests:>9}{i.per_s:>8.1f}{i.latency_ms.p50:>8.0f}{i.latency_ms.p99:>9.0f}{i.errors:>8}{'':>11}{_cpu(i.cpu)}\n")


def _memory(memory: MemoryReport, out: TextIO) -> None:
    out.write(f"\n{'memory after the run':<22}{'pid':>8}{'role':>12}{'VmRSS MB':>10}{'VmHWM MB':>10}{'Pss MB':>8}\n")
    for p in memory.processes:
        pss = f"{p.pss_mb:.0f}" if p.pss_mb is not None else "-"
        out.write(f"{'':<22}{p.pid:>8}{p.role:>12}{p.rss_mb:>10.0f}{p.hwm_mb:>10.0f}{pss:>8}\n")


def print_report(report: PerfReport, out: TextIO) -> None:
    s = report.settings
    out.write(
        f"mmguard perf: loopback stub upstream, mmguard serve --workers {s['workers']} (transport {s['transport']}); "
        f"{report.cpus} CPUs, load average {report.load_before[0]:.2f} before, {report.load_after[0]:.2f} after\n"
        "CPU cores are averaged over each run: the proxy's processes, this load generator, and the rest of the machine (the stub, and anyone else's work)\n"
    )
    if report.latency:
        _latency(report.latency, out)
    _throughput(report.throughput, report.images, out)
    _memory(report.memory, out)
    out.write(f"\n{'target':<50}{'measured':>12}{'target':>16}\n")
    for t in report.targets():
        out.write(f"{t.name:<50}{t.measured:>12.2f}{f'{t.op} {t.limit:g} {t.unit}':>16}  {'met' if t.met else 'MISSED'}\n")
    out.write(f"\nerrors: {report.errors}\n")
    for example in report.error_examples:
        out.write(f"  error: {example}\n")
