"""What a blocked request gets back, in OpenAI's shapes; never a 5xx, which clients would retry.

``message`` style: HTTP 200 with an assistant message and ``finish_reason:
"content_filter"`` (streamed as chunks when the client asked for a stream), so
applications that already handle Azure's content filter handle this too.
``error`` style: HTTP 400 with code ``content_policy_violation``, as OpenAI
answers for its own policy refusals.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, AsyncIterator

from proxy import sse
from proxy.errors import ProxyError
from proxy.policy import BlockPolicy


def policy_violation(scenario: str | None, answer: bool = False) -> ProxyError:
    """The error-style block; ``answer`` when the output check withheld the model's answer (the request had passed)."""
    what = f" (scenario: {scenario})" if scenario else ""
    done = "The model's answer was withheld" if answer else "The request was blocked"
    return ProxyError(400, f"{done} by the proxy's content policy{what}.", "invalid_request_error", "content_policy_violation")


NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def completion(model: str, message: str, n: int = 1) -> dict[str, Any]:
    """The block answer as a completion with the ``n`` choices the client asked for, each the refusal."""
    return {
        "id": f"chatcmpl-mmguard-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": i, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"} for i in range(n)],
        "usage": NO_USAGE,
    }


async def chunks(model: str, message: str, n: int = 1, usage: bool = False) -> AsyncIterator[bytes]:
    """The block answer streamed: each of ``n`` choices' refusal and finish, then, when the client asked for
    ``stream_options.include_usage``, the usage chunk an app reads from a stream's end."""
    base = {"id": f"chatcmpl-mmguard-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    for i in range(n):
        yield sse.event({**base, "choices": [{"index": i, "delta": {"role": "assistant", "content": message}, "finish_reason": None}]})
        yield sse.event({**base, "choices": [{"index": i, "delta": {}, "finish_reason": "content_filter"}]})
    if usage:
        yield sse.event({**base, "choices": [], "usage": NO_USAGE})
    yield sse.DONE


def is_error_style(block: BlockPolicy) -> bool:
    return block.style == "error"
