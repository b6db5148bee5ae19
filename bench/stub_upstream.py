"""A fast OpenAI-compatible model stub for loopback: it records what it is sent, echoes, and fails on cue.

The tests use it as the upstream behind the proxy, and the performance
harness uses it as the "model" whose latency is near zero, so that what is
measured is the proxy. The model name picks the behaviour:

=================  ===========================================================
``fail-429``       429 with ``Retry-After: 7``
``fail-<status>``  that status with an OpenAI-shaped error body
``slow``           answers after ``slow_s`` seconds (for timeouts)
``slow-stream``    streams a chunk every ``stream_interval_s`` (at most 100), and records in
                   ``stream_ends[<last user text>]`` whether it ``finished`` or the client ``closed`` it
``stream-break``   a stream that sends two chunks and then drops the connection
``stream-cut``     a stream that ends cleanly after two chunks, with no finish_reason and no ``[DONE]``
``stream-unfinished`` a whole stream ended by ``[DONE]`` whose chunks carry no finish_reason (some servers')
anything else      a completion whose content is ``echo: <last user text>``
=================  ===========================================================

``python -m bench.stub_upstream`` serves one (recording nothing) until Ctrl-C,
an upstream to put behind a proxy by hand: ``api_base: http://127.0.0.1:8001/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


async def serve_lifespan(receive: Any, send: Any) -> None:
    """Acknowledge ASGI start-up and shut-down, for servers with nothing to set up."""
    while True:
        event = (await receive())["type"]
        await send({"type": f"{event}.complete"})
        if event == "lifespan.shutdown":
            return


async def read_body(receive: Any) -> bytes:
    """The whole HTTP request body of an ASGI request."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


@dataclass
class StubUpstream:
    """An ASGI app; serve it with ``proxy.server.serve_in_thread``."""

    slow_s: float = 5.0
    stream_interval_s: float = 0.2
    record: bool = True
    requests: list[Recorded] = field(default_factory=list)
    stream_ends: dict[str, str] = field(default_factory=dict)

    def last(self) -> Recorded:
        return self.requests[-1]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await serve_lifespan(receive, send)
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["path"].endswith("/models"):
            await self._json(send, 200, {"object": "list", "data": [{"id": "echo", "object": "model"}]})
            return
        request = json.loads(body or b"{}")
        if self.record:
            self.requests.append(Recorded(request, {k.decode(): v.decode() for k, v in scope["headers"]}))
        model = str(request.get("model", ""))
        if model.startswith("fail-"):
            status = int(model.split("-", 1)[1])
            headers = [(b"retry-after", b"7")] if status == 429 else []
            await self._json(send, status, {"error": {"message": f"stub failure {status}", "type": "stub_error", "code": None, "param": None}}, headers)
            return
        if model == "slow-stream" and request.get("stream"):
            await self._slow_stream(receive, send, model, _last_user_text(request.get("messages", [])))
            return
        if model == "slow":
            await asyncio.sleep(self.slow_s)
        content = f"echo: {_last_user_text(request.get('messages', []))}"
        if request.get("stream"):
            await self._stream(send, model, content, request)
        else:
            await self._json(send, 200, _completion(model, content))

    async def _json(self, send: Any, status: int, payload: dict, headers: list | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *(headers or [])]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    async def _stream(self, send: Any, model: str, content: str, request: dict) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        words = content.split(" ")
        for i, word in enumerate(words):
            if model == "stream-break" and i == 2:
                raise ConnectionResetError("stub drops the stream on cue")
            if model == "stream-cut" and i == 2:  # a clean end of body, mid-answer: no finish_reason, no [DONE]
                await send({"type": "http.response.body", "body": b""})
                return
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
            await send({"type": "http.response.body", "body": _chunk(model, delta), "more_body": True})
        if model != "stream-unfinished":
            await send({"type": "http.response.body", "body": _chunk(model, {}, "stop"), "more_body": True})
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()), "model": model, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": len(words), "total_tokens": 1 + len(words)}}
            await send({"type": "http.response.body", "body": b"data: " + json.dumps(usage).encode() + b"\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    async def _slow_stream(self, receive: Any, send: Any, model: str, tag: str) -> None:
        """Chunks until done or until the client hangs up, so a test can see whether a proxy frees its upstream call."""
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        outcome = "closed"
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            for i in range(100):
                await send({"type": "http.response.body", "body": _chunk(model, {"content": f"{i} "}), "more_body": True})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), self.stream_interval_s)
                if gone.is_set():
                    return
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
            outcome = "finished"
        except OSError:  # the server reports the hang-up on send
            pass
        finally:
            watcher.cancel()
            self.stream_ends[tag] = outcome


def create_app() -> StubUpstream:
    """Factory for ``uvicorn --factory bench.stub_upstream:create_app``: a stub that records nothing."""
    return StubUpstream(record=False)


def main(argv: list[str] | None = None) -> None:
    """Serve ``create_app()`` on ``--host`` and ``--port`` until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.stub_upstream",
        description="An OpenAI-compatible stub upstream: the model name picks the answer (fail-<status>, slow, slow-stream, stream-break, stream-cut; "
        "anything else echoes the last user text).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8001, help="port (default: 8001, beside mmguard serve's 8000)")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
