"""The model behind the proxy: one call shape, two transports, one error mapping.

``via_litellm`` reaches every provider litellm knows (OpenAI, Azure, Anthropic,
Gemini, Bedrock, vLLM, Ollama, the embedded simulator...) and translates
OpenAI's parameters for each. ``direct`` speaks OpenAI's protocol straight to an
OpenAI-compatible server (vLLM, OpenAI itself, llama.cpp, TGI, LM Studio): body
in and body out, which is more faithful (vendor parameters and chunks pass
unchanged) and several milliseconds faster per request than litellm.
A route's ``transport`` picks one (see ``ModelRoute.resolved_transport``).

litellm costs about 160 MB of memory and 3 s to import, so it is loaded only
when a route uses it: at start-up if a configured route does, so that no
request pays for the import.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, AsyncIterator

from proxy.upstream.call import UpstreamCall
from proxy.upstream.direct import DirectTransport
from proxy.upstream.failures import map_upstream_error

__all__ = ["Upstream", "UpstreamCall", "map_upstream_error"]


def _via_litellm() -> ModuleType:
    from proxy.upstream import via_litellm

    return via_litellm


class Upstream:
    """The proxy's way to its models; one per serving process."""

    def __init__(self, load_litellm: bool = True) -> None:
        self._direct = DirectTransport()
        if load_litellm:
            _via_litellm()

    async def complete(self, call: UpstreamCall) -> dict[str, Any]:
        """A non-streaming completion as OpenAI's JSON."""
        if call.route.resolved_transport() == "direct":
            return await self._direct.complete(call)
        return await _via_litellm().complete(call)

    async def open_stream(self, call: UpstreamCall) -> AsyncIterator[dict[str, Any]]:
        """Start a streaming completion; failures before the first chunk raise here."""
        if call.route.resolved_transport() == "direct":
            return await self._direct.open_stream(call)
        return await _via_litellm().open_stream(call)

    async def aclose(self) -> None:
        await self._direct.aclose()
