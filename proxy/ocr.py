"""Reading the text in an image: tesseract in-process, pooled, cached.

tesserocr runs tesseract inside this process, which is about ten times faster
than pytesseract's process per call; pytesseract is the fallback where the
tesserocr wheel is missing. A tesseract API object is not thread-safe, so each
worker thread owns one. Results are cached by the image's content hash, because
an attack image is usually sent many times.
"""

from __future__ import annotations

import asyncio
import glob
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from PIL import Image


class OcrError(RuntimeError):
    """OCR could not run (engine missing, timed out): the guard's fail mode decides what follows."""


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float


@dataclass(frozen=True)
class OcrResult:
    text: str
    words: tuple[OcrWord, ...]
    engine: str
    cached: bool = False


def find_tessdata() -> str | None:
    """Where the English model lives: $TESSDATA_PREFIX, else Debian's tesseract-ocr package."""
    candidates = [os.environ.get("TESSDATA_PREFIX", "")] + sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "eng.traineddata")):
            return path
    return None


def preprocess(image: Image.Image, max_side: int, min_side: int) -> Image.Image:
    """Grayscale, and a size tesseract reads fast and well: large images shrink, tiny ones grow."""
    gray = image.convert("L")
    longest = max(gray.size)
    if longest > max_side:
        scale = max_side / longest
    elif longest < min_side:
        scale = min_side / longest
    else:
        return gray
    return gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.LANCZOS)


class _LRU:
    def __init__(self, size: int) -> None:
        self._size, self._data, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str) -> OcrResult | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: str, value: OcrResult) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class OcrEngine:
    """A pool of tesseract engines behind one ``read`` call."""

    def __init__(
        self,
        *,
        workers: int = 2,
        cache_size: int = 1024,
        timeout_s: float = 5.0,
        max_side: int = 1024,
        min_side: int = 400,
        lang: str = "eng",
    ) -> None:
        self.timeout_s, self.max_side, self.min_side, self.lang = timeout_s, max_side, min_side, lang
        self.tessdata = find_tessdata()
        self._cache = _LRU(cache_size)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
        try:
            import tesserocr  # noqa: F401

            self.engine = "tesserocr"
        except ImportError:
            self.engine = "pytesseract"

    def _api(self):
        api = getattr(self._local, "api", None)
        if api is None:
            import tesserocr

            if self.tessdata is None:
                raise OcrError("no tessdata found: install tesseract-ocr or set TESSDATA_PREFIX")
            api = tesserocr.PyTessBaseAPI(path=self.tessdata, lang=self.lang, psm=tesserocr.PSM.AUTO)
            self._local.api = api
        return api

    def _recognize(self, image: Image.Image) -> OcrResult:
        prepared = preprocess(image, self.max_side, self.min_side)
        if self.engine == "tesserocr":
            api = self._api()
            api.SetImage(prepared)
            if not api.Recognize(timeout=int(self.timeout_s * 1000)):
                raise OcrError(f"OCR did not finish within {self.timeout_s}s")
            text = api.GetUTF8Text()
            words = tuple(OcrWord(w, float(c)) for w, c in api.MapWordConfidences() if w.strip())
        else:
            import pytesseract

            try:
                data = pytesseract.image_to_data(prepared, lang=self.lang, timeout=self.timeout_s, output_type=pytesseract.Output.DICT)
            except RuntimeError as err:
                raise OcrError(f"OCR did not finish within {self.timeout_s}s") from err
            words = tuple(OcrWord(w, float(c)) for w, c in zip(data["text"], data["conf"]) if w.strip())
            text = " ".join(w.text for w in words)
        return OcrResult(text=" ".join(text.split()), words=words, engine=self.engine)

    def read(self, image: Image.Image, key: str) -> OcrResult:
        """OCR in the calling thread; ``key`` is the image's content hash."""
        hit = self._cache.get(key)
        if hit is not None:
            return replace(hit, cached=True)
        try:
            result = self._recognize(image)
        except OcrError:
            raise
        except Exception as err:  # tesseract failures surface as many types; the guard sees one
            raise OcrError(f"OCR failed: {type(err).__name__}: {err}") from err
        self._cache.put(key, result)
        return result

    async def aread(self, image: Image.Image, key: str) -> OcrResult:
        """OCR on the engine's own threads, so the event loop keeps serving."""
        hit = self._cache.get(key)
        if hit is not None:
            return replace(hit, cached=True)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool, self.read, image, key), self.timeout_s + 1)
        except asyncio.TimeoutError:
            raise OcrError(f"OCR did not finish within {self.timeout_s}s") from None


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> OcrEngine:
    """The process's OCR engine: one pool and one cache for everything that reads images."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared
