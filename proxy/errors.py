"""Errors in OpenAI's shape.

Every failure the proxy reports, whoever caused it, leaves as
``{"error": {"message", "type", "code", "param"}}`` with a status that tells the
client whether retrying can help. A client's fault is always 4xx; only the
upstream's failures become 5xx. The guard itself never answers 5xx for a blocked
request, because clients retry a 5xx, and retrying is exactly what an attacker
wants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from fastapi.responses import JSONResponse


@dataclass
class ProxyError(Exception):
    """An error the proxy answers with, already mapped to status and OpenAI type."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def internal_error() -> ProxyError:
    """A bug in the proxy: the client learns nothing but that, and the request id."""
    return ProxyError(500, "Internal error in the proxy.", "server_error", "internal_error")


def bad_request(message: str, *, code: str = "invalid_request", param: str | None = None) -> ProxyError:
    return ProxyError(400, message, "invalid_request_error", code, param)


def unknown_model(model: str) -> ProxyError:
    return ProxyError(404, f"The model '{model}' does not exist on this proxy.", "invalid_request_error", "model_not_found", "model")


def unauthorized() -> ProxyError:
    return ProxyError(
        401,
        "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.",
        "authentication_error",
        "invalid_api_key",
    )


def too_large(limit: int) -> ProxyError:
    return ProxyError(413, f"Request body is larger than the limit of {limit} bytes.", "invalid_request_error", "request_too_large")


#: Shapes of common credentials: OpenAI-style and generic ``key-...``, Google (AIza), AWS access key ids, GitHub and Slack tokens.
_KEY_LIKE = re.compile(r"\b(?:(?:sk|pk|rk|key|AIza)[-_A-Za-z0-9]{12,}|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[-A-Za-z0-9]{10,})\b")


def remove_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of the configured ``secrets`` (those shorter than 4 characters would match anywhere)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove every known secret, and anything shaped like an API key, from ``text``.

    Upstream SDKs like to quote the key they were given ("Incorrect API key
    provided: sk-...") and the endpoint they called; neither may reach a client.
    """
    return _KEY_LIKE.sub("[redacted]", remove_secrets(text, secrets))
