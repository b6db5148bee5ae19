"""Image intake: every image in every user turn, turned into pixels under the policy's limits.

Attackers split text over several images and several turns (FigStep-Pro), and
LiteLLM's guardrail hook skips messages that hold only an image; so intake
covers all user messages, not just the last, and image-only messages alike.
A bad image is the client's fault: it becomes a 400 naming the exact part.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from proxy.errors import ProxyError, bad_request
from proxy.fetch import FetchLimits, ImageFetcher
from proxy.images import DecodedImage, ImageError, decode_data_url, open_image
from proxy.policy import Limits
from proxy.request import UNREAD_PART_TYPES, ChatRequest, ImagePart, OtherPart


@dataclass(frozen=True)
class ImageRef:
    message: int
    part: int
    url: str

    @property
    def param(self) -> str:
        return f"messages[{self.message}].content[{self.part}].image_url.url"


def image_refs(request: ChatRequest) -> list[ImageRef]:
    refs = []
    for i, message in enumerate(request.messages):
        if message.role == "user" and isinstance(message.content, list):
            refs += [ImageRef(i, j, p.image_url.url) for j, p in enumerate(message.content) if isinstance(p, ImagePart)]
    return refs


def refuse_unread_parts(request: ChatRequest, limits: Limits) -> None:
    """An audio clip or a PDF can carry the request an image would, and no OCR here reads it.

    Passing such parts on unread would make the guard's "allow" a claim it
    never checked, so a policy refuses them unless it says ``unread_parts: pass``.
    """
    if limits.unread_parts == "pass":
        return
    for i, message in enumerate(request.messages):
        for j, part in enumerate(message.content if isinstance(message.content, list) else ()):
            if isinstance(part, OtherPart) and part.type in UNREAD_PART_TYPES:
                raise bad_request(
                    f"This proxy's guard cannot read {part.type} parts, and its policy refuses what it cannot read "
                    f"(messages[{i}].content[{j}]); an operator can set limits.unread_parts: pass.",
                    code="unreadable_content",
                    param=f"messages[{i}].content[{j}]",
                )


@dataclass(frozen=True)
class LoadedImage:
    """An image's bytes and content hash, not yet decoded: a cache hit never needs the pixels."""

    ref: ImageRef
    data: bytes
    sha256: str


def _image_error(ref: ImageRef, err: ImageError) -> ProxyError:
    return bad_request(f"Invalid image at {ref.param}: {err}", code="invalid_image", param=ref.param)


class ImageIntake:
    """Decodes data: URLs and fetches remote ones; one fetcher (and HTTP session) per set of fetch limits."""

    def __init__(self) -> None:
        self._fetchers: dict[FetchLimits, ImageFetcher] = {}

    def _fetcher(self, limits: Limits) -> ImageFetcher:
        key = FetchLimits(timeout_s=limits.fetch_timeout_s, max_bytes=limits.max_image_bytes, allow=tuple(limits.fetch_allow))
        if key not in self._fetchers:
            self._fetchers[key] = ImageFetcher(key)
        return self._fetchers[key]

    async def _bytes(self, ref: ImageRef, limits: Limits) -> bytes:
        scheme = ref.url.split(":", 1)[0].lower()
        if scheme == "data":
            return decode_data_url(ref.url, limits.max_image_bytes)
        if scheme in ("http", "https"):
            if not limits.remote_images:
                raise ImageError("remote image URLs are not accepted by this proxy's policy; send a data: URL")
            return await self._fetcher(limits).fetch(ref.url)
        raise ImageError(f"unsupported image URL scheme {scheme!r}; use data:, http: or https:")

    async def _one(self, ref: ImageRef, limits: Limits) -> LoadedImage:
        try:
            data = await self._bytes(ref, limits)
        except ImageError as err:
            raise _image_error(ref, err) from None
        return LoadedImage(ref, data, hashlib.sha256(data).hexdigest())

    async def decode(self, image: LoadedImage, limits: Limits) -> DecodedImage:
        """Pixels, safely (see ``proxy.images``); a bad image is a 400 naming its part."""
        try:
            return await asyncio.to_thread(open_image, image.data, limits.max_pixels)
        except ImageError as err:
            raise _image_error(image.ref, err) from None

    async def load(self, refs: list[ImageRef], limits: Limits) -> list[LoadedImage]:
        if len(refs) > limits.max_images:
            raise bad_request(f"The request has {len(refs)} images; this proxy accepts at most {limits.max_images}.", code="too_many_images", param="messages")
        return list(await asyncio.gather(*(self._one(ref, limits) for ref in refs)))

    async def aclose(self) -> None:
        for fetcher in self._fetchers.values():
            await fetcher.aclose()
        self._fetchers.clear()
