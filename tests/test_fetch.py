"""Remote image fetching: the SSRF block, the allow-list, redirects and the time, size and type limits.

Network rule for this file: tests connect only to 127.0.0.1 and resolve only
"localhost" and IP literals. A guard enforces it, so a regression that would
send traffic to a private range fails the test instead of sending it.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket
from typing import Any, AsyncIterator, Iterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

import proxy.fetch
from proxy.fetch import FetchLimits, ImageFetcher, blocked_reason
from proxy.images import ImageError
from proxy.server import serve_in_thread
from tests.slow_host import slow_image

LIMIT = 1000  # bytes; the test PNG is far smaller


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


PNG = _png()
REDIRECTS = {
    "/redirect-to-metadata": "http://169.254.169.254/latest/meta-data",
    "/redirect-loop": "/redirect-loop",
    "/redirect-ok": "/ok.png",
    "/redirect-to-file": "file:///etc/passwd",
}


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(64):
        yield b"\0" * 1024


def _image_app() -> Starlette:
    routes = [
        Route("/ok.png", lambda _: Response(PNG, media_type="image/png")),
        Route("/text", lambda _: Response("<html></html>", media_type="text/html")),
        Route("/big", lambda _: Response(b"\0" * (LIMIT * 5), media_type="image/png")),
        Route("/chunked-big", lambda _: StreamingResponse(_chunks(), media_type="image/png")),
        Route("/gzip", lambda _: Response(PNG, media_type="image/png", headers={"Content-Encoding": "gzip"})),
        Route("/slow", slow_image(PNG)),
        Route("/404", lambda _: Response("gone", status_code=404, media_type="text/plain")),
        *(Route(path, lambda _, to=to: RedirectResponse(to, status_code=302)) for path, to in REDIRECTS.items()),
    ]
    return Starlette(routes=routes)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_in_thread(_image_app()) as url:
        yield url


def _is_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a test connects to; connecting anywhere but 127.0.0.1, or resolving a real name, fails the test."""
    seen: list[Any] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(address)
            if address[0] != "127.0.0.1":
                raise AssertionError(f"test tried to connect to {address}")
        real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost" and not _is_literal(host):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


class FakeDNS(AbstractResolver):
    """Stands in for the system resolver: made-up names map to chosen addresses, as a rebinding attacker's DNS would."""

    records = {
        "images.test": ["127.0.0.1"],
        "mixed.test": ["127.0.0.1", "10.0.0.1"],
        "metadata-alias.test": ["169.254.169.254"],
    }

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}
            for a in self.records[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy.fetch, "ThreadedResolver", FakeDNS)


def fetch(url: str, **limits: Any) -> bytes:
    async def run() -> bytes:
        fetcher = ImageFetcher(FetchLimits(**limits))
        try:
            return await fetcher.fetch(url)
        finally:
            await fetcher.aclose()

    return asyncio.run(run())


def refused(url: str, **limits: Any) -> str:
    with pytest.raises(ImageError) as info:
        fetch(url, **limits)
    return str(info.value)


LOOPBACK = {"allow": ("127.0.0.1/32",), "max_bytes": LIMIT}


# blocked_reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2001:db8::1",
    ],
)
def test_blocked_addresses(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_reasons_name_the_kind_of_address() -> None:
    assert blocked_reason(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"
    assert blocked_reason(ipaddress.ip_address("fd00:ec2::254")) == "a cloud metadata address"
    assert blocked_reason(ipaddress.ip_address("100.64.0.1")) == "a carrier-grade NAT address"
    assert blocked_reason(ipaddress.ip_address("127.0.0.1")) == "a loopback address"
    assert blocked_reason(ipaddress.ip_address("::ffff:127.0.0.1")) == "a loopback address (inside an IPv6 address)"


# refused before any connection


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/a.png", "gopher://x/", "data:,x", "/relative.png", "javascript:alert(1)"])
def test_only_http_and_https(url: str, connects: list[Any]) -> None:
    assert "scheme" in refused(url)
    assert connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x.png",
        "http://192.168.0.1/",
        "http://[::1]:1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://[::ffff:10.0.0.1]/x.png",
        "https://172.16.0.1/x.png",
        "http://[fe80::1%25eth0]/x.png",
    ],
)
def test_private_literals_refused_before_connecting(url: str, connects: list[Any]) -> None:
    assert "not allowed" in refused(url)
    assert connects == []


@pytest.mark.parametrize("url", ["http://metadata.google.internal/computeMetadata/v1/", "http://METADATA.google.internal./x", "http://metadata/x"])
def test_metadata_names_refused_without_resolving(url: str, connects: list[Any]) -> None:
    assert "metadata" in refused(url, allow=("metadata.google.internal", "metadata"))
    assert connects == []


def test_metadata_address_refused_even_when_allowed(connects: list[Any]) -> None:
    assert "metadata" in refused("http://169.254.169.254/latest/meta-data", allow=("169.254.0.0/16", "0.0.0.0/0"))
    assert connects == []


