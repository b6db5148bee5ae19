"""The system under test: the loopback stub upstream and a real ``mmguard serve``, each in its own process.

Separate processes keep the load generator, the proxy and the "model" off each
other's GIL, as they would be in production. The proxy is started through the
same ``mmguard serve`` an operator runs, ``--workers`` included.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

import httpx
import yaml

from bench.perf.cpu import TICK, process_ticks
from bench.perf.memory import descendants, read_memory

START_TIMEOUT_S = 180.0  # torch and the classifier load in every worker; on a busy 2-core machine that takes a while


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process(args: list[str], ready_url: str, timeout_s: float = START_TIMEOUT_S) -> Iterator[subprocess.Popen]:
    """Run ``args`` until the block ends, once ``ready_url`` answers 200; its stderr is quoted if it dies first."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    stderr.seek(0)
                    raise RuntimeError(f"{' '.join(args[:4])} exited with {proc.returncode}: {stderr.read().decode(errors='replace')[-2000:]}")
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} not ready after {timeout_s}s")
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_settled(root: int, workers: int, timeout_s: float = START_TIMEOUT_S, idle_s: float = 1.0) -> None:
    """With several workers, /readyz answers as soon as one is up; wait until all exist and none is busy starting.

    A worker accepts connections only after its warm-up, so an unsettled start
    would silently measure fewer workers than asked for.
    """
    if workers <= 1:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = descendants(root)
        before = {pid: process_ticks(pid) for pid in pids}
        time.sleep(idle_s)
        busy = [pid for pid in pids if process_ticks(pid) - before[pid] > 0.1 * idle_s * TICK]
        if len(read_memory(root, workers).serving) >= workers and not busy:
            return
    raise RuntimeError(f"{workers} workers did not settle within {timeout_s}s")


@dataclass(frozen=True)
class Stack:
    """Where the parts listen, and the pid whose process tree is the proxy."""

    stub_port: int
    proxy_port: int
    proxy_pid: int
    workers: int
    transport: str


@contextmanager
def running_stack(workers: int = 1, transport: str = "auto", policy: str = "default") -> Iterator[Stack]:
    """The stub and the proxy, routed to it as model ``echo``, both on loopback, until the block ends."""
    stub_port, proxy_port = free_port(), free_port()
    config = {
        "server": {"port": proxy_port},
        "policy": policy,
        "model_list": [{"model_name": "echo", "litellm_params": {"model": "openai/echo", "api_base": f"http://127.0.0.1:{stub_port}/v1", "api_key": "stub"}, "transport": transport}],
    }
    with ExitStack() as stack:
        path = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".yaml"))
        yaml.safe_dump(config, path)
        path.flush()
        stub = [sys.executable, "-m", "uvicorn", "--factory", "bench.stub_upstream:create_app", "--port", str(stub_port), "--log-level", "warning", "--no-access-log"]
        stack.enter_context(process(stub, f"http://127.0.0.1:{stub_port}/v1/models"))
        serve = [sys.executable, "-m", "proxy.cli", "serve", "--config", path.name, "--log-level", "warning", "--workers", str(workers)]
        proxy = stack.enter_context(process(serve, f"http://127.0.0.1:{proxy_port}/readyz"))
        wait_settled(proxy.pid, workers)
        yield Stack(stub_port, proxy_port, proxy.pid, workers, transport)
