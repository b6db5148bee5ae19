"""Reading the text in an image: tesseract in-process, pooled, cached.

tesserocr runs tesseract inside this process, which is about ten times faster
than pytesseract's process per call; pytesseract is the fallback where the
tesserocr wheel is missing. A tesseract API object is not thread-safe, so each
worker thread owns one. Results are cached by the image's content hash, because
an attack image is usually sent many times, and a read already in flight is
shared, because the same image often arrives twice at once (the guard and a
model that reads images, an attack sent in a burst).

Where a read's time goes, and so what is worth cutting. On a 1024 x 270
MM-SafetyBench TYPO image (one core) a read is now about 15 ms: the LSTM that
reads each line is three quarters of it, and costs the line's width at the
network's fixed input height; page layout and binarisation take 1-2 ms,
``prepare`` about 1.7 ms (2.6 before its medians and commonest grey were taken
on the bytes, with the same results), handing over the pixels 0.1 ms, and collecting words and
confidences (``GetUTF8Text``, ``MapWordConfidences``) under 0.1 ms. So the
choices here cut the pixels the layout sees and the width the LSTM reads:

- page segmentation: plain typography is one uniform block
  (``PSM_SINGLE_BLOCK``), which skips column and table finding: layout
  2.8 ms to 1.3 on TYPO, 5.8 to 2.4 on FigStep, the same words. Anything
  beside a picture keeps full page layout (``PSM_AUTO``), which sets the
  picture aside; read as one block, a photo's textures become lines of text.
- what ``prepare`` does: crop, invert, squeeze, box-filter, margins; its
  docstring has the numbers.
- the pixels go to tesseract raw (``SetImageBytes``), not encoded as a BMP
  and decoded again as tesserocr's ``SetImage`` does; ``SOURCE_DPI`` keeps
  the resolution that BMP declared, so every word and confidence is as before.

Tesseract's switches were measured too and are left at their defaults, none
moving the time beyond noise: the dictionaries off (``load_system_dawg``,
``load_freq_dawg``, init-only; they are a small part of the beam search),
``tessedit_do_invert`` off (clean lines never trigger the inverted re-read,
and light-on-dark typography is inverted beforehand), ``textord_all_prop``,
``textord_disable_pitch_test``, ``tessedit_fix_fuzzy_spaces``,
``enable_noise_removal``, ``dotproduct`` (the int8 model does not use it).

Measured on 160 phrases per form (3-12 words, digits and punctuation),
interleaving the previous pipeline and this one in one process on one core,
OCR p50: TYPO 20.3 -> 15.1 ms, FigStep 34.1 -> 25.8, SD+TYPO 33.6 -> 25.3,
a caption on a large square 31.4 -> 14.3; word recall held or rose on every
form of ``bench.typography``, most on SD+TYPO (89.2% -> 97.2%; see
``_row_margins``).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from PIL import Image, ImageOps

from proxy import metrics
from proxy.lru import LRU

log = logging.getLogger("mmguard.ocr")


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


def _difference(gray: Image.Image, rows: int = 200) -> tuple["np.ndarray", float, "np.ndarray"]:
    """How far each pixel of a small copy (about ``rows`` rows) is above (+) or below (-) its row's background,
    in half grey levels; the copy's scale; and those backgrounds.

    The background is each row's median, not the image's commonest grey: in
    MM-SafetyBench's SD+TYPO the picture's sky is the commonest, and measured
    against it the whole white typography band would count as ink. A median
    can fall on a half grey level, hence half levels: whole numbers keep the
    arithmetic in int16, 0.5 ms on a TYPO image where float64 took 3.2.
    """
    import numpy as np

    factor = max(1, gray.height // rows)
    pixels = np.asarray(gray.reduce(factor) if factor > 1 else gray)
    background = np.median(pixels, axis=1)  # on the bytes: the same medians, in half the time of int16
    return 2 * pixels.astype(np.int16) - (2 * background).astype(np.int16)[:, None], 1 / factor, background


#: Grey levels from the row's background that make a pixel ink (line finding, deskew), and that make it
#: worth keeping when cropping: far below the ink level, so faint marks stay in the crop (see ``prepare``).
INK_LEVEL = 48
CROP_LEVEL = 16


def _ink(gray: Image.Image, rows: int = 200) -> tuple["np.ndarray", float, "np.ndarray"]:
    """A small boolean map of pixels that differ clearly from their row's background, its scale, and those backgrounds."""
    difference, scale, background = _difference(gray, rows)
    return abs(difference) > 2 * INK_LEVEL, scale, background


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
    box: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of every mark at least CROP_LEVEL from its row's background; None when blank
    light_ink: bool = False  # most ink is lighter than its row's background: light text on a dark page


