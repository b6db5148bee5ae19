"""MM-SafetyBench's safety-prompt defense, as a pure function over OpenAI messages.

MM-SafetyBench prefixed the sentence to the user's question; that is the
``prefix`` placement. Some providers reject a system message beside an image, or
weigh it differently, so ``system`` is offered too. Either way the prompt is
added exactly once per request: only the latest user turn gets the prefix, and
a conversation that already carries the text is left alone.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

Placement = Literal["prefix", "system"]


def _mentions(message: dict[str, Any], text: str) -> bool:
    content = message.get("content")
    if isinstance(content, str):
        return text in content
    if isinstance(content, list):
        return any(isinstance(p, dict) and p.get("type") == "text" and text in p.get("text", "") for p in content)
    return False


def _prefix_content(content: Any, text: str) -> Any:
    if isinstance(content, str):
        return f"{text}\n{content}" if content else text
    parts = list(content or [])
    for i, part in enumerate(parts):
        if part.get("type") == "text":
            parts[i] = {**part, "text": f"{text}\n{part['text']}" if part.get("text") else text}
            return parts
    return [{"type": "text", "text": text}, *parts]


def apply_safety_prompt(messages: list[dict[str, Any]], text: str, placement: Placement) -> list[dict[str, Any]]:
    """Return a copy of ``messages`` with the safety prompt added once; the input is not changed."""
    if any(_mentions(m, text) for m in messages):
        return messages
    if placement == "system":
        return [{"role": "system", "content": text}, *messages]
    out = copy.copy(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].get("role") == "user":
            out[i] = {**out[i], "content": _prefix_content(out[i].get("content"), text)}
            return out
    return [{"role": "system", "content": text}, *messages]
