"""A real `mmguard serve` process: its logs carry neither the upstream key, the proxy key, nor the prompt."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import yaml

from bench.perf.processes import free_port
from tests.conftest import PROXY_KEY, UPSTREAM_KEY

PROMPT = "zebra-marmalade-prompt-that-must-not-be-logged"


def test_serve_logs_leak_no_key_and_no_prompt(stub, tmp_path):
    port = free_port()
    routes = []
    for transport in ("direct", "litellm"):
        for name in ("echo", "fail-401", "fail-500", "fail-429", "fail-400", "stream-break"):
            routes.append({
                "model_name": f"{transport}/{name}",
                "litellm_params": {"model": f"openai/{name}", "api_base": f"{stub.url}/v1", "api_key": "os.environ/LEAK_TEST_KEY"},
                "transport": transport,
            })
    config = tmp_path / "mmguard.yaml"
    config.write_text(yaml.safe_dump({"server": {"port": port, "api_keys": ["os.environ/LEAK_PROXY_KEY"]}, "model_list": routes}))
    env = {"LEAK_TEST_KEY": UPSTREAM_KEY, "LEAK_PROXY_KEY": PROXY_KEY, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        statuses = set()
        with httpx.Client(timeout=20, headers={"authorization": f"Bearer {PROXY_KEY}"}) as client:
            for route in routes:
                for stream in (False, True):
                    r = client.post(f"{base}/v1/chat/completions", json={"model": route["model_name"], "messages": [{"role": "user", "content": PROMPT}], "stream": stream})
                    statuses.add(r.status_code)
                    if route["model_name"].endswith("echo"):
                        assert PROMPT in r.text  # the client may see its own prompt echoed back
                    else:
                        assert UPSTREAM_KEY not in r.text and PROXY_KEY not in r.text
            client.post(f"{base}/v1/chat/completions", headers={"authorization": "Bearer wrong-key-attempt"}, json={})
        assert {200, 400, 429, 502} <= statuses
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert "POST /v1/chat/completions" in output  # the log is there, and was read
    assert UPSTREAM_KEY not in output
    assert PROXY_KEY not in output and "wrong-key-attempt" not in output
    assert PROMPT not in output
