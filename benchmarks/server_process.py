"""`python -m spacy_ita serve` in a subprocess on 127.0.0.1 and a free port, for the load
benchmark (bench_serve.py) and the service's tests (tests/serve/serve_support.py)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    """Poll `check()` until it returns a truthy value, at most `timeout` seconds; TimeoutError after."""
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
    """`python -m spacy_ita serve MODEL --port P ...` in a subprocess (with `--code code` when
    given: e.g. model-free image backends); its log in `log_path`. Raises RuntimeError when the
    server exits before it is ready, TimeoutError when it is not ready within `ready_timeout` s."""

    def __init__(
        self,
        model: str,
        *args: str,
        log_path: Path,
        code: Optional[Path] = None,
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


def rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss
