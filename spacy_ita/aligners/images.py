"""Load whatever sits in `doc._.image` as an RGB PIL image, or explain why not.

A bad image must never stop a run: every failure is logged as a warning on the
`spacy_ita` logger and the caller gets None (the doc goes on text-only).
Odd but valid images (CMYK, alpha, grayscale, 16-bit, animated) are converted;
this is the one path every backend's images take, OCR's included.

Large real images are read, not skipped: a phone photo of 108 MP (12000x9000) is past
Pillow's decompression-bomb threshold (about 89 MP), which both OCR engines then
refused. An image of more than `DOWNSCALE_PIXELS` is shrunk to fit in that many pixels
(a JPEG is decoded at 1/2, 1/4 or 1/8 scale by its own decoder, `Image.draft`, so its
full size is never in memory); only an image past `max_pixels` (the image_aligner's
`max_image_pixels`, default `DEFAULT_MAX_PIXELS`: 400 MP, twice the largest phone
sensors) is refused, as a possible decompression bomb.
"""

import hashlib
import io
import logging
import re
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Iterator, Optional, Tuple

import numpy
from PIL import Image, ImageOps

logger = logging.getLogger("spacy_ita")

# Images past this many pixels are refused (a possible decompression bomb); configurable as
# the image_aligner's `max_image_pixels`. 400 MP: twice the largest phone sensors (200 MP).
DEFAULT_MAX_PIXELS = 400_000_000
# Larger images are shrunk to fit in this many pixels before any backend sees them: Pillow's
# own decompression-bomb threshold, up to which images were always read at full size.
DOWNSCALE_PIXELS = 89_478_485
_PILLOW_LIMIT_LOCK = threading.Lock()
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
WHITE, BLACK = (255, 255, 255, 255), (0, 0, 0, 255)


class ImageLoadError(ValueError):
    pass


class ImageTooLarge(ImageLoadError):
    """More pixels than the limit, known from the header: nothing was decoded."""


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # RGB, first frame, EXIF orientation applied
    digest: str  # sha256 of the source bytes (`source_digest`): the cache key and the batch dedup key


