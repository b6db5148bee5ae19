"""``POST /v1/chat/completions``: read, authorize, guard, forward, check the answer, answer.

The order matters: the key is checked before the body is read, the body size
before it is parsed, and the guard runs before anything reaches the upstream.
The answer goes through the output check its policy chose
(``proxy.output_check``; ``proxy.output_stream`` for streams): read before it
is sent when the policy blocks harmful answers, after its last byte when it
only monitors them, so monitoring never delays an answer. Every failure on the
way is a ``ProxyError`` in OpenAI's shape. What happened is noted on the
request's ``Exchange`` (``proxy.observe``), which reports it to the metrics and
the decision log once the last byte is out.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from proxy import refusal, sse
from proxy.auth import bearer_token, check_key
from proxy.errors import ProxyError, too_large, unknown_model
from proxy.guard import Guard, GuardOutcome
from proxy.observe import Exchange, Timing, exchange_of
from proxy.output_check import OutputCheck, answer_texts
from proxy.output_stream import AnswerStream
from proxy.policy import BlockPolicy
from proxy.request import ChatRequest, decode_body, parse_chat_request
from proxy.runtime import Runtime
from proxy.upstream import Upstream, UpstreamCall, map_upstream_error


T = TypeVar("T")


async def _disconnected(receive: Receive) -> None:
    """Returns when the client closes its connection (the body is read, so nothing else can arrive)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def while_client_waits(work: Awaitable[T], receive: Receive) -> T:
    """``work``'s result, or ClientDisconnect as soon as the client closes its connection.

    A client that gave up used to leave the upstream call running (and
    billing) to its end, and the request was counted as whatever ended it,
    an upstream timeout say, instead of as the client's leaving.
    """
    task, gone = asyncio.ensure_future(work), asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        finished = task.done()
        if not finished:
            task.cancel()
    if finished:
        return task.result()
    raise ClientDisconnect()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit``, declared or not."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _name_the_route(raw: Any, runtime: Runtime, key: bytes | None, exchange: Exchange) -> None:
    """A request refused as malformed still counts under the configured model it named, when it named one,
    so a client sending bad requests shows on its own route's error panel, not under ``unknown``."""
    model = raw.get("model") if isinstance(raw, dict) else None
    route = runtime.config.route(model) if isinstance(model, str) else None
    if route is not None:
        exchange.model, exchange.policy = route.model_name, runtime.policy_for(route, key).name


def decision_headers(outcome: GuardOutcome, request_id: str, timing: Timing) -> dict[str, str]:
    """What the guard did and what the proxy's own time was, on an answer or a refusal."""
    return guard_headers(outcome, request_id) | {"x-mmguard-overhead-ms": f"{timing.overhead_ms():.3f}"}


def guard_headers(outcome: GuardOutcome, request_id: str) -> dict[str, str]:
    """What the guard did, for the client and for log pipelines; ids and numbers only, never content."""
    headers = {
        "x-request-id": request_id,
        "x-mmguard-decision": outcome.decision,
        "x-mmguard-policy": outcome.policy,
        "x-mmguard-defenses": ",".join(outcome.defenses) or "none",
    }
    if outcome.finding is not None:
        headers["x-mmguard-scenario"] = outcome.finding.scenario or "none"
        headers["x-mmguard-source"] = outcome.finding.source
        headers["x-mmguard-score"] = f"{outcome.finding.score:.4f}"
        if outcome.finding.rule:
            headers["x-mmguard-rule"] = outcome.finding.rule
    if outcome.would is not None:
        headers["x-mmguard-would-decision"] = outcome.would
    return headers


async def chat_completions(request: Request) -> Any:
    runtime: Runtime = request.app.state.runtime
    exchange = exchange_of(request.scope) or Exchange.begin()
    timing, request_id = exchange.timing, exchange.request_id

    authorization = request.headers.get("authorization")
    check_key(authorization, runtime.api_keys)
    token = bearer_token(authorization)
    key = token.encode() if token else None
    raw = decode_body(await read_body(request, runtime.config.server.max_body_bytes))
    try:
        chat = parse_chat_request(raw)
    except ProxyError:
        _name_the_route(raw, runtime, key, exchange)
        raise
    route = runtime.config.route(chat.model)
    if route is None:
        raise unknown_model(chat.model)
    policy = runtime.policy_for(route, key)
    exchange.routed(chat, route.model_name, policy.name)
    guard: Guard = request.app.state.guard
    outcome = exchange.outcome = await guard.inspect(chat, policy, route.safety_prompt_placement)
    if outcome.decision == "block":
        scenario = outcome.finding.scenario if outcome.finding else None
        return _refuse(chat, policy.block, decision_headers(outcome, request_id, timing), scenario)
    call = UpstreamCall(
        route=route,
        messages=outcome.messages,
        params=chat.params(),
        timeout_s=route.timeout_s or runtime.config.server.upstream_timeout_s,
    )
    upstream: Upstream = request.app.state.upstream
    check = OutputCheck(guard, policy, stream=bool(chat.stream))
    if chat.stream:
        return await _stream(upstream, call, outcome, exchange, runtime, check, request.receive)
    timing.begin_upstream()
    try:
        body = await while_client_waits(upstream.complete(call), request.receive)
    except ClientDisconnect:
        raise
    except Exception as exc:
        raise _decided(map_upstream_error(exc, runtime.secrets), outcome, exchange) from None
    finally:
        timing.end_upstream()
    return await _answer(chat, body, outcome, exchange, check)


