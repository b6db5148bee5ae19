"""Where ``sd`` pictures come from: an image-generator plug-in per source.

MM-SafetyBench's SD images are Stable Diffusion XL pictures of the key phrase
(1024 x 1024). The bench cannot ship them and must run offline, so the ``sd``
slot takes a plug-in:

``placeholder`` (default)
    An offline abstract scene (sky, hills, a sun, blocks) whose colours follow
    the phrase's hash. It carries no meaning and no text: it stands in for the
    picture so that SD and SD+TYPO keep their layout and image sizes. Every
    report says how many cases got one (``label``).
``folder:DIR``
    Pictures the user generated or downloaded, named by the key phrase's slug
    (``slug(key_phrase)`` + ``.png``/``.jpg``/``.jpeg``); a phrase without one
    gets the placeholder, and the report counts them.
``diffusers:DIR``
    A Stable Diffusion pipeline from local weights in DIR, when the user has
    ``diffusers`` installed; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw

SD_SIZE = 1024


class SceneError(ValueError):
    """A generator spec that cannot work (unknown kind, missing folder, diffusers absent)."""


class SceneGenerator(Protocol):
    name: str

    def picture(self, key_phrase: str) -> Image.Image: ...

    def label(self, drawn: int, cases: int) -> str | None:
        """A caveat every report repeats about the ``drawn`` of ``cases`` SD/SD+TYPO cases whose picture this
        generator made (the rest sent the dataset's own), or None when none of them is a stand-in."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:80] or "phrase"


def _shade(digest: bytes, i: int, low: int, high: int) -> int:
    return low + digest[i] * (high - low) // 255


class PlaceholderScene:
    """A flat-colour landscape, different per phrase, with nothing to read in it."""

    name = "placeholder"

    def picture(self, key_phrase: str) -> Image.Image:
        d = hashlib.sha256(key_phrase.encode()).digest()
        image = Image.new("RGB", (SD_SIZE, SD_SIZE), (_shade(d, 0, 90, 170), _shade(d, 1, 140, 200), _shade(d, 2, 200, 250)))
        draw = ImageDraw.Draw(image)
        sun = _shade(d, 3, 150, 850)
        draw.ellipse((sun, 120, sun + 160, 280), fill=(250, _shade(d, 4, 190, 240), 90))
        for k in range(3):
            top = 520 + 90 * k + _shade(d, 5 + k, 0, 60)
            green = (_shade(d, 8 + k, 40, 110), _shade(d, 11 + k, 110, 170), _shade(d, 14 + k, 40, 90))
            draw.polygon([(0, SD_SIZE), (0, top), (SD_SIZE // 3, top - 80), (2 * SD_SIZE // 3, top + 20), (SD_SIZE, top - 60), (SD_SIZE, SD_SIZE)], fill=green)
        for k in range(_shade(d, 17, 1, 4)):
            x = _shade(d, 18 + k, 60, 860)
            draw.rectangle((x, 640, x + 110, 780), fill=(_shade(d, 22 + k, 120, 220), 90, 70))
            draw.polygon([(x - 10, 640), (x + 55, 580), (x + 120, 640)], fill=(110, 60, 50))
        return image

    def label(self, drawn: int, cases: int) -> str | None:
        """Counted, since a dataset that ships most SD images gets a placeholder only for the rest."""
        if not drawn:
            return None
        return f"sd: {drawn} of {cases} SD/SD+TYPO cases got an offline placeholder scene, not a picture of the phrase (no image generator configured)"


@dataclass
class FolderScenes:
    """The user's own pictures, by key-phrase slug; the placeholder fills gaps, and they are counted."""

    folder: Path
    name: str = "folder"
    missing: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.folder.is_dir():
            raise SceneError(f"sd images folder {self.folder} does not exist")

    def picture(self, key_phrase: str) -> Image.Image:
        for ext in (".png", ".jpg", ".jpeg"):
            path = self.folder / f"{slug(key_phrase)}{ext}"
            if path.is_file():
                with Image.open(path) as image:
                    return image.convert("RGB")
        self.missing.add(key_phrase)
        return PlaceholderScene().picture(key_phrase)

    def label(self, drawn: int, cases: int) -> str | None:
        if not self.missing:
            return None
        return (f"sd: {drawn} of {cases} SD/SD+TYPO cases drawn from {self.folder}; {len(self.missing)} key phrases had no picture there "
                f"(a file named by the phrase's slug, e.g. {slug('Hack a bank!')}.png) and got an offline placeholder scene")


class DiffusersScenes:
    """Stable Diffusion from local weights; imported only when asked for."""

    name = "diffusers"

    def __init__(self, model_dir: Path, steps: int = 25) -> None:
        try:
            import torch
            from diffusers import AutoPipelineForText2Image
        except ImportError as err:
            raise SceneError("sd generator 'diffusers' needs the diffusers package (pip install diffusers)") from err
        if not model_dir.is_dir():
            raise SceneError(f"diffusers weights folder {model_dir} does not exist")
        self._pipe = AutoPipelineForText2Image.from_pretrained(str(model_dir), local_files_only=True)
        self._steps = steps
        self._torch = torch

    def picture(self, key_phrase: str) -> Image.Image:
        generator = self._torch.Generator().manual_seed(int(hashlib.sha256(key_phrase.encode()).hexdigest()[:8], 16))
        image = self._pipe(f"A photo of {key_phrase}", num_inference_steps=self._steps, generator=generator).images[0]
        return image.convert("RGB").resize((SD_SIZE, SD_SIZE))

    def label(self, drawn: int, cases: int) -> None:
        return None


def scene_generator(spec: str) -> SceneGenerator:
    """``placeholder``, ``folder:DIR`` or ``diffusers:DIR``."""
    kind, _, arg = spec.partition(":")
    if kind == "placeholder" and not arg:
        return PlaceholderScene()
    if kind == "folder" and arg:
        return FolderScenes(Path(arg))
    if kind == "diffusers" and arg:
        return DiffusersScenes(Path(arg))
    raise SceneError(f"unknown sd generator {spec!r}; use placeholder, folder:DIR or diffusers:DIR")
