"""A remote image host that never answers in time, shared by the fetcher's and the proxy's tests."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response


def slow_image(body: bytes, media_type: str = "image/png") -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers after 10 s, or as soon as the client gives up, so it never outlives a test for long."""

    async def endpoint(request: Request) -> Response:
        try:
            async with asyncio.timeout(10):
                while not await request.is_disconnected():
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pass
        return Response(body, media_type=media_type)

    return endpoint
