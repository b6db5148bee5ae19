"""A light closed-loop HTTP/1.1 load generator: pre-encoded requests, keep-alive connections, a C parser.

On a 2-core machine the client competes with the proxy for CPU, so it must
cost far less per request than what it measures. httpx or aiohttp clients
spend a few hundred microseconds of Python per request; this one writes
request bytes built before the clock starts and parses responses with
httptools (llhttp, the parser uvicorn itself uses) on a uvloop event loop, in
the harness's own process, apart from the proxy's and the stub's. It is
wrk's model in Python: N clients, each with one connection and one request
in flight, each sending the next request as soon as the last one is answered.
Sending the same load to the stub directly shows the client's own ceiling.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Coroutine, TypeVar

import httptools
import uvloop

HOST = "127.0.0.1"
HEADERS = (b"x-mmguard-decision", b"x-mmguard-rule")
T = TypeVar("T")


@dataclass(frozen=True)
class Payload:
    """One request as it goes on the wire, and what it is, for reporting."""

    kind: str
    raw: bytes


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str
    status: int  # 0: no HTTP answer (connection lost, timeout, garbled)
    latency_ms: float
    decision: str | None
    rule: str | None
    body: bytes  # kept only for non-2xx answers, to tell a policy refusal from a failure
    failure: str | None = None

    @property
    def outcome(self) -> str:
        """``ok``, ``block`` (the guard's refusal, in either block style) or ``error``.

        A block whose rule is ``guard_error`` is the guard failing closed, so an
        error; so is every non-2xx other than OpenAI-style policy refusal.
        """
        if 200 <= self.status < 300:
            if self.rule == "guard_error":
                return "error"
            return "block" if self.decision == "block" else "ok"
        if self.status == 400 and b"content_policy_violation" in self.body:
            return "block"
        return "error"

    def describe(self) -> str:
        """What went wrong, for a human: the transport failure, the guard failing closed, or the HTTP answer."""
        if self.failure:
            return f"{self.kind}: {self.failure}"
        if self.rule == "guard_error":
            return f"{self.kind}: the guard failed closed (x-mmguard-rule: guard_error); mmguard check on the same input shows why"
        return f"{self.kind}: HTTP {self.status} {self.body[:160].decode(errors='replace')}"


def first_error(samples: list[Sample]) -> str | None:
    return next((s.describe() for s in samples if s.outcome == "error"), None)


@dataclass
class LoadRun:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: dict[bytes, bytes] = {}
        self._body = bytearray()

    @classmethod
    async def open(cls, port: int) -> "Connection":
        _, protocol = await asyncio.get_running_loop().create_connection(cls, HOST, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(ConnectionError(f"bad response: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("connection closed"))

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in HEADERS:
            self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(Response(self._parser.get_status_code(), self._headers, bytes(self._body)))

    def _fail(self, err: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(err)

    async def request(self, raw: bytes, timeout_s: float) -> Response:
        loop = asyncio.get_running_loop()
        self._waiter, self._headers, self._body = loop.create_future(), {}, bytearray()
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("connection closed")
        timer = loop.call_later(timeout_s, self._fail, TimeoutError(f"no answer within {timeout_s}s"))
        self._transport.write(raw)
        try:
            return await self._waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def send(connection: Connection, payload: Payload, timeout_s: float = 60.0) -> Sample:
    """One timed request; a transport failure is a sample with status 0, never an exception."""
    start = time.perf_counter()
    try:
        r = await connection.request(payload.raw, timeout_s)
    except (ConnectionError, TimeoutError) as err:
        return Sample(payload.kind, 0, (time.perf_counter() - start) * 1000, None, None, b"", f"{type(err).__name__}: {err}")
    decision, rule = r.headers.get(b"x-mmguard-decision"), r.headers.get(b"x-mmguard-rule")
    return Sample(
        payload.kind, r.status, (time.perf_counter() - start) * 1000,
        decision.decode() if decision else None, rule.decode() if rule else None, r.body if r.status >= 300 else b"",
    )


class Client:
    """A connection that reconnects after a failure, as a real client would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._connection: Connection | None = None

    async def send(self, payload: Payload, timeout_s: float = 60.0) -> Sample:
        if self._connection is None:
            try:
                self._connection = await Connection.open(self.port)
            except OSError as err:
                return Sample(payload.kind, 0, 0.0, None, None, b"", f"connect: {type(err).__name__}: {err}")
        sample = await send(self._connection, payload, timeout_s)
        if sample.status == 0:
            self.close()
        return sample

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def closed_loop(port: int, source: Callable[[], Awaitable[Payload | None]], clients: int, seconds: float | None = None) -> LoadRun:
    """``clients`` connections, each sending ``source``'s next payload as soon as the last is answered.

    Ends when ``source`` runs dry or, with ``seconds``, at the deadline (requests
    in flight then still finish and count, and so does their time).
    """
    run = LoadRun()
    deadline = time.perf_counter() + seconds if seconds else float("inf")

    async def one() -> None:
        client = Client(port)
        try:
            while time.perf_counter() < deadline and (payload := await source()) is not None:
                run.samples.append(await client.send(payload))
        finally:
            client.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    run.seconds = time.perf_counter() - start
    return run


def from_list(payloads: list[Payload]) -> Callable[[], Awaitable[Payload | None]]:
    """A ``closed_loop`` source that hands out ``payloads`` once each, in order."""
    it = iter(payloads)

    async def source() -> Payload | None:
        return next(it, None)

    return source


def run_async(main: Coroutine[object, object, T]) -> T:
    """Run ``main`` on a uvloop loop: its transports cost the client less per request than asyncio's."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def post(body: bytes, path: str = "/v1/chat/completions") -> bytes:
    """A complete HTTP/1.1 POST of a JSON ``body``, to send as is to the stub or the proxy."""
    head = f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body
