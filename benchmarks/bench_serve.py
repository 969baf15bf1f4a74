"""Load on `python -m spacy_ita serve`: K concurrent clients, a fixed number of requests.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_serve MODEL [--clients 8] [--requests 400]
        [--posts assets/demo/train.txt] [--images assets/demo/images] [--threads 1] [--processes 1]

For each server mode (batched: the default dynamic batching; unbatched: --max-batch-posts 1
--max-wait-ms 0) a server is started on 127.0.0.1 as a user starts it, and two runs go through
it: text-only posts, and the same posts with their images (base64 in the JSON). One post per
request; the posts and images come from an MNER file and its image folder (default: the
demo set). Per run: throughput (answered requests / wall time), latency p50/p95/p99 (ms, from
the client: queueing included), errors (answers other than 200, and connection failures), the
server's RSS (MB) before and after the run. Each run is bounded by --max-seconds. The clients
run in this process (threads): on a small machine they take CPU from the server, as real
clients on the same machine would.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import base64  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Optional  # noqa: E402

from benchmarks.results import Tables, add_json_option  # noqa: E402
from benchmarks.server_process import ServerProcess, rss_bytes  # noqa: E402
from benchmarks.table import cpu_model  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

MODES = {"batched": [], "unbatched": ["--max-batch-posts", "1", "--max-wait-ms", "0"]}


def load_posts(posts_file: Path, images_dir: Optional[Path], limit: int) -> List[Dict[str, Any]]:
    """[{text, image (base64) or None}] from an MNER file; images by `image_folder.index_images`."""
    from spacy_ita.data.mner_format import read_mner
    from spacy_ita.image_folder import index_images

    images = index_images(images_dir) if images_dir and images_dir.is_dir() else {}
    posts = []
    for record in itertools.islice(read_mner(posts_file), limit):
        path = images.get(record.image_id)
        image = base64.b64encode(path.read_bytes()).decode("ascii") if path else None
        posts.append({"text": " ".join(record.tokens), "image": image})
    if not posts:
        raise SystemExit(f"no posts in {posts_file}")
    return posts


def percentile(values: List[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_load(url: str, bodies: List[Dict[str, Any]], clients: int, requests: int, max_seconds: float):
    import httpx

    deadline = time.monotonic() + max_seconds

    def client(index: int):
        latencies, errors = [], 0
        with httpx.Client(timeout=120) as session:
            for number in range(index, requests, clients):
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                try:
                    ok = session.post(f"{url}/v1/entities", json=bodies[number % len(bodies)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
        return latencies, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    latencies = [lat for lats, _ in results for lat in lats]
    errors = sum(err for _, err in results)
    return {
        "done": len(latencies) + errors,
        "ok": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50": 1000 * percentile(latencies, 50),
        "p95": 1000 * percentile(latencies, 95),
        "p99": 1000 * percentile(latencies, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--posts", type=Path, default=REPO_ROOT / "assets" / "demo" / "train.txt")
    parser.add_argument("--images", type=Path, default=REPO_ROOT / "assets" / "demo" / "images")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per server process")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--modes", default="batched,unbatched")
    parser.add_argument("--code", default=None, help="--code for the server (custom components)")
    parser.add_argument("--warmup", type=int, default=16, help="requests before each measured run")
    parser.add_argument("--max-seconds", type=float, default=600, help="a run stops here, whatever is left")
    add_json_option(parser)
    args = parser.parse_args()

    posts = load_posts(args.posts, args.images, limit=200)
    text_only = [{"text": p["text"]} for p in posts]
    with_images = [{"text": p["text"], "image": p["image"]} for p in posts if p["image"]]
    payloads = {"text-only": text_only, "with images": with_images}
    rows = []
    for mode in args.modes.split(","):
        server_args = [*MODES[mode], "--threads", str(args.threads), "--processes", str(args.processes)]
        with tempfile.TemporaryDirectory() as tmp:
            server = ServerProcess(args.model, *server_args, code=args.code, log_path=Path(tmp) / "server.log")
            try:
                for payload, bodies in payloads.items():
                    if not bodies:
                        continue
                    run_load(server.url, bodies, args.clients, args.warmup, args.max_seconds)
                    before = server_rss(server)
                    result = run_load(server.url, bodies, args.clients, args.requests, args.max_seconds)
                    rows.append(
                        {"mode": mode, "payload": payload, **result, "rss0": before, "rss1": server_rss(server)}
                    )
                    print_row(rows[-1], header=len(rows) == 1)
            finally:
                server.stop()
    print()
    print(
        f"{args.clients} clients, {args.requests} requests per run (one post each), server: "
        f"{args.processes} process(es) x {args.threads} torch thread(s); CPU: {cpu_model()}, "
        f"{os.cpu_count()} logical CPUs; Python {platform.python_version()}"
    )
    tables = Tables("benchmarks.bench_serve")
    print_table(tables, rows, args.clients)
    tables.write(args.json, cpu=cpu_model(), clients=args.clients, processes=args.processes, threads=args.threads)


def server_rss(server: ServerProcess) -> float:
    """MB: the server process and its worker processes (--processes N)."""
    import psutil

    total = rss_bytes(server.pid)
    for child in psutil.Process(server.pid).children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def print_row(row: Dict[str, Any], header: bool) -> None:
    if header:
        print("progress: mode, payload, requests done, req/s", flush=True)
    print(f"  {row['mode']}, {row['payload']}: {row['done']} done, {row['rps']:.1f} req/s", flush=True)


def print_table(tables: Tables, rows: List[Dict[str, Any]], clients: int) -> None:
    header = ["server", "posts", "K", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    tables.start(header + ["RSS before MB", "RSS after MB"])
    for r in rows:
        tables.row(
            r["mode"],
            r["payload"],
            clients,
            r["done"],
            f"{r['rps']:.1f}",
            f"{r['p50']:.0f}",
            f"{r['p95']:.0f}",
            f"{r['p99']:.0f}",
            r["errors"],
            f"{r['rss0']:.0f}",
            f"{r['rss1']:.0f}",
        )


if __name__ == "__main__":
    main()