def load_image(source: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> Optional[LoadedImage]:
    """A path (str or Path), raw bytes or a PIL image → LoadedImage, or None with a warning."""
    try:
        return read_image(source, max_pixels)
    except ImageLoadError as err:
        logger.warning("Skipping image %s: %s; the doc goes on without visual context.", describe_source(source), err)
        return None


def read_image(
    source: Any, max_pixels: int = DEFAULT_MAX_PIXELS, formats: Optional[Tuple[str, ...]] = None
) -> LoadedImage:
    """`load_image`'s rule, raising instead of warning: ImageLoadError says why the image cannot be read.

    The size is checked from the header, before any pixel is decoded (a decompression
    bomb is refused unread). `formats`: Pillow format names to accept (e.g. ("PNG",
    "JPEG")); None accepts every format Pillow opens. The service (`spacy_ita.serve`)
    checks uploads with it before they are queued."""
    try:
        return _load(source, max_pixels, formats)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as err:  # Pillow's own refusal, above twice its threshold
        raise ImageTooLarge(f"{err} (limit {max_pixels} pixels)") from None
    except Exception as err:  # noqa: BLE001 - decoders raise many types on bad input; none may stop a run
        raise ImageLoadError(f"{type(err).__name__}: {err}") from None


def describe_source(source: Any) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    return repr(str(source)) if isinstance(source, (str, PurePath)) else f"<{type(source).__name__}>"


def _load(source: Any, max_pixels: int, formats: Optional[Tuple[str, ...]] = None) -> LoadedImage:
    if isinstance(source, Image.Image):
        _check_size(source, max_pixels)
        raw = f"{source.mode}|{source.size}|".encode() + source.tobytes()
        return LoadedImage(to_rgb(_shrunk(source)), source_digest(raw, source))
    data = _read_bytes(source)
    with _pillow_limit(None):  # the header only
        image = Image.open(io.BytesIO(data), formats=formats)
    _check_size(image, max_pixels)
    digest = source_digest(data, image)
    decoded = _shrunk(image)  # decodes now: truncated and corrupt files fail here, not in a backend
    return LoadedImage(to_rgb(_upright(decoded)), digest)


@contextmanager
def _pillow_limit(max_pixels: Optional[int]) -> Iterator[None]:
    """Pillow refuses images past twice its MAX_IMAGE_PIXELS in `Image.open`, before our
    configurable limit could apply: set its limit to `max_pixels` (None: none, for
    `Image.open`, which reads the header only; `_check_size` follows) inside the block."""
    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings():
        # We enforce our own pixel limit, with a clearer message.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        before = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


def _shrunk(image: Image.Image, limit: int = DOWNSCALE_PIXELS) -> Image.Image:
    """The decoded image, shrunk to at most `limit` pixels (aspect kept) when larger.
    A JPEG is decoded at a reduced scale by its decoder (`draft`) first."""
    width, height = image.size
    if width * height <= limit:
        image.load()
        return image
    scale = (limit / (width * height)) ** 0.5
    target = (max(1, int(width * scale)), max(1, int(height * scale)))
    if image.format == "JPEG":
        image.draft(image.mode, target)  # the smallest DCT scale still at least `target`
    with _pillow_limit(width * height):  # within max_pixels: checked before
        image.load()
        exif = image.getexif()
        shrunk = image.resize(target, Image.Resampling.LANCZOS) if image.size != target else image
    if exif:
        shrunk.info["exif"] = exif.tobytes()  # keep the orientation for `_upright`
    logger.info("Image of %dx%d pixels read at %dx%d (more than %d pixels)", width, height, *target, limit)
    return shrunk


# Bumped when what a transparent image becomes changes: results cached under the
# former rule (a white background for every image) are then not reused.
TRANSPARENCY_RULE = b"|transparent:contrasting-background"


def source_digest(data: bytes, image: Image.Image) -> str:
    """sha256 of the source bytes; of the bytes and `TRANSPARENCY_RULE` for an image with transparency."""
    return hashlib.sha256(data + TRANSPARENCY_RULE if has_transparency(image) else data).hexdigest()


def has_transparency(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _read_bytes(source: Any) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, PurePath)):
        if isinstance(source, str) and _URL.match(source):
            raise ImageLoadError("it is a URL; images are never fetched, download them and pass local paths")
        path = Path(source)
        if not path.exists():
            raise ImageLoadError("file not found")
        if not path.is_file():
            raise ImageLoadError("not a regular file (a directory?)")
        data = path.read_bytes()
    else:
        raise ImageLoadError(f"unsupported type {type(source).__name__}; expected a path, bytes or a PIL image")
    if not data:
        raise ImageLoadError("empty (zero bytes)")
    return data


def _check_size(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{width}x{height} pixels exceeds the limit of {max_pixels} (possible decompression bomb; "
            "the image_aligner's max_image_pixels sets it)"
        )
    if width == 0 or height == 0:
        raise ImageLoadError(f"no pixels ({width}x{height})")


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (phone photos); a broken EXIF block is not worth losing the image."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """The first frame as 8-bit RGB; transparency becomes a background that contrasts
    with what is visible (`contrasting_background`), so white text on a transparent
    sticker stays as readable for OCR as black text does."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return _to_8bit(image).convert("RGB")
    if has_transparency(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, contrasting_background(rgba))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def contrasting_background(rgba: Image.Image) -> tuple:
    """Black behind mostly light visible pixels, else white (also for a wholly transparent image).

    Mostly light: their mean luminance (ITU-R 601 luma, Pillow's "L"), each pixel
    weighted by its opacity, is above mid-grey. Text, logos and stickers on a
    transparent background are drawn in one light or one dark colour."""
    alpha = numpy.asarray(rgba.getchannel("A"), dtype=numpy.float64)
    if not alpha.any():
        return WHITE
    luma = numpy.asarray(rgba.convert("RGB").convert("L"), dtype=numpy.float64)
    return BLACK if (luma * alpha).sum() / alpha.sum() > 127.5 else WHITE


def _to_8bit(image: Image.Image) -> Image.Image:
    """Pillow's own conversion clips 16/32-bit values at 255; scale them instead."""
    values = numpy.asarray(image, dtype=numpy.float64)
    top = values.max(initial=0.0)
    if image.mode.startswith("I;16") or 255 < top <= 65535:
        top = 65535.0
    scale = 255.0 / top if top > 255 else 1.0
    return Image.fromarray(numpy.clip(values * scale, 0, 255).astype(numpy.uint8))
