"""Reading the text in an image: tesseract in-process, pooled, cached.

tesserocr runs tesseract inside this process, which is about ten times faster
than pytesseract's process per call; pytesseract is the fallback where the
tesserocr wheel is missing. A tesseract API object is not thread-safe, so each
worker thread owns one. Results are cached by the image's content hash, because
an attack image is usually sent many times, and a read already in flight is
shared, because the same image often arrives twice at once (the guard and a
model that reads images, an attack sent in a burst).
"""

from __future__ import annotations

import asyncio
import glob
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from PIL import Image, ImageOps

from proxy import metrics


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


def _ink(gray: Image.Image, rows: int = 200) -> tuple["np.ndarray", float, "np.ndarray"]:
    """A small boolean map of pixels that differ clearly from their row's background, its scale, and those backgrounds.

    The background is each row's median, not the image's commonest grey: in
    MM-SafetyBench's SD+TYPO the picture's sky is the commonest, and measured
    against it the whole white typography band would count as ink.
    """
    import numpy as np

    factor = max(1, gray.height // rows)
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.int16)
    background = np.median(small, axis=1, keepdims=True)
    return np.abs(small - background) > 48, 1 / factor, background[:, 0]


def _runs(rows: "np.ndarray", scale: float) -> "np.ndarray":
    """Heights, at full scale, of the runs of consecutive marked rows."""
    import numpy as np

    edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.astype(np.int8), [0]))))
    runs = (edges[1::2] - edges[::2]) / scale
    return runs[runs >= 4 / scale]


@dataclass(frozen=True)
class Lines:
    """What the rows of an image say about its text."""

    height: float | None  # typical text line height in pixels; None when unclear
    picture_share: float  # share of rows whose background is not the image's: 0 for typography, high beside a picture


def measure_lines(gray: Image.Image, min_strokes: int = 8, upright: bool = False) -> Lines:
    """Text line height, and how many rows belong to a picture rather than to the page.

    Two views of the rows. Rows with any ink: a tilted or noisy image merges
    its lines into one tall block, "unclear", and the caller deskews; once the
    caller knows the image is upright (``upright``), a tall block is simply a
    tall line, as in MM-SafetyBench's one-line TYPO images (84 px of ink in
    180). Rows that cross ink often (glyph strokes): the lines themselves,
    without the shapes of a picture (sky, hills, a sun cross a row a few
    times), so SD+TYPO's picture does not pass for a very tall line of text.
    """
    import numpy as np

    ink, scale, row_background = _ink(gray)
    commonest = np.bincount(row_background.astype(np.int64), minlength=256).argmax()
    share = float(np.mean(np.abs(row_background - commonest) > 24))
    blocks = _runs(ink.mean(axis=1) > 0.004, scale)
    if blocks.size == 1 and blocks[0] > 0.45 * gray.height and not upright:
        return Lines(None, share)
    runs = _runs((np.diff(ink.astype(np.int8), axis=1) != 0).sum(axis=1) >= min_strokes, scale)
    if runs.size > 1:
        runs = runs[runs <= 0.3 * gray.height] if (runs <= 0.3 * gray.height).any() else runs
    return Lines(float(np.median(runs)) if runs.size else None, share)


def skew_angle(gray: Image.Image, limit: float = 16.0, step: float = 1.0, side: int = 256) -> float:
    """The rotation that makes text lines horizontal: the angle whose row profile is sharpest.

    The search rotates a mask of at most ``side`` pixels a side, 33 times;
    at full size that alone cost 10 ms on a 1024 px image.
    """
    import numpy as np

    ink, _, _ = _ink(gray, rows=160)
    mask = Image.fromarray((ink * 255).astype(np.uint8))
    if max(mask.size) > side:
        factor = side / max(mask.size)
        mask = mask.resize((max(1, round(mask.width * factor)), max(1, round(mask.height * factor))), Image.BOX)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-limit, limit + step / 2, step):
        profile = np.asarray(mask.rotate(float(angle), expand=True), dtype=np.float32).sum(axis=1)
        score = float(np.var(profile))
        if score > best_score:
            best, best_score = float(angle), score
    return best


#: Line heights tesseract is given. Plain typography reads as well at 24 px as at 40 and a quarter
#: faster; beside a picture (SD+TYPO) its page layout needs 40 px or it loses words at the line's end.
TEXT_LINE_PX = 24.0
MIXED_LINE_PX = 40.0


def _scale(gray: Image.Image, lines: Lines, max_side: int, min_side: int) -> float:
    longest = max(gray.size)
    if lines.height is not None:
        target = TEXT_LINE_PX if lines.picture_share < 0.1 else MIXED_LINE_PX
        return min(max(target / lines.height, 0.4), 3.0, 2 * max_side / longest)
    if longest > max_side:
        return max_side / longest
    if longest < min_side:
        return min_side / longest
    return 1.0


