"""`serve --processes 2`: two processes, each with its own pipeline, accept on one port; the
service goes on answering while one of them is killed and replaced."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serve_support import ServerProcess, wait_until

psutil = pytest.importorskip("psutil")
WAIT = 60


def workers(server):
    """The live worker processes uvicorn started (its supervisor's children, not the resource
    tracker). A killed worker stays a zombie until the supervisor reaps it: not a worker, and
    its command line cannot be read (psutil.ZombieProcess), nor that of one gone meanwhile."""
    live = []
    for child in psutil.Process(server.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "multiprocessing.resource_tracker" not in " ".join(
                child.cmdline()
            ):
                live.append(child)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return live


def test_two_processes_share_the_port(served_model, tmp_path):
    server = ServerProcess(served_model, "--processes", "2", log_path=tmp_path / "server.log")
    try:
        pids = wait_until(lambda: [p.pid for p in workers(server)] if len(workers(server)) == 2 else None, WAIT, "2")

        def send(i):
            """A post, again after Retry-After while the process that took it still loads (bounded)."""
            for _ in range(30):
                answer = httpx.post(f"{server.url}/v1/entities", json={"text": "I love Paris"}, timeout=WAIT)
                if answer.status_code != 503:
                    break
                time.sleep(min(int(answer.headers.get("retry-after", "1")), 2))
            return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(send, range(40))) == [200] * 40
        busy = [psutil.Process(pid).cpu_times().user for pid in pids]
        assert all(t > 0 for t in busy)

        os.kill(pids[0], signal.SIGKILL)  # one process dies: the other answers, and it is replaced
        answered = 0
        deadline = time.monotonic() + WAIT
        while answered < 10 and time.monotonic() < deadline:
            try:
                answered += send(0) == 200
            except httpx.HTTPError:
                pass
        assert answered == 10
        wait_until(lambda: len(workers(server)) == 2 and pids[0] not in [p.pid for p in workers(server)], WAIT, "new")
    finally:
        server.stop()
    assert server.process.returncode is not None
