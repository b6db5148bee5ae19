"""The proxy's OpenAPI description: what clients, and schemathesis, can hold the proxy to.

The chat route reads its body by hand (the size limit comes before parsing),
so FastAPI cannot infer the request schema or the errors; they are declared
here. Every error status of README's "Errors" table is listed with OpenAI's
error shape, so a response that breaks the shape is a schema violation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from proxy.request import ChatRequest

_REF = "#/components/schemas/{model}"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code", "param"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}

_COMPLETION = {
    "type": "object",
    "required": ["object", "choices"],
    "properties": {"id": {"type": "string"}, "object": {"type": "string"}, "model": {"type": "string"}, "choices": {"type": "array"}},
}
# One server-sent event (OpenAPI 3.1 describes a stream event by event): a chunk or an error as JSON, or the end.
_EVENT = {"type": "object", "required": ["data"], "properties": {"data": {"type": "string", "pattern": r"^(\{.*\}|\[DONE\])$"}}}
_MODEL = {"type": "object", "required": ["id", "object"], "properties": {"id": {"type": "string"}, "object": {"const": "model"}}}
_MODEL_LIST = {"type": "object", "required": ["object", "data"], "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _MODEL}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}


_AUTH = {401: _error("Missing or invalid proxy key (invalid_api_key).")}

MODELS_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"description": "The configured models.", "content": {"application/json": {"schema": _MODEL_LIST}}}, **_AUTH}
MODEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "One configured model.", "content": {"application/json": {"schema": _MODEL}}},
    **_AUTH,
    404: _error("Unknown model (model_not_found)."),
}

CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A completion, a stream of chunks (SSE) when `stream` is true, or the guard's refusal with finish_reason content_filter.",
        "content": {"application/json": {"schema": _COMPLETION}, "text/event-stream": {"schema": _EVENT}},
    },
    400: _error("Malformed JSON, a schema error, a bad image, a block answered as content_policy_violation, or a request the upstream rejected."),
    **_AUTH,
    404: _error("Unknown model (model_not_found)."),
    413: _error("Body over max_body_bytes (request_too_large)."),
    429: _error("Upstream rate limit; Retry-After passed on (rate_limit_exceeded)."),
    502: _error("The upstream failed or refused the operator's key."),
    504: _error("The upstream did not answer in time (upstream_timeout)."),
}


def chat_request_body() -> dict[str, Any]:
    """``openapi_extra`` for the chat route: its body is ``ChatRequest``, referenced from the components."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF.format(model="ChatRequest")}}}}}


def _schemas() -> dict[str, Any]:
    """ChatRequest and its parts as components, so their ``$ref``s resolve within the document.

    The content-part union is chosen in code by ``type`` ("text", "image_url",
    or one of ``OTHER_PART_TYPES``); each part's ``type`` is an enum of its
    own, so pydantic's bare ``oneOf`` matches exactly one of them.
    """
    request = ChatRequest.model_json_schema(ref_template=_REF)
    schemas = request.pop("$defs", {})
    return {**schemas, "ChatRequest": request, "Error": ERROR_SCHEMA}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the components the declarations above refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_schemas())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
