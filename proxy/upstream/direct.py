"""The direct transport: OpenAI's chat-completions protocol, straight to an OpenAI-compatible server.

The client's body goes upstream as it came, but for the model name (the
upstream's), the messages (the guard's) and the key (the operator's). Chunks
come back as the server sent them. One pooled HTTP client per proxy process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import aiohttp

from proxy.upstream.call import UpstreamCall
from proxy.upstream.failures import UpstreamHTTPError

RETRY_STATUSES = frozenset({502, 503, 504})


def upstream_model(litellm_model: str) -> str:
    """``openai/gpt-4o`` -> ``gpt-4o``; ``hosted_vllm/meta-llama/X`` -> ``meta-llama/X``."""
    return litellm_model.split("/", 1)[1] if "/" in litellm_model else litellm_model


def build_request(call: UpstreamCall, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and body of the upstream request; a pure function."""
    lp = call.route.litellm_params
    url = f"{(lp.api_base or '').rstrip('/')}/chat/completions"
    headers = {"content-type": "application/json", **{str(k): str(v) for k, v in (lp.extra_headers or {}).items()}}
    if lp.api_key is not None:
        headers["authorization"] = f"Bearer {lp.api_key.get_secret_value()}"
    body = {**call.params, "model": upstream_model(lp.model), "messages": call.messages}
    if stream:
        body["stream"] = True
    return url, headers, body


def _error(status: int, reason: str, headers: Any, raw: bytes) -> UpstreamHTTPError:
    try:
        detail = json.loads(raw)["error"]["message"]
    except Exception:
        detail = raw[:200].decode(errors="replace") or reason
    return UpstreamHTTPError(status, str(detail), headers.get("retry-after"))


class DirectTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the serving event loop, which an aiohttp session is bound to.
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), trust_env=False)
        return self._session

    async def _send(self, call: UpstreamCall, stream: bool) -> aiohttp.ClientResponse:
        url, headers, body = build_request(call, stream)
        data = json.dumps(body)
        # A stream may run long; what must not stall is each read. A completion must finish in time.
        timeout = aiohttp.ClientTimeout(sock_connect=call.timeout_s, sock_read=call.timeout_s) if stream else aiohttp.ClientTimeout(total=call.timeout_s)
        for attempt in range(call.route.max_retries + 1):
            last = attempt == call.route.max_retries
            try:
                response = await self.session.post(url, data=data, headers=headers, timeout=timeout)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                if last:
                    raise
            else:
                if response.status < 400:
                    return response
                error = _error(response.status, response.reason or "", response.headers, await response.read())
                response.release()
                if last or response.status not in RETRY_STATUSES:
                    raise error
            await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        response = await self._send(call, stream=False)
        try:
            return json.loads(await response.read())
        except json.JSONDecodeError:
            raise UpstreamHTTPError(502, "upstream answered with something other than JSON") from None
        finally:
            response.release()

    async def open_stream(self, call: UpstreamCall) -> AsyncIterator[dict[str, Any]]:
        return self._chunks(await self._send(call, stream=True))

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        """The stream's chunks; one whose body ends before ``[DONE]`` was cut short and ends in an error.

        ``[DONE]`` is the only sign of a whole answer OpenAI's protocol gives
        (a finish_reason is not: some servers end with ``[DONE]`` and none), so
        a client never takes a partial answer for a whole one.
        """
        try:
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                payload = json.loads(data)
                if isinstance(payload, dict) and payload.get("error"):
                    error = payload["error"]
                    raise UpstreamHTTPError(502, str(error.get("message") if isinstance(error, dict) else error))
                yield payload
            raise UpstreamHTTPError(502, "the upstream's stream ended before the answer finished (no [DONE])")
        finally:
            response.close()  # also when the client went away: drops the upstream connection

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
