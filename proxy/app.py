"""The FastAPI application: routes, and the one place errors become OpenAI-shaped responses."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from proxy import metrics, openapi
from proxy.auth import check_key
from proxy.chat import chat_completions
from proxy.classifier.encoder import EncoderUnavailable
from proxy.config import ProxyConfig, load_config
from proxy.decision_log import DecisionLog
from proxy.errors import ProxyError, internal_error, unknown_model
from proxy.observe import ObserveMiddleware, Reporter, exchange_of, report_metrics
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
            except EncoderUnavailable as err:  # our own message: what to install or set, nothing from a request
                log.error("classifier of policy %s cannot load: %s", policy.name, err)
            except Exception as err:
                log.error("classifier of policy %s failed its warm-up: %s", policy.name, type(err).__name__)


async def _watch_policies(runtime: Runtime, interval_s: float = 1.0) -> None:
    """Pick up changed policy files on a clock, not at the next request.

    Requests also reload (``PolicyStore.get``), but an operator who saves a
    broken file in a quiet hour should read the error in the log at once.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(runtime.refresh_policies)
        except Exception as err:  # the watcher must outlive any one bad check
            log.error("policy check failed: %s", type(err).__name__)


def create_app(config: ProxyConfig) -> FastAPI:
    runtime = Runtime.build(config)
    decisions = DecisionLog(config.logging.decision_log, runtime.secrets) if config.logging.decision_log.enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        metrics.forget_dead_workers()
        app.state.upstream = Upstream(load_litellm=any(r.resolved_transport() == "litellm" for r in config.model_list))
        app.state.guard = Guard(shared_engine())
        await asyncio.to_thread(_warm_up, app.state.guard, runtime)
        # Everything loaded so far (torch, transformers, litellm: ~700,000 objects) lives as long as the
        # process. Frozen, the collector stops walking it: full collections went from 0.5 s to ~0.
        gc.collect()
        gc.freeze()
        app.state.ready = True
        watcher = asyncio.create_task(_watch_policies(runtime))
        yield
        app.state.ready = False
        watcher.cancel()
        await app.state.upstream.aclose()
        await app.state.guard.aclose()
        if decisions is not None:
            decisions.close()
        metrics.worker_exit()

    app = FastAPI(title="mmguard", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.ready = False
    reporters: list[Reporter] = [report_metrics] if decisions is None else [report_metrics, decisions]
    app.add_middleware(ObserveMiddleware, reporters=reporters)

    @app.exception_handler(ProxyError)
    async def _proxy_error(request: Request, exc: ProxyError) -> JSONResponse:
        exchange = exchange_of(request.scope)
        if exchange is not None:
            exchange.error_code = exc.code
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return ProxyError(400, f"Invalid request: {exc.errors()[0]['msg']}").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        # Keep the exception's headers: a 405 must say which methods are allowed (Allow, RFC 9110).
        return ProxyError(exc.status_code, str(exc.detail), code=code, headers=dict(exc.headers or {})).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Chat requests never get here before their response starts: ObserveMiddleware answers their bugs itself.
        log.error("internal error: %s", type(exc).__name__)  # never the message: it may quote a prompt
        return internal_error().response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        if not request.app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "models": len(config.model_list)})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus exposition; open like /healthz unless ``server.metrics_require_key``."""
        if config.server.metrics_require_key:
            check_key(request.headers.get("authorization"), runtime.api_keys)
        body, content_type = await asyncio.to_thread(metrics.exposition)  # multiprocess mode reads every worker's files
        return Response(body, media_type=content_type)

    def model_object(name: str) -> dict:
        return {"id": name, "object": "model", "created": 0, "owned_by": "mmguard"}

    @app.get("/v1/models", responses=openapi.MODELS_RESPONSES)
    async def models(request: Request) -> dict:
        check_key(request.headers.get("authorization"), runtime.api_keys)
        return {"object": "list", "data": [model_object(r.model_name) for r in config.model_list]}

    @app.get("/v1/models/{model:path}", responses=openapi.MODEL_RESPONSES)
    async def model(model: str, request: Request) -> dict:
        """OpenAI's retrieve route: SDKs and tools (``client.models.retrieve``) check a model exists with it."""
        check_key(request.headers.get("authorization"), runtime.api_keys)
        if config.route(model) is None:
            raise unknown_model(model)
        return model_object(model)

    app.add_api_route(
        "/v1/chat/completions",
        chat_completions,
        methods=["POST"],
        responses=openapi.CHAT_RESPONSES,
        openapi_extra=openapi.chat_request_body(),
    )
    openapi.install(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker runs: the config comes from $MMGUARD_CONFIG."""
    return create_app(load_config())