def preprocess(image: Image.Image, max_side: int, min_side: int, margin: int = 12) -> Image.Image:
    """Grayscale, upright, scaled so text lines are ``TEXT_LINE_PX`` or ``MIXED_LINE_PX`` tall, with a margin.

    Typography at 90 pt (MM-SafetyBench) shrinks by half or more, which makes
    OCR both faster and more accurate; small print grows. Where lines are
    unclear the image may be tilted (an evasion): it is deskewed and measured
    again. Failing that, large images shrink to ``max_side`` and tiny ones grow
    to ``min_side``. MM-SafetyBench draws its text at x = 0, and tesseract drops
    glyphs that touch the border ("forge" read as "orge"), hence the margin of
    background colour all round.
    """
    gray = image.convert("L")
    background = max(range(256), key=gray.histogram().__getitem__)
    lines = measure_lines(gray)
    if lines.height is None:
        angle = skew_angle(gray)
        if angle:
            gray = gray.rotate(angle, expand=True, fillcolor=background, resample=Image.BILINEAR)
        lines = measure_lines(gray, upright=True)
    scale = _scale(gray, lines, max_side, min_side)
    if abs(scale - 1.0) >= 0.05:
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.LANCZOS)
    return ImageOps.expand(gray, border=margin, fill=background)


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
        self._inflight: dict[str, Future[OcrResult]] = {}
        self._inflight_lock = threading.RLock()  # a read that is already done runs its callback at once, inside the lock
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

    def _recognize(self, image: Image.Image, timeout_s: float) -> OcrResult:
        prepared = preprocess(image, self.max_side, self.min_side)
        if self.engine == "tesserocr":
            api = self._api()
            api.SetImage(prepared)
            if not api.Recognize(timeout=int(timeout_s * 1000)):
                raise OcrError(f"OCR did not finish within {timeout_s}s")
            text = api.GetUTF8Text()
            words = tuple(OcrWord(w, float(c)) for w, c in api.MapWordConfidences() if w.strip()) if text.strip() else ()
        else:
            import pytesseract

            try:
                data = pytesseract.image_to_data(prepared, lang=self.lang, timeout=timeout_s, output_type=pytesseract.Output.DICT)
            except RuntimeError as err:
                raise OcrError(f"OCR did not finish within {timeout_s}s") from err
            words = tuple(OcrWord(w, float(c)) for w, c in zip(data["text"], data["conf"]) if w.strip())
            text = " ".join(w.text for w in words)
        return OcrResult(text=" ".join(text.split()), words=words, engine=self.engine)

    def cached(self, key: str) -> OcrResult | None:
        """The cached read of ``key``, or None. Only a hit counts here: a miss goes on to ``aread``/``read``, which count it once."""
        hit = self._cache.get(key)
        if hit is None:
            return None
        metrics.ocr_cache_hit()
        return replace(hit, cached=True)

    def read(self, image: Image.Image, key: str, timeout_s: float | None = None) -> OcrResult:
        """OCR in the calling thread; ``key`` is the image's content hash. Each OCR run counts as one cache miss."""
        hit = self.cached(key)
        if hit is not None:
            return hit
        metrics.ocr_cache_miss()
        try:
            result = self._recognize(image, timeout_s or self.timeout_s)
        except OcrError:
            raise
        except Exception as err:  # tesseract failures surface as many types; the guard sees one
            raise OcrError(f"OCR failed: {type(err).__name__}: {err}") from err
        self._cache.put(key, result)
        return result

    def _submit(self, image: Image.Image, key: str, timeout_s: float) -> "Future[OcrResult]":
        """The read of ``key`` in flight, started if there is none: the same image arriving twice at once is read once."""
        with self._inflight_lock:
            future = self._inflight.get(key)
            if future is None:
                future = self._pool.submit(self.read, image, key, timeout_s)
                self._inflight[key] = future
                future.add_done_callback(lambda done: self._forget(key, done))
            return future

    def _forget(self, key: str, future: "Future[OcrResult]") -> None:
        with self._inflight_lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def aread(self, image: Image.Image, key: str, timeout_s: float | None = None) -> OcrResult:
        """OCR on the engine's own threads, so the event loop keeps serving; concurrent reads of one image share one OCR."""
        hit = self.cached(key)
        if hit is not None:
            return hit
        timeout_s = timeout_s or self.timeout_s
        future = self._submit(image, key, timeout_s)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout_s + 1)
        except asyncio.TimeoutError:
            raise OcrError(f"OCR did not finish within {timeout_s}s") from None


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> OcrEngine:
    """The process's OCR engine: one pool and one cache for everything that reads images."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared
