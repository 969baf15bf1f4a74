"""What one request may send, and the check of each limit (light: the CLI reads the defaults).

Every limit is a `ServeLimits` field and a `serve` option of the same name
(`--max-body-bytes`, ...); a request over one is refused with 413 and an answer
naming it (`LimitExceeded.limit`). An image is checked from its header before a
pixel is decoded (`aligners.images.read_image`), so a decompression bomb (a
20000x20000 PNG of a few KB) costs the server nothing.
"""

import base64
import binascii
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

# Formats a browser or a phone sends (a phone's MPO opens as JPEG). Pillow opens many more (EPS through Ghostscript,
# among others): an upload is never handed to a decoder outside this list.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
_IN_MEMORY = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-fA-F]+>")
_DATA_URI = re.compile(r"^data:[\w.+/-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class ServeLimits:
    """Per-request limits. Sizes in bytes, pixels as width x height, text in characters."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_image_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # 48 MP phone photos are refused; ~120 MB once decoded as RGB
    max_text_chars: int = 10_000
    max_posts: int = 64
    body_timeout_s: float = 30.0  # the whole body must arrive within this (a slow client is cut off: 408)

    def settings(self) -> Dict[str, Any]:
        return asdict(self)


class RequestRefused(Exception):
    """A request the service answers with `status` and a JSON body {"error": code, "detail": detail, ...}."""

    def __init__(
        self, status: int, code: str, detail: str, headers: Optional[Dict[str, str]] = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra
        self.headers = headers

    def body(self) -> Dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


class LimitExceeded(RequestRefused):
    """413, naming the limit (its `serve` option) and its value."""

    def __init__(self, limit: str, value: int, detail: str) -> None:
        option = "--" + limit.replace("_", "-")
        super().__init__(413, "limit_exceeded", f"{detail} (limit {option} = {value})", limit=limit, value=value)


def check_text(text: Any, limits: ServeLimits, where: str = "text") -> str:
    if not isinstance(text, str) or not text.strip():
        raise RequestRefused(422, "invalid_post", f"{where}: a post needs a non-empty text string")
    if len(text) > limits.max_text_chars:
        raise LimitExceeded("max_text_chars", limits.max_text_chars, f"{where} has {len(text)} characters")
    return text


def check_posts_count(count: int, limits: ServeLimits) -> None:
    if count == 0:
        raise RequestRefused(422, "invalid_post", "posts: the list is empty")
    if count > limits.max_posts:
        raise LimitExceeded("max_posts", limits.max_posts, f"{count} posts in one request")


def decode_base64_image(value: Any, limits: ServeLimits, where: str = "image") -> bytes:
    """The bytes of a base64 string (a `data:` URI prefix is allowed); the size is checked before decoding.

    The value is only ever decoded as base64: a path or a URL is not valid base64 of
    an image, so nothing named in a request is opened or fetched."""
    if not isinstance(value, str):
        raise RequestRefused(422, "invalid_image", f"{where}: expected a base64 string")
    encoded = _DATA_URI.sub("", value.strip(), count=1)
    if len(encoded) // 4 * 3 > limits.max_image_bytes + 2:
        raise LimitExceeded(
            "max_image_bytes", limits.max_image_bytes, f"{where} is about {len(encoded) // 4 * 3} bytes"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestRefused(422, "invalid_image", f"{where}: not valid base64") from None
    return check_image_bytes(data, limits, where)


def check_image_bytes(data: bytes, limits: ServeLimits, where: str = "image") -> bytes:
    if not data:
        raise RequestRefused(422, "invalid_image", f"{where}: empty (zero bytes)")
    if len(data) > limits.max_image_bytes:
        raise LimitExceeded("max_image_bytes", limits.max_image_bytes, f"{where} is {len(data)} bytes")
    return data


def check_image_decodes(data: bytes, limits: ServeLimits, where: str = "image") -> None:
    """Refuse an image whose header claims more than `max_image_pixels` (before decoding it), that is
    not in `IMAGE_FORMATS`, or that does not decode (truncated, corrupt). CPU-bound: run it in a thread."""
    from ..aligners.images import ImageLoadError, ImageTooLarge, read_image  # Pillow: only when serving

    try:
        loaded = read_image(data, limits.max_image_pixels, formats=IMAGE_FORMATS)
    except ImageTooLarge as err:
        raise LimitExceeded("max_image_pixels", limits.max_image_pixels, f"{where}: {err}") from None
    except ImageLoadError as err:
        reason = _IN_MEMORY.sub("", str(err))  # Pillow names the buffer object: no use to a client
        accepted = ", ".join(IMAGE_FORMATS)
        raise RequestRefused(422, "invalid_image", f"{where} cannot be read ({accepted} accepted): {reason}") from None
    loaded.image.close()
