"""Shared by the tests/serve modules: images made in the test, a server started as users start it
(`python -m spacy_ita serve`, on 127.0.0.1 and a free port: benchmarks/server_process.py, which
the load benchmark uses too) or in this process around any annotator, and bounded waits."""

import base64
import contextlib
import io
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator, List, Optional

from PIL import Image

from benchmarks import server_process
from benchmarks.server_process import HOST, rss_bytes, wait_until  # noqa: F401  (the tests' names)

REPO = Path(__file__).resolve().parents[2]
BATCH_SUPPORT = REPO / "tests" / "batch" / "batch_support.py"  # the model-free image backends (--code)
RED, BLUE = (255, 0, 0), (0, 0, 255)  # batch_support: red -> objects "red thing", blue -> OCR "PARIS"


def png_bytes(colour=BLUE, size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(colour=BLUE, size=(64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG header claiming width x height pixels, in a few hundred bytes (one compressed
    row: a real decoder would ask for width x height x 3 bytes before finding the data short)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * width * 3)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ServerProcess(server_process.ServerProcess):
    """The benchmark's `serve` subprocess, with the test backends of tests/batch unless `code` is None."""

    def __init__(self, model: str, *args: str, code: Optional[Path] = BATCH_SUPPORT, **kwargs):
        super().__init__(model, *args, code=code, **kwargs)


@contextlib.contextmanager
def app_server(app) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread of this process, on 127.0.0.1 and a free port; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 60, "in-process server started", interval=0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def entity_tuples(row) -> List[tuple]:
    return [(e["text"], e["label"], e["start_char"], e["end_char"]) for e in row["entities"]]
