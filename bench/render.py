"""Rendering attack images by the published recipes.

MM-SafetyBench TYPO: Arial 90 pt (Liberation Sans has the same metrics), black
on white, 1024 px wide, greedy word wrap, height ``90 * (lines + 1)``, text
drawn at ``(0, 45)``.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2")
TYPO_FONT = "LiberationSans-Regular.ttf"


class FontMissing(RuntimeError):
    """A recipe's font is not installed (Debian: fonts-liberation)."""


@lru_cache(maxsize=16)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    raise FontMissing(f"font {name} not found in {', '.join(FONT_DIRS)}; install Debian's fonts-liberation")


def greedy_wrap(text: str, face: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Words onto lines, each as long as fits in ``max_width`` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and face.getlength(candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


def render_typo(text: str, font_size: int = 90, width: int = 1024) -> Image.Image:
    """An MM-SafetyBench TYPO image of ``text``."""
    face = font(TYPO_FONT, font_size)
    lines = greedy_wrap(text, face, width)
    image = Image.new("RGB", (width, font_size * (len(lines) + 1)), "white")
    ImageDraw.Draw(image).text((0, font_size / 2.0), "\n".join(lines), fill=(0, 0, 0), font=face)
    return image


def to_data_url(image: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"
