"""Targets and arms: the model under test, and the ways the same cases reach it.

An arm is one way of sending a case: ``direct`` calls the model around the
proxy (litellm, exactly as the proxy would route it); ``guarded`` sends it
through the proxy with the chosen policy; ``safety_prompt_only`` through the
proxy with only MM-SafetyBench's safety prompt, to show what that defense
contributes alone. Every arm answers with a ``Reply``, and says whether a
failure is worth retrying (429, 5xx, timeouts) or final.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

SIM_MODEL = "mmguard/sim-mllm"

#: Arms that go through the proxy, and the policy each uses when the bench starts the proxy itself.
PROXY_ARMS = {"guarded": None, "safety_prompt_only": "safety-prompt-only"}
ARMS = ("direct", *PROXY_ARMS)


class ArmError(Exception):
    """A case the arm could not answer; ``retry`` for 429, 5xx and timeouts."""

    def __init__(self, message: str, status: int | None, retry: bool) -> None:
        super().__init__(message)
        self.status, self.retry = status, retry


@dataclass(frozen=True)
class Target:
    """The model under test: a litellm model string, where it lives, and the env var holding its key."""

    model: str = SIM_MODEL
    api_base: str | None = None
    api_key_env: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.model.startswith("mmguard/")

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if key is None:
            raise ValueError(f"environment variable {self.api_key_env} (the target's API key) is not set")
        return key


@dataclass(frozen=True)
class Reply:
    content: str
    latency_ms: float
    blocked: bool = False  # the proxy stopped the request before the model saw it
    decision: str | None = None  # the proxy's x-mmguard-decision
    scenario: str | None = None
    policy: str | None = None  # the proxy's x-mmguard-policy: what an external proxy ran, which the bench cannot choose
    overhead_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class Arm(Protocol):
    name: str
    fingerprint: str  # what else, besides the messages, decides the answer: part of the cache key

    async def send(self, messages: list[dict[str, Any]]) -> Reply: ...


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class DirectArm:
    """The model called with litellm, around the proxy."""

    name = "direct"

    def __init__(self, target: Target, timeout_s: float = 120.0) -> None:
        from proxy import quiet_litellm
        from proxy.simulator import provider

        litellm = quiet_litellm()
        provider.register()
        self._litellm, self._target, self._timeout = litellm, target, timeout_s
        self._key = target.api_key()
        self.fingerprint = f"direct|{target.model}|{target.api_base}|{sorted(target.params.items())}" + (f"|{guard_build()}" if target.simulated else "")

    async def send(self, messages: list[dict[str, Any]]) -> Reply:
        # litellm's and the OpenAI SDK's own retries off: the runner retries (--retries), and counts what it does;
        # left on, every attempt was three calls, and --retries 0 still sent three
        kwargs: dict[str, Any] = {"model": self._target.model, "messages": messages, "timeout": self._timeout, "max_retries": 0, "num_retries": 0, **self._target.params}
        if self._target.api_base:
            kwargs["api_base"] = self._target.api_base
        if self._key:
            kwargs["api_key"] = self._key
        start = time.perf_counter()
        try:
            response = await self._litellm.acompletion(**kwargs)
        except Exception as err:
            status = getattr(err, "status_code", None)
            message = f"{type(err).__name__}: {err}".replace(self._key or "\0", "[redacted]")[:300]
            raise ArmError(message, status, _retryable(status) or isinstance(err, self._litellm.Timeout)) from None
        latency = (time.perf_counter() - start) * 1000
        usage = getattr(response, "usage", None)
        cost = (response._hidden_params or {}).get("response_cost") if hasattr(response, "_hidden_params") else None
        return Reply(
            content=response.choices[0].message.content or "",
            latency_ms=latency,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=cost,
        )


class ProxyArm:
    """The model reached through an mmguard proxy (the bench's own, or the user's ``--proxy-url``).

    Plain httpx, not a client SDK: the bench needs the proxy's decision headers
    and the exact status of every failure, and nothing retried behind its back.
    """

    def __init__(self, name: str, base_url: str, model: str, fingerprint: str, key: str | None = None, timeout_s: float = 120.0) -> None:
        self.name, self._model, self.fingerprint = name, model, fingerprint
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, limits=limits)

    async def send(self, messages: list[dict[str, Any]]) -> Reply:
        start = time.perf_counter()
        try:
            response = await self._client.post("/v1/chat/completions", json={"model": self._model, "messages": messages})
        except httpx.HTTPError as err:
            raise ArmError(f"{type(err).__name__}: {err}"[:300], None, True) from None
        latency = (time.perf_counter() - start) * 1000
        headers = response.headers
        overhead = float(headers["x-mmguard-overhead-ms"]) if "x-mmguard-overhead-ms" in headers else None
        common = {"latency_ms": latency, "decision": headers.get("x-mmguard-decision"), "scenario": headers.get("x-mmguard-scenario"), "policy": headers.get("x-mmguard-policy"), "overhead_ms": overhead}
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            if error.get("code") == "content_policy_violation":  # the policy's error-style block
                return Reply(content=error.get("message", ""), blocked=True, **common)
            raise ArmError(f"HTTP {response.status_code}: {error.get('message', response.text[:200])}", response.status_code, _retryable(response.status_code))
        try:
            content = body["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ArmError("HTTP 200 without a chat completion in the body", response.status_code, False) from None
        usage = body.get("usage") or {}
        return Reply(
            content=content,
            blocked=headers.get("x-mmguard-decision") == "block",
            prompt_tokens=usage.get("prompt_tokens", 0) or 0,
            completion_tokens=usage.get("completion_tokens", 0) or 0,
            **common,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


#: What under the proxy package decides an answer: its code, the classifier's weights, its built-in config.
BUILD_FILES = (".py", ".npz", ".yaml")


def source_digest(root: Path, *extra: str) -> str:
    """Every file of ``BUILD_FILES``' kinds under ``root`` (its path and bytes), and ``extra``: a short digest of the build."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in BUILD_FILES and p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    for part in extra:
        digest.update(f"\0{part}".encode())
    return digest.hexdigest()[:16]