def measure_lines(gray: Image.Image, min_strokes: int = 8, upright: bool = False) -> Lines:
    """Text line height, and how many rows belong to a picture rather than to the page.

    Two views of the rows. Rows with any ink: a tilted or noisy image merges
    its lines into one tall block, "unclear", and the caller deskews; once the
    caller knows the image is upright (``upright``), a tall block is simply a
    tall line, as in MM-SafetyBench's one-line TYPO images (84 px of ink in
    180). Rows that cross ink often (glyph strokes): the lines themselves,
    without the shapes of a picture (sky, hills, a sun cross a row a few
    times), so SD+TYPO's picture does not pass for a very tall line of text.
    The same map, at no extra cost, gives where the marks are (``box``, for
    cropping) and whether the ink is lighter than the page (``light_ink``).
    """
    import numpy as np

    signed, scale, row_background = _difference(gray)
    difference = abs(signed)
    ink = difference > 2 * INK_LEVEL
    commonest = np.bincount(row_background.astype(np.int64), minlength=256).argmax()
    share = float(np.mean(np.abs(row_background - commonest) > 24))
    box = _box(difference > 2 * CROP_LEVEL, scale, gray.size)
    light_ink = bool(np.count_nonzero(signed > 2 * INK_LEVEL) > np.count_nonzero(signed < -2 * INK_LEVEL))
    blocks = _runs(ink.mean(axis=1) > 0.004, scale)
    if blocks.size == 1 and blocks[0] > 0.45 * gray.height and not upright:
        return Lines(None, share, box, light_ink)
    runs = _runs((np.diff(ink.astype(np.int8), axis=1) != 0).sum(axis=1) >= min_strokes, scale)
    if runs.size > 1:
        runs = runs[runs <= 0.3 * gray.height] if (runs <= 0.3 * gray.height).any() else runs
    return Lines(float(np.median(runs)) if runs.size else None, share, box, light_ink)


