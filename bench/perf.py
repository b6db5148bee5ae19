"""``mmguard perf``: what the proxy adds to a request's latency, measured against calling the upstream directly.

The upstream is the loopback stub (``bench.stub_upstream``) and the proxy a real
``mmguard serve``, each in its own process, so the client, the proxy and the
model do not share a GIL. Requests alternate between the direct path and the
proxied one, so drift on the machine affects both alike. The added latency is
the difference of the two distributions' percentiles.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from typing import Iterator, TextIO

import httpx
import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _process(args: list[str], ready_url: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
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
        proc.wait(timeout=10)


@dataclass
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> "Percentiles":
        q = statistics.quantiles(samples_ms, n=100, method="inclusive")
        return cls(p50=statistics.median(samples_ms), p95=q[94], p99=q[98])


@dataclass
class OverheadReport:
    requests: int
    transport: str
    direct_ms: Percentiles
    proxied_ms: Percentiles
    added_ms: Percentiles


def measure_text_overhead(requests: int = 1000, warmup: int = 100, transport: str = "auto") -> OverheadReport:
    """Time ``requests`` text-only completions each way, alternating, after ``warmup`` of each."""
    stub_port, proxy_port = _free_port(), _free_port()
    stub = f"http://127.0.0.1:{stub_port}"
    proxy = f"http://127.0.0.1:{proxy_port}"
    config = {
        "server": {"port": proxy_port},
        "model_list": [{"model_name": "echo", "litellm_params": {"model": "openai/echo", "api_base": f"{stub}/v1", "api_key": "stub"}, "transport": transport}],
    }
    with ExitStack() as stack:
        path = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".yaml"))
        yaml.safe_dump(config, path)
        path.flush()
        stack.enter_context(_process([sys.executable, "-m", "uvicorn", "--factory", "bench.stub_upstream:create_app", "--port", str(stub_port), "--log-level", "warning", "--no-access-log"], f"{stub}/v1/models"))
        stack.enter_context(_process([sys.executable, "-m", "proxy.cli", "serve", "--config", path.name, "--log-level", "warning"], f"{proxy}/readyz"))
        client = stack.enter_context(httpx.Client(timeout=30))
        body = {"model": "echo", "messages": [{"role": "user", "content": "How do I bake bread?"}]}
        direct, proxied = [], []
        for i in range(warmup + requests):
            for url, bucket in ((f"{stub}/v1/chat/completions", direct), (f"{proxy}/v1/chat/completions", proxied)):
                start = time.perf_counter()
                response = client.post(url, json=body)
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if i >= warmup:
                    bucket.append(elapsed)
    d, p = Percentiles.of(direct), Percentiles.of(proxied)
    return OverheadReport(requests, transport, d, p, Percentiles(p.p50 - d.p50, p.p95 - d.p95, p.p99 - d.p99))


def print_report(report: OverheadReport, out: TextIO = sys.stdout) -> None:
    out.write(f"text-only requests: {report.requests} each way, sequential, loopback, transport {report.transport}\n")
    out.write(f"{'':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}\n")
    for name, row in (("direct", report.direct_ms), ("proxied", report.proxied_ms), ("added", report.added_ms)):
        out.write(f"{name:<10}{row.p50:>10.2f}{row.p95:>10.2f}{row.p99:>10.2f}\n")


def to_json(report: OverheadReport) -> str:
    return json.dumps(asdict(report), indent=2)
