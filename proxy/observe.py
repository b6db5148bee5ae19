"""Seeing every chat request from its first byte to its last, and reporting it once.

A pure ASGI middleware wraps ``POST /v1/chat/completions`` because it is the one
place every ending passes through: an answer; a ``ProxyError`` that the
exception handlers turn into a response; an unexpected exception; a stream that
runs to ``[DONE]``, breaks, or loses its client. The route fills in an
``Exchange`` as it goes (model, policy, guard outcome, output verdict, timings);
the middleware counts the request in flight, notes the status, stamps
``x-request-id`` on every response, errors included, and hands the finished
exchange to its reporters (metrics, the decision log). A check of the answer
that runs after its last byte (a response's background task) still runs
inside the wrapped call, so the report includes it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy import metrics
from proxy.errors import internal_error
from proxy.guard import GuardOutcome
from proxy.output_check import OutputVerdict
from proxy.request import ChatRequest

log = logging.getLogger("mmguard")

CHAT_PATH = "/v1/chat/completions"
_SCOPE_KEY = "mmguard.exchange"


@dataclass
class Timing:
    """Where the time went, so the proxy can report its own overhead apart from the model's."""

    start: float
    upstream_start: float | None = None
    upstream_s: float | None = None
    overhead_s: float | None = None

    def begin_upstream(self) -> None:
        self.upstream_start = time.perf_counter()

    def end_upstream(self) -> None:
        if self.upstream_start is not None and self.upstream_s is None:
            self.upstream_s = time.perf_counter() - self.upstream_start

    def overhead_ms(self) -> float:
        """The proxy's time so far, the upstream call excluded; kept, so the metric and the header agree."""
        self.overhead_s = max(0.0, time.perf_counter() - self.start - (self.upstream_s or 0.0))
        return self.overhead_s * 1000


@dataclass
class Exchange:
    """One chat request as the proxy saw it; the route fills it in, the middleware finishes it."""

    request_id: str
    timing: Timing
    received_at: datetime
    model: str | None = None  # a configured model name, once the request named one
    policy: str | None = None
    stream: bool = False
    chat: ChatRequest | None = None
    outcome: GuardOutcome | None = None
    output: OutputVerdict | None = None  # the output check's verdict on the answer, when it read one
    status: int | None = None
    error_code: str | None = None  # the ProxyError code the request (or its stream) ended with
    completed: bool = False  # the last byte went out
    client_closed: bool = False  # the client left before the last byte
    duration_s: float | None = None

    @classmethod
    def begin(cls) -> "Exchange":
        """A new request, with its id and its clock started."""
        return cls(f"req_{uuid.uuid4().hex}", Timing(time.perf_counter()), datetime.now(timezone.utc))

    def routed(self, chat: ChatRequest, model: str, policy: str) -> None:
        """The request named a configured model, and its policy is known."""
        self.chat, self.stream, self.model, self.policy = chat, bool(chat.stream), model, policy

    @property
    def error_kind(self) -> str | None:
        """The bounded kind of the failure that ended the request; a block in error style is a decision, not a failure."""
        if self.error_code == "content_policy_violation":
            return None
        if self.error_code is not None or (self.status or 0) >= 400:
            return metrics.error_kind(self.error_code, self.status or 500)
        return None

    @property
    def decision(self) -> metrics.Decision:
        """How the request ended: ``block`` when the guard refused it or the output check withheld its answer,
        else the guard's decision; ``error`` when it failed or never reached the guard."""
        if self.error_kind is not None or self.outcome is None:
            return "error"
        if self.output is not None and self.output.taken == "blocked":
            return "block"
        return self.outcome.decision


def exchange_of(scope: Scope) -> Exchange | None:
    """The exchange of a chat request (None for every other route)."""
    return scope.get(_SCOPE_KEY)


def report_metrics(exchange: Exchange) -> None:
    """Everything one finished chat request adds to the Prometheus metrics."""
    metrics.record_request(exchange.model, exchange.policy, exchange.decision)
    if exchange.error_kind is not None:
        metrics.record_error(exchange.error_kind)
    if exchange.client_closed:
        metrics.record_error("client_closed")
    outcome = exchange.outcome
    if outcome is not None:
        metrics.record_stages(outcome.timings_ms)
        for finding in outcome.findings:
            metrics.record_flag(finding.scenario, finding.action, finding.source, finding.rule)
        if outcome.error is not None:
            metrics.record_error("guard_error")
    output = exchange.output
    if output is not None:
        if output.flag is not None:
            metrics.record_flag(output.scenario, output.flag, "output")
        if output.error is not None:
            metrics.record_error("guard_error")
    if exchange.model is not None and exchange.timing.upstream_s is not None:
        metrics.record_upstream(exchange.model, exchange.timing.upstream_s)
    if exchange.timing.overhead_s is not None:
        metrics.record_overhead(exchange.timing.overhead_s)


Reporter = Callable[[Exchange], None]


class ObserveMiddleware:
    """Wraps the chat route: in-flight gauge, request id on every response, one report per request."""

    def __init__(self, app: ASGIApp, reporters: Sequence[Reporter]) -> None:
        self.app = app
        self.reporters = tuple(reporters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        exchange = scope[_SCOPE_KEY] = Exchange.begin()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers.append("x-request-id", exchange.request_id)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                exchange.completed = True
            await send(message)

        try:
            with metrics.IN_FLIGHT.track_inprogress():
                await self.app(scope, receive, observed_send)
            exchange.client_closed = not exchange.completed  # a stream whose client went away ends quietly
        except ClientDisconnect:  # the client left while its body was read or its answer awaited: nobody to answer
            exchange.client_closed = True
        except Exception as exc:
            if exchange.status is not None:
                raise  # the response has begun: all the server can do is drop the connection
            # Answered here rather than re-raised: the server would log the exception's message and
            # traceback, and a message may quote the prompt. The log gets the type and the request id.
            log.error("internal error in %s: %s", exchange.request_id, type(exc).__name__)
            exchange.error_code = "internal_error"
            await internal_error().response()(scope, receive, observed_send)
        finally:
            self._finish(exchange)

    def _finish(self, exchange: Exchange) -> None:
        exchange.timing.end_upstream()  # a stream cut short by its client never reached its own end
        exchange.duration_s = time.perf_counter() - exchange.timing.start
        for report in self.reporters:
            try:
                report(exchange)
            except Exception as err:  # monitoring must never break serving
                log.error("reporting request %s failed: %s", exchange.request_id, type(err).__name__)
