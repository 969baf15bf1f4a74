"""Shared by the tests/serve modules (and benchmarks/bench_serve.py): images made in the test,
a server started as users start it (`python -m spacy_ita serve`, on 127.0.0.1 and a free port)
or in this process around any annotator, and bounded waits."""

import base64
import contextlib
import io
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Iterator, List, Optional

import httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
BATCH_SUPPORT = REPO / "tests" / "batch" / "batch_support.py"  # the model-free image backends (--code)
RED, BLUE = (255, 0, 0), (0, 0, 255)  # batch_support: red -> objects "red thing", blue -> OCR "PARIS"
HOST = "127.0.0.1"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    """Poll `check()` until it returns a truthy value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def is_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ServerProcess:
    """`python -m spacy_ita serve MODEL --port P ...` in a subprocess (with the test backends of
    tests/batch unless `code` is None); its log in `log_path`."""

    def __init__(
        self,
        model: str,
        *args: str,
        log_path: Path,
        code: Optional[Path] = BATCH_SUPPORT,
        env: Optional[dict] = None,
        ready_timeout: float = 240,
    ):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "spacy_ita", "serve", model, "--port", str(self.port)]
        command += (["--code", str(code)] if code else []) + ["--log-level", "warning", *args]
        environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=environment)
        try:
            wait_until(lambda: self.process.poll() is not None or is_ready(self.url), ready_timeout, "server ready")
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): {self.log()}")
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()


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


def rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def entity_tuples(row) -> List[tuple]:
    return [(e["text"], e["label"], e["start_char"], e["end_char"]) for e in row["entities"]]
