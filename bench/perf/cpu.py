"""Who used the CPU during a run: the proxy, the load generator, and everything else on the machine.

On a shared 2-core machine a throughput figure means little without it: 12
images/s with the proxy on two cores is another product than 12 images/s
with the proxy on one core while someone's tests take the other. All figures
are cores, averaged over the run (1.0 = one core fully busy).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from bench.perf.memory import descendants

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    proxy: float  # every process of mmguard serve
    client: float  # this process: the load generator
    other: float  # the rest of the machine: the stub upstream, and anyone else's work


def process_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0  # gone


def _machine_busy() -> int:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


class CpuMeter:
    """``start()``, run, ``stop()``: the CPU each party used in between."""

    def __init__(self, proxy_pid: int) -> None:
        self.proxy_pid = proxy_pid
        self._start: tuple[float, int, int, int] | None = None

    def _proxy(self) -> int:
        return sum(process_ticks(pid) for pid in [self.proxy_pid, *descendants(self.proxy_pid)])

    def start(self) -> None:
        self._start = (time.monotonic(), self._proxy(), process_ticks(os.getpid()), _machine_busy())

    def stop(self) -> CpuUse:
        assert self._start is not None, "start() first"
        t0, proxy0, client0, machine0 = self._start
        seconds = max(time.monotonic() - t0, 1e-9)
        proxy, client, machine = self._proxy() - proxy0, process_ticks(os.getpid()) - client0, _machine_busy() - machine0
        return CpuUse(proxy / TICK / seconds, client / TICK / seconds, max(0, machine - proxy - client) / TICK / seconds)