@functools.cache
def guard_build() -> str:
    """The code that reads and judges, and the simulated model: the proxy package's source and weights, and
    the tesseract that OCR runs. Part of a proxy arm's fingerprint (and a simulated direct arm's), so a cached answer or a
    done row from before an OCR or guard change is asked again rather than mixed with new ones. The run's
    folder is named without it: a code change resumes the same run, re-asking what it changed."""
    import proxy
    from proxy.ocr import engine_version

    return source_digest(Path(proxy.__file__).parent, engine_version())


def guard_fingerprint(policy: str) -> str:
    """The policy's content and the classifier head's bytes: a changed guard must not reuse cached answers."""
    from importlib import resources

    from proxy.policy import resolve_policy_path

    digest = hashlib.sha256(resolve_policy_path(policy).read_bytes())
    digest.update(resources.files("proxy.classifier").joinpath("head.npz").read_bytes())
    return digest.hexdigest()[:16]


def local_proxy_config(target: Target, policy: str, arms: tuple[str, ...]) -> dict[str, Any]:
    """The config of the proxy the bench starts itself: one route per proxy arm, each with its policy."""
    params: dict[str, Any] = {"model": target.model, **target.params}
    if target.api_base:
        params["api_base"] = target.api_base
    if target.api_key_env:
        params["api_key"] = f"os.environ/{target.api_key_env}"
    routes = [{"model_name": f"bench-{arm}", "litellm_params": params, "policy": PROXY_ARMS[arm] or policy} for arm in arms if arm in PROXY_ARMS]
    return {"server": {"host": "127.0.0.1", "port": 0, "max_body_bytes": 64 * 1024 * 1024}, "policy": policy, "model_list": routes}
