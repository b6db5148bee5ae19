"""Server-sent events in OpenAI's chunk format."""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]\n\n"


def event(payload: dict[str, Any]) -> bytes:
    """One ``data:`` event. An error payload (``{"error": {...}}``) is how the openai SDK learns a stream failed."""
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
