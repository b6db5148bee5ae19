"""Upstream failures, from either transport, as the status a client should act on.

429 stays 429 with its Retry-After, a timeout is 504, and a request the
upstream found malformed is the client's 400. Anything else, including the
upstream refusing the operator's own key, is the operator's problem: 502.
Messages are cut short and scrubbed of every secret the proxy knows.
"""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from typing import Iterable

import aiohttp

from proxy.errors import ProxyError, redact


@dataclass
class UpstreamHTTPError(Exception):
    """The direct transport's view of an upstream error response."""

    status: int
    detail: str
    retry_after: str | None = None


def by_status(status: int | None, detail: str, retry_after: str | None) -> ProxyError:
    if status == 429:
        return ProxyError(429, f"Upstream rate limit: {detail}", "rate_limit_error", "rate_limit_exceeded", headers={"Retry-After": retry_after} if retry_after else {})
    if status in (400, 413, 422):
        return ProxyError(400, f"The upstream model rejected the request: {detail}", "invalid_request_error", "upstream_bad_request")
    if status in (401, 403):
        return ProxyError(502, "The proxy could not authenticate to the upstream model.", "upstream_error", "upstream_auth_failed")
    return ProxyError(502, f"The upstream model failed: {detail}", "upstream_error", "upstream_error")


def timeout() -> ProxyError:
    return ProxyError(504, "The upstream model did not answer in time.", "timeout_error", "upstream_timeout")


#: The class names litellm chains before the upstream's own words ("litellm.RateLimitError: RateLimitError:
#: OpenAIException - stub failure 429"): the client gets what the upstream said, as on the direct transport.
_LITELLM_PREFIXES = re.compile(r"^(?:(?:litellm\.)?[A-Za-z]+(?:Error|Exception)(?::| -)\s*)+")


def _litellm_failure(exc: Exception) -> tuple[bool, int | None, str | None]:
    """(is_timeout, status, retry_after) of a litellm exception; litellm is never imported for this."""
    litellm = sys.modules.get("litellm")
    if litellm is None:  # not loaded, so this cannot be one of its exceptions
        return False, None, None
    if isinstance(exc, litellm.Timeout):
        return True, None, None
    if isinstance(exc, litellm.APIConnectionError):
        return False, None, None
    retry_after = None
    for headers in (getattr(exc, "litellm_response_headers", None), getattr(getattr(exc, "response", None), "headers", None)):
        if headers is not None and headers.get("retry-after"):
            retry_after = headers.get("retry-after")
            break
    return False, getattr(exc, "status_code", None), retry_after


def map_upstream_error(exc: Exception, secrets: Iterable[str]) -> ProxyError:
    detail = str(getattr(exc, "message", None) or getattr(exc, "detail", None) or exc)
    # litellm appends Python tracebacks to some errors: the proxy's file paths and code are not the client's business.
    detail = redact(detail.split("Traceback (most recent call last):", 1)[0].strip(), secrets)[:500]
    if isinstance(exc, UpstreamHTTPError):
        return by_status(exc.status, detail, exc.retry_after)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return timeout()
    if isinstance(exc, aiohttp.ClientConnectorError):  # the address stays out: it is the operator's, not the client's
        return by_status(None, f"could not connect to it ({type(exc).__name__})", None)
    if isinstance(exc, (aiohttp.ClientError, ValueError)):  # the connection broke, or a stream that is not JSON
        what = "its answer was not valid JSON" if isinstance(exc, ValueError) else "the connection to it failed"
        return by_status(None, f"{what} ({type(exc).__name__})", None)
    is_timeout, status, retry_after = _litellm_failure(exc)
    return timeout() if is_timeout else by_status(status, _LITELLM_PREFIXES.sub("", detail) or detail, retry_after)
