"""`python -m benchmarks.bench_serve` end to end on the tiny pipeline: both server modes, both payloads,
a table row each with no error."""

import os
import subprocess
import sys

from serve_support import BATCH_SUPPORT, RED, REPO, png_bytes


def test_bench_serve_prints_its_table(served_model, tmp_path):
    # Posts and images made here: the demo's images are built by `spacy project run`, not checked in.
    posts, images = tmp_path / "posts.txt", tmp_path / "images"
    images.mkdir()
    lines = []
    for i, name in enumerate(("Obama", "Paris", "Messi")):
        lines += [f"IMGID:post_{i}", f"{name}\tB-PER", "in\tO", "London\tB-LOC", ""]
        (images / f"post_{i}.png").write_bytes(png_bytes(RED))
    posts.write_text("\n".join(lines) + "\n", encoding="utf8")
    command = [sys.executable, "-m", "benchmarks.bench_serve", served_model, "--code", str(BATCH_SUPPORT)]
    command += ["--posts", str(posts), "--images", str(images)]
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
