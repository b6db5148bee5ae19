"""Shared fixtures: a recording upstream and proxies in front of it, each a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from openai import OpenAI

from bench.stub_upstream import StubUpstream
from proxy.app import create_app
from proxy.config import parse_config
from proxy.server import serve_in_thread

UPSTREAM_KEY = "sk-upstream-SECRET-0123456789abcdef"
PROXY_KEY = "mmg-proxy-key-SECRET-42"


@pytest.fixture(scope="session")
def stub() -> Iterator[StubUpstream]:
    upstream = StubUpstream(slow_s=3.0)
    with serve_in_thread(upstream) as url:
        upstream.url = url  # type: ignore[attr-defined]
        yield upstream


def stub_route(name: str, upstream_url: str, transport: str, **extra: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {"model": f"openai/{name}", "api_base": f"{upstream_url}/v1", "api_key": "os.environ/TEST_UPSTREAM_KEY"},
        "transport": transport,
        **extra,
    }


def proxy_config(upstream_url: str, transport: str = "auto", **server: Any) -> dict[str, Any]:
    """Routes to the stub, all through one transport, plus the simulator (always through litellm)."""
    return {
        "server": {"max_body_bytes": 1_000_000, "upstream_timeout_s": 10, **server},
        "policy": "default",
        "model_list": [
            stub_route("echo", upstream_url, transport),
            # the safety prompt on every request, whatever the guard thinks of it: for the placement tests
            stub_route("echo-prompted", upstream_url, transport, policy="safety-prompt-only"),
            stub_route("echo-system", upstream_url, transport, safety_prompt_placement="system", policy="safety-prompt-only"),
            stub_route("echo-unguarded", upstream_url, transport, policy="unguarded"),
            stub_route("fail-429", upstream_url, transport),
            stub_route("fail-500", upstream_url, transport),
            stub_route("fail-401", upstream_url, transport),
            stub_route("fail-400", upstream_url, transport),
            stub_route("slow", upstream_url, transport, timeout_s=0.5),
            stub_route("stream-break", upstream_url, transport),
            stub_route("stream-cut", upstream_url, transport),
            stub_route("stream-unfinished", upstream_url, transport),
            {"model_name": "sim", "litellm_params": {"model": "mmguard/sim-mllm"}},
            {"model_name": "sim-unguarded", "litellm_params": {"model": "mmguard/sim-mllm"}, "policy": "unguarded"},
            {"model_name": "sim-safety-prompt", "litellm_params": {"model": "mmguard/sim-mllm"}, "policy": "safety-prompt-only"},
        ],
    }


@contextmanager
def running_proxy(raw_config: dict[str, Any]) -> Iterator[str]:
    config = parse_config(raw_config, "<test>", {**os.environ, "TEST_UPSTREAM_KEY": UPSTREAM_KEY})
    with serve_in_thread(create_app(config)) as url:
        yield url


@pytest.fixture(scope="session", params=["direct", "litellm"])
def proxy_url(stub: StubUpstream, request: pytest.FixtureRequest) -> Iterator[str]:
    """The proxy, once with every stub route on the direct transport and once through litellm."""
    with running_proxy(proxy_config(stub.url, request.param)) as url:  # type: ignore[attr-defined]
        yield url


@pytest.fixture(scope="session")
def locked_proxy_url(stub: StubUpstream) -> Iterator[str]:
    with running_proxy(proxy_config(stub.url, api_keys=[PROXY_KEY])) as url:  # type: ignore[attr-defined]
        yield url


@pytest.fixture
def client(proxy_url: str) -> OpenAI:
    return OpenAI(base_url=f"{proxy_url}/v1", api_key="unused", max_retries=0, timeout=20)


def mmguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, in a child process: its exit code, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "proxy.cli", *args], input=stdin, capture_output=True, text=True, timeout=300)
