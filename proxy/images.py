"""Turning an ``image_url`` into pixels, safely.

Images come from strangers, so decoding is defensive: strict base64, an
allow-list of formats, Pillow's decompression-bomb check turned into an error
(not a warning), a pixel cap, EXIF orientation applied (an attack photographed
sideways is still an attack) and only the first frame of an animation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"})
_DATA_URL_HEADER = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64$", re.IGNORECASE)  # URL schemes ignore case


class ImageError(ValueError):
    """An image the guard cannot read: the client's fault, so a 400."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    sha256: str
    format: str
    size_bytes: int


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """The bytes of a ``data:<mime>;base64,...`` URL.

    Only the header goes through a regex, and whitespace is stripped only when
    strict decoding fails: run over a whole 55 KB TYPO image, the regex and the
    strip took 0.8 of the 0.95 ms this cost, most of an image cache hit.
    """
    header, comma, data = url.partition(",")
    match = _DATA_URL_HEADER.match(header)
    if not comma or not match:
        raise ImageError("image_url is a data: URL but not of the form data:<mime>;base64,<data>")
    mime = (match.group("mime") or "").lower()
    if mime and not mime.startswith("image/"):
        raise ImageError(f"data: URL has media type {mime!r}, not an image")
    if len(data) * 3 // 4 > max_bytes:
        data = "".join(data.split())  # line breaks do not count towards the size
        if len(data) * 3 // 4 > max_bytes:
            raise ImageError(f"image is larger than the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("image data: URL is not valid base64") from None


def open_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode image bytes into an upright, single-frame grayscale image, or raise ImageError.

    Grayscale because the guard only reads text, and OCR reads luminance. A JPEG
    is decoded straight to its luminance channel, skipping the colour planes:
    0.3 ms instead of 1.6 ms for MM-SafetyBench's 1024x270 TYPO image.
    """
    digest = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "?"
            if fmt not in ALLOWED_FORMATS:
                raise ImageError(f"unsupported image format {fmt}; use one of {', '.join(sorted(ALLOWED_FORMATS))}")
            if img.width * img.height > max_pixels:
                raise ImageError(f"image is {img.width}x{img.height}, more than the limit of {max_pixels} pixels")
            img.seek(0)
            if fmt == "JPEG":
                img.draft("L", img.size)
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return DecodedImage(img.convert("L"), digest, fmt, len(data))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("image is a decompression bomb (too many pixels)") from None
    except UnidentifiedImageError:
        raise ImageError("image cannot be decoded: the data is not an image in a known format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        # Pillow's own wording is not quoted (it may carry internals); the client learns which fault it is.
        fault = "truncated" if isinstance(err, EOFError) or "truncated" in str(err) else "corrupt"
        raise ImageError(f"image cannot be decoded: the data is {fault} ({type(err).__name__})") from None
