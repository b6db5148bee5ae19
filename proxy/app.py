"""The FastAPI application: routes, and the one place errors become OpenAI-shaped responses."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from proxy.auth import check_key
from proxy.chat import chat_completions
from proxy.config import ProxyConfig, load_config
from proxy.errors import ProxyError
from proxy.request import ChatRequest
from proxy.runtime import Runtime
from proxy.upstream import Upstream
from proxy.guard import Guard
from proxy.ocr import shared_engine

log = logging.getLogger("mmguard")


def _warm_up(guard: Guard, runtime: Runtime) -> None:
    """Load every classifier the policies use before /readyz says ready, so no request pays for it.

    A remote backend that fails here (judge model down) does not stop start-up:
    each request then meets the policy's fail mode, which is what operators chose.
    """
    for ref in runtime.policy_refs():
        policy = runtime.store.get(ref)
        if policy.enabled:
            try:
                guard.classifier(policy).classify(["warm-up"])
            except Exception as err:
                log.error("classifier of policy %s failed its warm-up: %s", policy.name, type(err).__name__)


def create_app(config: ProxyConfig) -> FastAPI:
    runtime = Runtime.build(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.upstream = Upstream()
        app.state.guard = Guard(shared_engine())
        await asyncio.to_thread(_warm_up, app.state.guard, runtime)
        app.state.ready = True
        yield
        app.state.ready = False
        await app.state.upstream.aclose()
        await app.state.guard.aclose()

    app = FastAPI(title="mmguard", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.ready = False

    @app.exception_handler(ProxyError)
    async def _proxy_error(_: Request, exc: ProxyError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return ProxyError(400, f"Invalid request: {exc.errors()[0]['msg']}").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return ProxyError(exc.status_code, str(exc.detail), code=code).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s", type(exc).__name__)  # never the message: it may quote a prompt
        return ProxyError(500, "Internal error in the proxy.", "server_error", "internal_error").response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        if not request.app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "models": len(config.model_list)})

    @app.get("/v1/models")
    async def models(request: Request) -> dict:
        check_key(request.headers.get("authorization"), runtime.api_keys)
        return {"object": "list", "data": [{"id": r.model_name, "object": "model", "created": 0, "owned_by": "mmguard"} for r in config.model_list]}

    app.add_api_route(
        "/v1/chat/completions",
        chat_completions,
        methods=["POST"],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": ChatRequest.model_json_schema()}}}},
    )
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker runs: the config comes from $MMGUARD_CONFIG."""
    return create_app(load_config())
