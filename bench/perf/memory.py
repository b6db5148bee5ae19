"""The proxy's memory, read from /proc: every process of ``mmguard serve``, its workers included.

VmRSS is what a process holds now and VmHWM the most it ever held. With
``--workers N`` the workers are separate processes that each load the
classifier, so they are listed one by one; their RSS overlaps where they share
library pages, which is why Pss (each shared page divided among its sharers)
is given too, and why the sum of RSS overstates the total.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    role: str  # "server" (the only process), "supervisor", "worker" or "helper"
    rss_mb: float
    hwm_mb: float
    pss_mb: float | None


@dataclass(frozen=True)
class MemoryReport:
    processes: list[ProcessMemory]

    @property
    def serving(self) -> list[ProcessMemory]:
        """The processes that answer requests, each with its own classifier and OCR cache."""
        return [p for p in self.processes if p.role in ("server", "worker")]

    @property
    def rss_mb_total(self) -> float:
        return sum(p.rss_mb for p in self.processes)

    @property
    def rss_mb_max(self) -> float:
        return max((p.rss_mb for p in self.serving), default=0.0)

    @property
    def hwm_mb_max(self) -> float:
        return max((p.hwm_mb for p in self.serving), default=0.0)


def _status_kb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return 0.0


def _pss_kb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, by scanning /proc's parent ids (works without CONFIG_PROC_CHILDREN)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents.setdefault(ppid, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


def _role(pid: int, root: int, workers: int) -> str:
    if pid == root:
        return "server" if workers == 1 else "supervisor"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read()
    return "worker" if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline else "helper"


def read_memory(root: int, workers: int = 1) -> MemoryReport:
    """Memory of ``root`` (``mmguard serve --workers workers``) and its descendants, now; processes that exit meanwhile are skipped."""
    processes = []
    for pid in [root, *descendants(root)]:
        try:
            role = _role(pid, root, workers)
            rss, hwm, pss = _status_kb(pid, "VmRSS"), _status_kb(pid, "VmHWM"), _pss_kb(pid)
        except OSError:
            continue
        processes.append(ProcessMemory(pid, role, rss / 1024, hwm / 1024, None if pss is None else pss / 1024))
    return MemoryReport(processes)
