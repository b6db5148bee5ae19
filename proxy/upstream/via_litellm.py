"""The litellm transport: any provider litellm knows, with OpenAI's parameters translated for each.

This module only decides which of the client's parameters litellm may see.

Which parameters go where is a security decision, not a convenience: litellm's
keyword arguments include ``api_base``, ``api_key`` and ``extra_headers``. A
client that could set those would send the operator's key to a server of its
choosing. So only OpenAI's documented sampling and tool parameters become
keyword arguments (litellm translates them per provider); every other field the
client sent travels in ``extra_body``, verbatim, to the upstream's request body.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from proxy import quiet_litellm
from proxy.simulator import provider as simulator_provider
from proxy.upstream.call import UpstreamCall
from proxy.upstream.failures import UpstreamHTTPError

litellm = quiet_litellm()
simulator_provider.register()
logging.getLogger("LiteLLM").setLevel(logging.WARNING)

#: OpenAI chat parameters that litellm knows and translates for each provider.
TRANSLATED_PARAMS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "modalities", "n", "parallel_tool_calls", "prediction",
        "presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier",
        "seed", "service_tier", "stop", "store", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "verbosity", "web_search_options",
    }
)

#: Parameters litellm keeps for itself on OpenAI-compatible providers; sent in the body instead.
OWN_BY_LITELLM = frozenset({"user", "metadata"})

#: Providers whose request body is OpenAI's, so untranslated fields can ride along verbatim.
OPENAI_COMPATIBLE = frozenset({"openai", "azure", "hosted_vllm", "openai_like", "custom_openai", "text-completion-openai"})


def litellm_kwargs(call: UpstreamCall, stream: bool) -> dict[str, Any]:
    """The keyword arguments for ``litellm.acompletion``; a pure function, so it is easy to test."""
    lp = call.route.litellm_params
    kwargs: dict[str, Any] = dict(lp.model_extra or {})
    kwargs.update(
        model=lp.model,
        messages=call.messages,
        timeout=call.timeout_s,
        num_retries=call.route.max_retries,
        drop_params=call.route.drop_params,
        stream=stream,
        # litellm routes any request with `tools` through its MCP gateway, which
        # the proxy does not use; tools must reach the model untouched.
        _skip_mcp_handler=True,
    )
    for key in ("api_base", "api_version", "extra_headers"):
        if getattr(lp, key):
            kwargs[key] = getattr(lp, key)
    if lp.api_key is not None:
        kwargs["api_key"] = lp.api_key.get_secret_value()

    provider = _provider(lp.model, lp.api_base)
    extra_body: dict[str, Any] = {}
    for key, value in call.params.items():
        if key in TRANSLATED_PARAMS:
            kwargs[key] = value
        elif key in OWN_BY_LITELLM and provider not in OPENAI_COMPATIBLE:
            if key == "user":
                kwargs[key] = value
        else:
            extra_body[key] = value
    if extra_body:
        kwargs["extra_body"] = extra_body
    return kwargs


def _provider(model: str, api_base: str | None) -> str:
    try:
        return litellm.get_llm_provider(model, api_base=api_base)[1]
    except Exception:  # an unknown provider fails later, in the call, with a clear upstream error
        return model.split("/", 1)[0]


def _check_user_content(messages: list[dict[str, Any]]) -> None:
    """Refuse, as the client's 400, user content parts litellm would refuse itself.

    litellm rejects part types it does not know with a bare Exception that
    reaches the proxy as a connection error, which would make it a 502.
    """
    try:
        litellm.utils.validate_chat_completion_user_messages(messages)
    except Exception as err:
        raise UpstreamHTTPError(400, str(err)) from None


async def complete(call: UpstreamCall) -> dict[str, Any]:
    """A non-streaming completion as OpenAI's JSON."""
    _check_user_content(call.messages)
    response = await litellm.acompletion(**litellm_kwargs(call, stream=False))
    return response.model_dump(exclude_none=True)


async def open_stream(call: UpstreamCall) -> AsyncIterator[dict[str, Any]]:
    """Start a streaming completion; upstream failures before the first chunk raise here."""
    _check_user_content(call.messages)
    stream = await litellm.acompletion(**litellm_kwargs(call, stream=True))
    return _chunks(stream)


def _openai_chunk(chunk: Any) -> dict[str, Any]:
    """litellm's chunk as OpenAI sends it: the usage chunk has ``choices: []``, not an empty delta."""
    data = chunk.model_dump(exclude_none=True)
    choices = data.get("choices") or []
    if data.get("usage") and all(not c.get("delta") and not c.get("finish_reason") for c in choices):
        data["choices"] = []
    return data


async def _chunks(stream: Any) -> AsyncIterator[dict[str, Any]]:
    try:
        async for chunk in stream:
            yield _openai_chunk(chunk)
    finally:
        # Also runs when the client goes away mid-stream: free the upstream call.
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
