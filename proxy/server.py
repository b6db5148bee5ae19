"""Running an ASGI app under a real uvicorn server on a loopback port, from inside Python.

The demo, the benchmark's in-process proxy arm and the tests all need a real
HTTP server they can start and stop; this is the one way they do it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator

import uvicorn


class _GuestServer(uvicorn.Server):
    """A uvicorn server that leaves the host program's signals alone.

    uvicorn takes SIGINT for itself: inside the benchmark, Ctrl-C stopped the
    proxy and nothing else, and the run went on recording every guarded case
    as a connection error. The host program stops on Ctrl-C and closes the
    server on its way out.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _prepare(app: Any, host: str, port: int) -> tuple[socket.socket, int, uvicorn.Server]:
    """A bound socket (port 0 picks a free one), its port, and a quiet uvicorn server for ``app``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock, sock.getsockname()[1], _GuestServer(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))


@asynccontextmanager
async def serving(app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> AsyncIterator[str]:
    """Serve ``app`` on the running event loop until the block ends; yields its base URL.

    For callers that are themselves async (the benchmark): one loop serves and
    calls, so libraries with loop-bound state (litellm's logging worker) see
    only one loop.
    """
    sock, bound_port, server = _prepare(app, host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{bound_port}")
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"server on {host}:{bound_port} did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout_s)
        sock.close()


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. Port 0 picks a free port."""
    sock, bound_port, server = _prepare(app, host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn:{bound_port}")
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"server on {host}:{bound_port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
        sock.close()
