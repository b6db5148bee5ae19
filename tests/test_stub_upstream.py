"""``python -m bench.stub_upstream``: the stub the tests serve in a thread, served by hand until Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from bench.perf.processes import free_port, process


def test_the_stub_serves_on_the_port_given_until_ctrl_c() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with process([sys.executable, "-m", "bench.stub_upstream", "--port", str(port)], f"{base}/models", timeout_s=30) as proc:
        answer = httpx.post(f"{base}/chat/completions", json={"model": "echo", "messages": [{"role": "user", "content": "hello"}]}, timeout=5)
        assert answer.json()["choices"][0]["message"]["content"] == "echo: hello"
        assert httpx.post(f"{base}/chat/completions", json={"model": "fail-503", "messages": []}, timeout=5).status_code == 503
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_the_stub_says_how_to_run_it() -> None:
    result = subprocess.run([sys.executable, "-m", "bench.stub_upstream", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--host HOST" in result.stdout and "default: 127.0.0.1" in result.stdout and "default: 8001" in result.stdout