def _box(marks: "np.ndarray", scale: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The bounding box, at full scale and within ``size``, of the marked pixels of a map at ``scale``; None when none is marked.

    One pixel of the map covers ``1 / scale`` pixels a side, so the box grows
    by that much again on every side, to be sure it holds every marked pixel.
    """
    import numpy as np

    rows, cols = np.flatnonzero(marks.any(axis=1)), np.flatnonzero(marks.any(axis=0))
    if rows.size == 0:
        return None
    cell = round(1 / scale)
    width, height = size
    return (
        max(0, int(cols[0] - 1) * cell),
        max(0, int(rows[0] - 1) * cell),
        min(width, int(cols[-1] + 2) * cell),
        min(height, int(rows[-1] + 2) * cell),
    )


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
#: faster; at 90 pt the 0.4 floor on the scale binds first (a floor of 0.2 and 16-20 px saved 1 ms more but
#: lost whole words in DejaVu Serif). Beside a picture (SD+TYPO) page layout needs more: with the margin
#: ``_row_margins`` draws, 32 px read 96.2% of the words of 60 SD+TYPO phrases, 40 px 95.2% and 4 ms
#: slower, 28 and 24 px 95.2% and 95.0%.
TEXT_LINE_PX = 24.0
MIXED_LINE_PX = 32.0
#: A second, careful read (see ``OcrEngine._recognize``): lines this tall, deskewed.
CAREFUL_LINE_PX = 40.0
#: A typography read with a word under this confidence, or no word at all, is read again carefully.
DOUBTFUL_CONFIDENCE = 50.0
#: Plain typography is squeezed to this share of its width (see ``prepare``).
TYPOGRAPHY_WIDTH = 0.85


def _scale(gray: Image.Image, lines: Lines, max_side: int, min_side: int, line_px: float | None = None) -> float:
    longest = max(gray.size)
    if lines.height is not None:
        target = line_px or (TEXT_LINE_PX if lines.picture_share < 0.1 else MIXED_LINE_PX)
        return min(max(target / lines.height, 0.4 if line_px is None else 0.0), 3.0, 2 * max_side / longest)
    if longest > max_side:
        return max_side / longest
    if longest < min_side:
        return min_side / longest
    return 1.0


@dataclass(frozen=True)
class Prepared:
    """The image tesseract reads, and whether it is plain typography (text lines on a plain page, no picture)."""

    image: Image.Image
    typography: bool


def _row_margins(gray: Image.Image, margin: int) -> Image.Image:
    """``gray`` inside a margin whose every row takes the light side (90th percentile) of that row's own pixels.

    Beside a picture the image's commonest grey is the picture's (the sky in
    SD+TYPO), and a margin of it next to the white typography band binarises
    as ink: a dark frame that swallows the glyph touching it ("ways" read as
    "ays"). The row's median is no better: in dense 90 pt text half a row can
    be ink. The light side of each row is the page where the text is, and
    merely a light edge beside the picture. On 60 SD+TYPO phrases word recall
    went from 87.2% (commonest grey) to 95.2%; the median gave 94.2%.
    """
    import numpy as np

    pixels = np.asarray(gray)
    height, width = pixels.shape
    sample = pixels[:, :: max(1, width // 100)]
    k = (sample.shape[1] - 1) * 9 // 10
    light = np.partition(sample, k, axis=1)[:, k]
    out = np.empty((height + 2 * margin, width + 2 * margin), np.uint8)
    out[margin : margin + height] = light[:, None]
    out[:margin], out[margin + height :] = light[0], light[-1]
    out[margin : margin + height, margin : margin + width] = pixels
    return Image.fromarray(out)


def prepare(image: Image.Image, max_side: int, min_side: int, margin: int = 12, careful: bool = False) -> Prepared:
    """Grayscale, upright, scaled so text lines are ``TEXT_LINE_PX`` or ``MIXED_LINE_PX`` tall, with a margin.

    ``careful`` is for a second read: the skew is always measured (4 ms on a
    TYPO image, too dear for every read), and lines are ``CAREFUL_LINE_PX``
    tall, with no floor on the scale.

    Typography at 90 pt (MM-SafetyBench) shrinks by half or more, which makes
    OCR both faster and more accurate; small print grows. Where lines are
    unclear the image may be tilted (an evasion): it is deskewed and measured
    again. Failing that, large images shrink to ``max_side`` and tiny ones grow
    to ``min_side``. MM-SafetyBench draws its text at x = 0, and tesseract drops
    glyphs that touch the border ("forge" read as "orge"), hence the margin all
    round: the background colour around typography, each row's own light side
    beside a picture (``_row_margins``).

    Plain typography gets three more steps, measured on 60 phrases per form
    (the squeeze on 160) against the previous pipeline, OCR p50 on one core:

    - cropped to its marks (``Lines.box``) before scaling. A 28-36 px
      caption on a 1024 px square read in 17 ms instead of 26; elsewhere it
      is a wash. The crop keeps every mark ``CROP_LEVEL`` grey levels from its
      row's background, a third of what counts as ink, so faint text stays
      in; beside strong text, text fainter still (and up to 40 levels) was
      lost to tesseract's binarisation anyway.
    - light on dark turned dark on light (``Lines.light_ink``). Tesseract
      reads dark text; light text it reads, judges poor, inverts and reads
      again (19 ms a light-on-dark TYPO image, 12 without the second read).
      The colour form read in 21 ms instead of 25, with the same words.
    - squeezed to ``TYPOGRAPHY_WIDTH`` of its width. Recognition is an LSTM
      run along each line at a fixed height, so its cost is the line's width
      at that height, and 90 pt Arial and FigStep's FreeMono are wider than
      the network needs. At 0.85 (160 phrases) TYPO read in 15.4 ms instead
      of 17.3 and FigStep in 26.5 instead of 29.9, word recall the same or
      higher on every form but two (-0.03 points). 0.8 was faster still but
      began to lose words in fonts that are condensed already (Liberation Sans
      Narrow -0.2 points, DejaVu Serif Condensed -0.2); 0.7 lost 0.9 points on
      Narrow, 0.5 on tilted text.

    Shrinking uses a box filter: a box average is what shrinking needs, and it
    is several times cheaper than Lanczos (TYPO's resize 1.0 ms to 0.2;
    SD+TYPO read 5 ms faster), with word recall no lower on any form;
    bilinear was as cheap but lost 0.6 points on TYPO. Growing keeps Lanczos.
    """
    import numpy as np

    gray = image.convert("L")
    background = int(np.argmax(gray.histogram()))  # the commonest grey (the first, on a tie, as max() gave)
    lines = measure_lines(gray)
    if lines.height is None or careful:
        angle = skew_angle(gray)
        if angle:
            gray = gray.rotate(angle, expand=True, fillcolor=background, resample=Image.BILINEAR)
        lines = measure_lines(gray, upright=True)
    scale = _scale(gray, lines, max_side, min_side, CAREFUL_LINE_PX if careful else None)
    typography = lines.height is not None and lines.picture_share < 0.1
    width = scale
    if typography:
        if lines.box is not None:
            gray = gray.crop(lines.box)
        if lines.light_ink:
            gray, background = ImageOps.invert(gray), 255 - background
        width = scale * TYPOGRAPHY_WIDTH
    if abs(scale - 1.0) >= 0.05 or width != scale:
        size = (max(1, round(gray.width * width)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.BOX if scale < 1 else Image.LANCZOS)
    if typography:
        return Prepared(ImageOps.expand(gray, border=margin, fill=background), True)
    return Prepared(_row_margins(gray, margin), False)


#: The resolution tesseract is told, which sets some of its layout thresholds (at 70 dpi, or none, page
#: layout split SD+TYPO's lines differently, and under the old margins read 78% of its words, not 87%).
#: The pixels go in raw (``SetImageBytes``); tesserocr's ``SetImage`` encodes a BMP that says 96 dpi, so
#: 96 keeps every word and confidence as it was.
SOURCE_DPI = 96


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
        self._cache: LRU[OcrResult] = LRU(cache_size)
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
        """Read once, fast; read plain typography again, carefully, when the first read is in doubt.

        The fast read trusts two cheap guesses, that a line of ink is level and
        that 24 px lines are tall enough, and each fails now and then on the
        forms an evasion uses: a tilt of a few degrees passes for level ("cook
        meth in a camper van" read as "cook met ina yan"), and JPEG noise at the
        smallest scale turns a long word to junk ("methamphetamine" read as
        "eva eas", confidence 2). Tesseract knows when it is unsure, so a word
        under ``DOUBTFUL_CONFIDENCE``, or no word from an image with lines of
        ink, buys a second read, deskewed and at ``CAREFUL_LINE_PX``; the read
        with more confident letters wins. On 400 held-out phrases per form, the
        phrases missing a word of three letters or more went from 22 to 8
        rotated, 12 to 4 noisy JPEG, 5 to 4 colour, 4 to 3 low contrast, 6 to 5
        plain, 8 to 8 small font, 2 to 2 FigStep; 0.5% to 5.2% of images were read
        twice (4.5% noisy JPEG, 5.2% rotated), so the median time did not move. A second read that runs out of time
        leaves the first, and so does one that fails in any other way.
        """
        deadline = time.monotonic() + timeout_s
        prepared = prepare(image, self.max_side, self.min_side)
        first = self._read(prepared, timeout_s)
        if not prepared.typography or not _doubtful(first):
            return first
        metrics.ocr_second_read()
        try:
            second = self._read(prepare(image, self.max_side, self.min_side, careful=True), max(0.001, deadline - time.monotonic()))
        except OcrError:
            return first
        except Exception:  # the second read is optional: whatever tesseract does there must not cost a good first read
            log.warning("OCR's careful second read failed; the first read stands", exc_info=True)
            return first
        return second if _confident_letters(second) > _confident_letters(first) else first

    def _read(self, prepared: Prepared, timeout_s: float) -> OcrResult:
        if self.engine == "tesserocr":
            import tesserocr

            api = self._api()
            api.SetPageSegMode(tesserocr.PSM.SINGLE_BLOCK if prepared.typography else tesserocr.PSM.AUTO)
            pixels = prepared.image
            data = pixels.tobytes()  # held until the read is done: tesseract may not copy it
            api.SetImageBytes(data, pixels.width, pixels.height, 1, pixels.width)
            api.SetSourceResolution(SOURCE_DPI)
            if not api.Recognize(timeout=int(timeout_s * 1000)):
                raise OcrError(f"OCR did not finish within {timeout_s}s")
            text = api.GetUTF8Text()
            words = tuple(OcrWord(_unpipe(w), float(c)) for w, c in api.MapWordConfidences() if w.strip()) if text.strip() else ()
            words = _rate_apostrophes(api, words)
        else:
            import pytesseract

            try:
                data = pytesseract.image_to_data(prepared.image, config=f"--psm {6 if prepared.typography else 3}", lang=self.lang, timeout=timeout_s, output_type=pytesseract.Output.DICT)
            except RuntimeError as err:
                raise OcrError(f"OCR did not finish within {timeout_s}s") from err
            words = tuple(OcrWord(_unpipe(w), float(c)) for w, c in zip(data["text"], data["conf"]) if w.strip())
            text = " ".join(w.text for w in words)
        return OcrResult(text=" ".join(_unpipe(t) for t in text.split()), words=words, engine=self.engine)

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


def _unpipe(word: str) -> str:
    """A capital I in a sans-serif font is a bare stroke, which tesseract reads as "|" ("How do | build"):
    alone it is "I", beside letters "l" ("Contro|"). Nobody sends a pipe in a sentence to a chat model."""
    if word == "|":
        return "I"
    return word.replace("|", "l") if any(c.isalpha() for c in word) else word


#: Apostrophes and single quotes as tesseract returns them (it reads a typed ' as ’).
APOSTROPHES = frozenset("'’‘ʼ")


def _doubted_apostrophe(word: OcrWord) -> bool:
    return word.confidence < DOUBTFUL_CONFIDENCE and not APOSTROPHES.isdisjoint(word.text)


def _rate_apostrophes(api, words: tuple[OcrWord, ...]) -> tuple[OcrWord, ...]:
    """``words``, those with an apostrophe that tesseract doubts rated by their least sure symbol instead.

    Tesseract rates a plural possessive far below every symbol in it:
    "neighbors’" 0, "clients’" 6, "kids’" 29, where each letter is 99 or
    more and the apostrophe 85 or 90. Under ``min_word_confidence`` the guard
    dropped the word, and the phrase with it ("a plate-reader log of my
    comings and goings"), and the read counted as doubtful and was done
    twice. A word's symbols are its letters as read, so their least sure one
    says how sure the word is. Only such words are re-rated, and only when
    one is in doubt, because the symbol walk is the one extra cost (about
    0.1 ms) and a textured photo's junk words keep the rating that drops them.
    """
    if not any(_doubted_apostrophe(w) for w in words):
        return words
    from tesserocr import RIL, iterate_level

    spelled: list[tuple[str, float]] = []
    for symbol in iterate_level(api.GetIterator(), RIL.SYMBOL):
        letter, confidence = symbol.GetUTF8Text(RIL.SYMBOL) or "", symbol.Confidence(RIL.SYMBOL)
        if symbol.IsAtBeginningOf(RIL.WORD) or not spelled:
            spelled.append((letter, confidence))
        else:
            spelled[-1] = (spelled[-1][0] + letter, min(spelled[-1][1], confidence))
    spelled = [(_unpipe(text), confidence) for text, confidence in spelled if text.strip()]
    if [text for text, _ in spelled] != [w.text for w in words]:
        return words
    return tuple(
        OcrWord(w.text, max(w.confidence, least)) if _doubted_apostrophe(w) else w
        for w, (_, least) in zip(words, spelled)
    )


def _doubtful(result: OcrResult) -> bool:
    return not result.words or any(w.confidence < DOUBTFUL_CONFIDENCE for w in result.words)


def _confident_letters(result: OcrResult) -> float:
    """Letters weighted by their word's confidence: a read that turns a word to junk scores lower than one that reads it."""
    return sum(len(w.text) * w.confidence for w in result.words)


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> OcrEngine:
    """The process's OCR engine: one pool and one cache for everything that reads images."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared


def engine_version() -> str:
    """Which tesseract reads here: another version can read the same image otherwise (the bench keys answers by it)."""
    try:
        import tesserocr

        return "tesserocr " + tesserocr.tesseract_version().split("\n", 1)[0]
    except ImportError:
        try:
            import pytesseract

            return f"pytesseract {pytesseract.get_tesseract_version()}"
        except (ImportError, OSError):
            return "none"
