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


def completion(model: str, message: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-mmguard-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def chunks(model: str, message: str) -> AsyncIterator[bytes]:
    base = {"id": f"chatcmpl-mmguard-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    yield sse.event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": message}, "finish_reason": None}]})
    yield sse.event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]})
    yield sse.DONE


def is_error_style(block: BlockPolicy) -> bool:
    return block.style == "error"