def test_credentials_in_url_refused(server: str, connects: list[Any]) -> None:
    assert "user name or password" in refused(server.replace("http://", "http://user:pw@") + "/ok.png", **LOOPBACK)
    assert connects == []


@pytest.mark.parametrize("host", ["2130706433", "127.1", "017700000001", "127.0.0.1."])
def test_nonstandard_numeric_hosts_refused(host: str, server: str, connects: list[Any]) -> None:
    port = server.rsplit(":", 1)[1]
    assert "is not an IP address in standard form" in refused(f"http://{host}:{port}/ok.png")
    assert connects == []


def test_lookalike_digits_are_checked_as_the_address_they_become(server: str, connects: list[Any]) -> None:
    """Full-width digits normalise to 127.0.0.1 in the URL parser aiohttp uses; the check must see the same host."""
    port = server.rsplit(":", 1)[1]
    assert "loopback" in refused(f"http://１２７.０.０.１:{port}/ok.png")
    assert connects == []


# names: checked at resolution, which is also what is connected to


def test_localhost_refused_by_default(server: str, connects: list[Any]) -> None:
    message = refused(server.replace("127.0.0.1", "localhost") + "/ok.png")
    assert "localhost resolves to a loopback address, which is not allowed" in message
    assert "127.0.0.1" not in message  # the resolved address is not the client's business
    assert connects == []


def test_allowed_name_connects_to_the_checked_address(server: str, connects: list[Any], fake_dns: None) -> None:
    port = int(server.rsplit(":", 1)[1])
    assert fetch(f"http://images.test:{port}/ok.png", allow=("images.test",)) == PNG
    assert connects == [("127.0.0.1", port)]


def test_name_refused_if_any_address_is_blocked(server: str, connects: list[Any], fake_dns: None) -> None:
    port = server.rsplit(":", 1)[1]
    assert "mixed.test resolves to a private address" in refused(f"http://mixed.test:{port}/ok.png", **LOOPBACK)
    assert "images.test resolves to a loopback address" in refused(f"http://images.test:{port}/ok.png")
    assert "metadata" in refused(f"http://metadata-alias.test:{port}/ok.png", allow=("metadata-alias.test",))
    assert connects == []


# a real server on loopback, allowed


def test_loopback_refused_by_default(server: str, connects: list[Any]) -> None:
    assert "127.0.0.1 is a loopback address, which is not allowed" in refused(f"{server}/ok.png")
    assert connects == []


def test_allowed_loopback_fetches_the_image(server: str, connects: list[Any]) -> None:
    assert fetch(f"{server}/ok.png", **LOOPBACK) == PNG
    assert connects and all(address[0] == "127.0.0.1" for address in connects)  # the guard sees real connections


def test_fetcher_is_reusable(server: str) -> None:
    async def run() -> list[bytes]:
        fetcher = ImageFetcher(FetchLimits(**LOOPBACK))
        try:
            return [await fetcher.fetch(f"{server}/ok.png") for _ in range(3)]
        finally:
            await fetcher.aclose()
            await fetcher.aclose()

    assert asyncio.run(run()) == [PNG] * 3


def test_wrong_content_type(server: str) -> None:
    assert "content type 'text/html'" in refused(f"{server}/text", **LOOPBACK)


def test_content_types_are_configurable(server: str) -> None:
    assert fetch(f"{server}/text", **LOOPBACK, content_types=("text/html",)) == b"<html></html>"


def test_compressed_body_refused(server: str) -> None:
    assert "gzip" in refused(f"{server}/gzip", **LOOPBACK)


@pytest.mark.parametrize("path", ["/big", "/chunked-big"])
def test_size_limit(server: str, path: str) -> None:
    assert f"larger than the limit of {LIMIT} bytes" in refused(f"{server}{path}", **LOOPBACK)


def test_slow_server_times_out(server: str) -> None:
    assert "timed out" in refused(f"{server}/slow", **LOOPBACK, timeout_s=0.5)


def test_redirect_to_metadata_refused(server: str, connects: list[Any]) -> None:
    assert "metadata" in refused(f"{server}/redirect-to-metadata", **LOOPBACK)
    assert all(address[0] == "127.0.0.1" for address in connects)


def test_redirect_to_other_scheme_refused(server: str) -> None:
    assert "scheme 'file'" in refused(f"{server}/redirect-to-file", **LOOPBACK)


def test_redirect_loop(server: str) -> None:
    assert "redirected more than 3 times" in refused(f"{server}/redirect-loop", **LOOPBACK)


def test_redirect_followed(server: str) -> None:
    assert fetch(f"{server}/redirect-ok", **LOOPBACK) == PNG


def test_redirects_can_be_disabled(server: str) -> None:
    assert "redirected more than 0 times" in refused(f"{server}/redirect-ok", **LOOPBACK, max_redirects=0)


def test_http_error_status(server: str) -> None:
    assert "HTTP 404" in refused(f"{server}/404", **LOOPBACK)


def test_connection_errors_become_image_errors() -> None:
    assert "could not fetch the image" in refused("http://127.0.0.1:1/x.png", **LOOPBACK)
