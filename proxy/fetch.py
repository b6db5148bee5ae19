"""Fetching remote image URLs without becoming an attacker's way into the network behind the proxy.

An image URL is a request the proxy makes on a stranger's behalf, from inside
the operator's network. Pointed at 169.254.169.254 it reads cloud credentials;
pointed at 10.0.0.5 or localhost:6379 it reaches services no outsider should.
That is server-side request forgery, and a guard proxy that fetches images
naively becomes the attacker's tool. So, by default:

* only http and https, no credentials in the URL;
* every address a host resolves to must be public, and the connection is made
  through a resolver that refuses otherwise, so what is connected to is exactly
  what was checked (DNS rebinding cannot swap in a private address between
  check and connect); literal addresses, which skip the resolver, are checked
  before connecting;
* redirects are followed by hand, and every hop is checked the same way;
* time, size and content type are bounded, so a slow or huge answer cannot tie
  the proxy up.

An allow-list of CIDRs or host names opens what the operator chooses; cloud
metadata stays closed whatever it says. Everything that goes wrong is an
``ImageError`` (a 400), worded for the client and naming no address the
client did not send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import aiohttp
from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from proxy.images import ImageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# No image lives at a metadata service, so these are refused even when the allow-list covers them.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_FLAGS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Images are already compressed; insisting on an unencoded body keeps gzip bombs out.
_HEADERS = {"Accept": "image/*", "Accept-Encoding": "identity", "User-Agent": "mmguard-image-fetch"}


@dataclass(frozen=True)
class FetchLimits:
    timeout_s: float = 5.0  # the whole fetch, every redirect included
    max_bytes: int = 10 * 1024 * 1024  # body cap; reading stops past it
    max_redirects: int = 3
    allow: tuple[str, ...] = ()  # CIDRs or exact host names that bypass the address block (not the metadata block)
    content_types: tuple[str, ...] = ("image/",)  # accepted Content-Type prefixes


def _destination(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), since that is where packets go; else ``ip``."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip


def blocked_reason(ip: IPAddress) -> str | None:
    """Why this address may not be fetched by default, or None if it is public.

    Anything not plainly on the public internet is refused: an image host has
    no reason to live on loopback, a private range, link-local or CGNAT space,
    and an IPv6 address wrapping such an IPv4 address is refused with it.
    """
    target = _destination(ip)
    suffix = "" if target is ip else " (inside an IPv6 address)"
    if target in METADATA_ADDRESSES:
        return "a cloud metadata address" + suffix
    if isinstance(target, ipaddress.IPv4Address) and target in _CGNAT:
        return "a carrier-grade NAT address" + suffix
    for flag, reason in _FLAGS:
        if getattr(target, flag):
            return reason + suffix
    return None if target.is_global else "a non-public address" + suffix


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _name(host: str) -> str:
    return host.rstrip(".").lower()


class _Policy:
    """The address block, with the operator's allow-list applied."""

    def __init__(self, allow: tuple[str, ...]) -> None:
        self._hosts = frozenset(_name(a) for a in allow if not _is_network(a))
        self._networks = tuple(ipaddress.ip_network(a, strict=False) for a in allow if _is_network(a))

    def check_address(self, host: str, ip: IPAddress, *, literal: bool) -> None:
        subject = f"image URL host {host} {'is' if literal else 'resolves to'}"
        if _destination(ip) in METADATA_ADDRESSES:
            raise ImageError(f"{subject} a cloud metadata address, which is not allowed")
        if _name(host) in self._hosts or any(ip in n or _destination(ip) in n for n in self._networks):
            return
        reason = blocked_reason(ip)
        if reason:
            raise ImageError(f"{subject} {reason}, which is not allowed")


class _CheckingResolver(AbstractResolver):
    """Resolves as aiohttp does, then refuses if any address is blocked; the connection uses only what passed."""

    def __init__(self, policy: _Policy) -> None:
        self._policy = policy
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check_address(host, ipaddress.ip_address(result["host"]), literal=False)
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: URL, policy: _Policy) -> None:
    """Refuse a URL before any connection: scheme, credentials, metadata names and literal addresses.

    ``url`` is the very object aiohttp will connect with, so nothing is lost
    between two URL parsers that disagree about the host.
    """
    if url.scheme not in ("http", "https"):
        raise ImageError(f"image URL scheme {url.scheme or 'missing'!r} is not allowed; use http or https")
    if url.raw_user is not None or url.raw_password is not None:
        raise ImageError("image URLs with a user name or password are not allowed")
    host = url.raw_host
    if not host:
        raise ImageError("image URL has no host")
    if _name(host) in METADATA_HOSTS:
        raise ImageError(f"image URL host {host} is a cloud metadata service, which is not allowed")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # aiohttp connects to anything that looks numeric without asking the resolver (127.1, 2130706433).
        if ":" in host or host.replace(".", "").isdigit():
            raise ImageError(f"image URL host {host} is not an IP address in standard form") from None
        return  # a name: the resolver checks every address it has
    policy.check_address(host, ip, literal=True)


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except ValueError:
        raise ImageError("image URL is not a valid URL") from None


class ImageFetcher:
    """Fetches image URLs under one set of limits, over one HTTP session."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self._policy = _Policy(limits.allow)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the loop it is bound to
            connector = aiohttp.TCPConnector(resolver=_CheckingResolver(self._policy), use_dns_cache=False)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False, headers=_HEADERS)
        return self._session

    async def fetch(self, url: str) -> bytes:
        """The image bytes, or ImageError with a message fit for the client."""
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                return await self._follow(_parse(url))
        except TimeoutError:
            raise ImageError(f"fetching the image timed out after {self.limits.timeout_s:g} s") from None
        except ImageError:
            raise
        except (aiohttp.ClientError, OSError, ValueError) as err:
            raise ImageError(f"could not fetch the image ({type(err).__name__})") from None

    async def _follow(self, url: URL) -> bytes:
        for _ in range(self.limits.max_redirects + 1):
            _check_url(url, self._policy)
            async with self._client().get(url, allow_redirects=False) as response:
                if response.status not in _REDIRECTS:
                    return await self._body(response)
                location = response.headers.get("Location")
                if not location:
                    raise ImageError(f"image URL redirected (HTTP {response.status}) without a Location")
                url = url.join(_parse(location))
        raise ImageError(f"image URL redirected more than {self.limits.max_redirects} times")

    async def _body(self, response: aiohttp.ClientResponse) -> bytes:
        if not 200 <= response.status < 300:
            raise ImageError(f"fetching the image failed with HTTP {response.status}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not any(content_type.startswith(p.lower()) for p in self.limits.content_types):
            raise ImageError(f"image URL returned content type {content_type or 'none'!r}, not an image")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ImageError(f"image URL returned a {encoding!r}-encoded body; serve the image uncompressed")
        too_big = ImageError(f"image is larger than the limit of {self.limits.max_bytes} bytes")
        if response.content_length is not None and response.content_length > self.limits.max_bytes:
            raise too_big
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.limits.max_bytes:
                raise too_big
        return bytes(body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
