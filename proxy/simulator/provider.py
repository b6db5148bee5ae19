"""mmguard-sim as a litellm custom provider, so the proxy reaches it exactly as it reaches a real model.

The model string is ``mmguard/sim-mllm``. The simulator reads ``data:`` image
URLs with the same OCR engine the guard uses; it has no network, so remote
image URLs are seen as images without text.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, AsyncIterator

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from proxy.images import ImageError, decode_data_url, open_image
from proxy.ocr import OcrError, shared_engine
from proxy.simulator.model import SimRequest, SimulatorSettings, answer, within

PROVIDER = "mmguard"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [
        (p.get("image_url") or {}).get("url", "") if isinstance(p.get("image_url"), dict) else str(p.get("image_url"))
        for p in content
        if isinstance(p, dict) and p.get("type") == "image_url"
    ]


async def _read_image(url: str) -> str:
    if not url.startswith("data:"):
        return ""
    try:
        data = decode_data_url(url, MAX_IMAGE_BYTES)
        hit = shared_engine().cached(hashlib.sha256(data).hexdigest())  # seen before: skip decoding
        if hit is not None:
            return hit.text
        decoded = open_image(data, MAX_PIXELS)
        return (await shared_engine().aread(decoded.image, decoded.sha256)).text
    except (ImageError, OcrError):
        return ""


async def perceive(messages: list[dict[str, Any]]) -> SimRequest:
    """What the simulated model sees: all text of the conversation, and the text in its images."""
    text = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer", "user"))
    urls = [u for m in messages if m.get("role") == "user" for u in _image_urls(m.get("content"))]
    return SimRequest(text=text, image_texts=tuple([await _read_image(u) for u in urls]))


def _usage(request: SimRequest, content: str, choices: int = 1) -> dict[str, int]:
    prompt = len(request.text.split()) + sum(len(t.split()) for t in request.image_texts)
    completion = choices * len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _reply(messages: list, optional_params: dict) -> tuple[SimRequest, str, str]:
    """What the simulator perceives, its answer within ``max_tokens``, and the finish reason."""
    request = await perceive(messages)
    limit = optional_params.get("max_tokens")
    content, finish = within(answer(request, SimulatorSettings.from_params(optional_params)).content, None if limit is None else int(limit))
    return request, content, finish


class SimulatedMLLM(CustomLLM):
    async def acompletion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse, *args: Any, optional_params: dict, **kwargs: Any) -> ModelResponse:
        request, content, finish = await _reply(messages, optional_params)
        choices = int(optional_params.get("n") or 1)
        return ModelResponse(
            id=f"chatcmpl-sim-{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
            model=model,
            object="chat.completion",
            choices=[{"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": finish} for i in range(choices)],
            usage=_usage(request, content, choices),
        )

    async def astreaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse, *args: Any, optional_params: dict, **kwargs: Any) -> AsyncIterator[GenericStreamingChunk]:
        request, content, finish = await _reply(messages, optional_params)
        words = content.split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            yield GenericStreamingChunk(
                text=word if last else word + " ",
                is_finished=last,
                finish_reason=finish if last else "",
                usage=_usage(request, content) if last else None,
                index=0,
                tool_use=None,
            )


def register() -> None:
    """Make ``mmguard/...`` model strings reach the simulator; safe to call more than once."""
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map = [*litellm.custom_provider_map, {"provider": PROVIDER, "custom_handler": SimulatedMLLM()}]