def _decided(error: ProxyError, outcome: GuardOutcome, exchange: Exchange) -> ProxyError:
    """The upstream's error, with the headers that say what the guard did before the call (the upstream's own,
    such as ``retry-after``, kept): a 429 or a 504 answered a request the guard had already let through or annotated.
    No overhead header: the proxy's overhead is measured, and its metric observed, on answered requests only."""
    return replace(error, headers=guard_headers(outcome, exchange.request_id) | error.headers)


async def _answer(chat: ChatRequest, body: dict[str, Any], outcome: GuardOutcome, exchange: Exchange, check: OutputCheck) -> Any:
    """The upstream's answer through the output check; ``x-mmguard-output`` says what became of it.

    ``skipped``: no text to read (tool calls). ``deferred``: monitored, read
    after the last byte is sent. ``pass``, ``flagged``, ``blocked``: read
    before answering, because the policy blocks harmful answers.
    """
    if check.plan == "off":
        return JSONResponse(body, headers=decision_headers(outcome, exchange.request_id, exchange.timing))
    texts = answer_texts(body)
    background, verdict = None, None
    if not texts:
        state = "skipped"
    elif check.plan == "monitor":
        state, background = "deferred", BackgroundTask(_judge_later, check, texts, exchange)
    else:
        verdict = exchange.output = await check.judge(texts)
        state = verdict.taken
    headers = decision_headers(outcome, exchange.request_id, exchange.timing) | {"x-mmguard-output": state}
    if verdict is not None and verdict.taken == "blocked":
        return _refuse(chat, check.policy.block, headers, verdict.scenario, answer=True)
    return JSONResponse(body, headers=headers, background=background)


async def _judge_later(check: OutputCheck, texts: list[str], exchange: Exchange) -> None:
    exchange.output = await check.judge(texts)


def _refuse(chat: ChatRequest, block: BlockPolicy, headers: dict[str, str], scenario: str | None, answer: bool = False) -> Any:
    """The policy's block answer, for a blocked request or (``answer``) a withheld answer alike, in the shape the
    client asked for: ``n`` choices, and a usage chunk closing a stream when ``stream_options.include_usage``."""
    if refusal.is_error_style(block):
        error = refusal.policy_violation(scenario, answer)
        error.headers.update(headers)
        raise error
    params = chat.params()
    n = params.get("n") or 1  # absent, or 1 to MAX_CHOICES: DocumentedParams checked it
    if chat.stream:
        usage = bool((params.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(refusal.chunks(chat.model, block.message, n, usage), media_type="text/event-stream", headers=headers)
    return JSONResponse(refusal.completion(chat.model, block.message, n), headers=headers)


async def _open(upstream: Upstream, call: UpstreamCall) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
    """The stream and its first chunk, read early so that a failing upstream still gets its status."""
    chunks = await upstream.open_stream(call)
    try:
        return chunks, await anext(chunks, None)
    except BaseException:
        await chunks.aclose()
        raise


async def _stream(upstream: Upstream, call: UpstreamCall, outcome: GuardOutcome, exchange: Exchange, runtime: Runtime, check: OutputCheck, receive: Receive) -> StreamingResponse:
    # Headers go out with the first byte, so the reported overhead is the guard's time before the upstream call.
    timing = exchange.timing
    headers = decision_headers(outcome, exchange.request_id, timing)
    timing.begin_upstream()
    try:
        chunks, first = await while_client_waits(_open(upstream, call), receive)
    except ClientDisconnect:
        raise
    except Exception as exc:
        timing.end_upstream()
        raise _decided(map_upstream_error(exc, runtime.secrets), outcome, exchange) from None

    answer = AnswerStream(_chain(first, chunks), check, exchange)
    relayed = answer.relay()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in relayed:
                yield sse.event(chunk)
            yield sse.DONE
        except ProxyError as blocked:  # the output check stopped the stream, in the error block style
            exchange.error_code = blocked.code
            yield sse.event(blocked.body())
        except Exception as exc:  # a fault after the stream began: end it with an error event, never hang
            error = map_upstream_error(exc, runtime.secrets)
            exchange.error_code = error.code
            yield sse.event(error.body())
        finally:
            timing.end_upstream()
            await relayed.aclose()
            await chunks.aclose()

    return StreamingResponse(body(), media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}, background=answer.background())


async def _chain(first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]) -> AsyncGenerator[dict[str, Any], None]:
    """The stream again from its first chunk, which was read early so that a failing upstream still gets its status."""
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk
