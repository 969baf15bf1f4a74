"""benchmarks/bench_serve.py end to end on the tiny pipeline: both server modes, both payloads,
a table row each with no error."""

import os
import subprocess
import sys

from serve_support import BATCH_SUPPORT, REPO


def test_bench_serve_prints_its_table(served_model):
    command = [sys.executable, str(REPO / "benchmarks" / "bench_serve.py"), served_model, "--code", str(BATCH_SUPPORT)]
    command += ["--requests", "12", "--clients", "3", "--warmup", "3", "--max-seconds", "120"]
    proc = subprocess.run(
        command, cwd=str(REPO), env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ") and "req/s" not in line]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        ("batched", "text-only"),
        ("batched", "with images"),
        ("unbatched", "text-only"),
        ("unbatched", "with images"),
    ]
    assert all(r[3].strip() == "12" and r[8].strip() == "0" for r in rows), proc.stdout
