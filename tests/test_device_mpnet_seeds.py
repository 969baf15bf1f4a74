"""benchmarks.device_mpnet_seeds: the files the runs read, the four runs' commands, the budget
that kills unfinished runs, and the `run` path on the CPU."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import device_mpnet_seeds as dms

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_the_runs_read_the_dataset_and_the_context_sources_of_their_systems(shared_data):
    assert dms.data_files(shared_data) == [
        "twitter2015/train.txt",
        "twitter2015/valid.txt",
        "twitter2015/test.txt",
        "contexts/blip2-captions.jsonl",
        "contexts/owl-descriptions.jsonl",
        "contexts/pgim-knowledge/twitter2015/test.jsonl",
        "contexts/pgim-knowledge/twitter2015/train.jsonl",
        "contexts/pgim-knowledge/twitter2015/valid.jsonl",
    ]


def test_four_runs_are_the_seed0_command_with_seeds_1_and_2(tmp_path):
    from benchmarks import bench_real_data  # pins the threads of this process: imported when needed

    data, out = tmp_path / "data", tmp_path / "runs"
    data.mkdir()
    commands = dms.run_commands("/enc/mpnet-fp16", data, out, 0, 3, dms.SYSTEMS, dms.SEEDS)
    assert list(commands) == ["ita_all-seed1", "ita_all-seed2", "ita_text-seed1", "ita_text-seed2"]
    run_dirs = set()
    for name, cmd in commands.items():
        assert cmd[:3] == [sys.executable, "-m", "benchmarks.bench_real_data"]
        args = bench_real_data.parse_args(cmd[3:])
        assert (args.datasets, args.epochs, args.gpu_id, args.threads) == (["twitter2015"], 3, 0, 3)
        assert (args.encoder, args.data_dir, args.output_dir) == ("/enc/mpnet-fp16", data, out)
        assert [f"{args.systems[0]}-seed{args.seeds[0]}"] == [name] and len(args.systems) == len(args.seeds) == 1
        run_dirs.add(args.output_dir / args.datasets[0] / args.systems[0] / f"seed{args.seeds[0]}")
    assert len(run_dirs) == 4  # one --output-dir, a run folder each
    table = bench_real_data.parse_args(dms.table_command(commands, dms.SYSTEMS, dms.SEEDS)[3:])
    assert table.table_only and (table.systems, table.seeds) == (["ita_all", "ita_text"], [1, 2])
    assert (table.encoder, table.epochs, table.gpu_id, table.threads, table.output_dir) == (
        "/enc/mpnet-fp16",
        3,
        0,
        3,
        out,
    )


def test_runs_still_going_at_the_budget_are_killed_and_reported(tmp_path):
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    commands = {
        "quick": [sys.executable, "-c", "print('done')"],
        "slow": [sys.executable, "-c", child + " print('pid', flush=True); time.sleep(120)"],
    }
    lines = []
    start = time.monotonic()
    status = dms.launch(commands, tmp_path / "logs", start + 4, dict(os.environ), lines.append, sample_s=3600)
    assert time.monotonic() - start < 30
    assert status["quick"]["rc"] == 0 and not status["quick"]["killed"]
    assert status["slow"]["killed"] and status["slow"]["rc"] != 0
    assert any("slow killed at the budget" in line for line in lines)
    log = (tmp_path / "logs" / "quick.log").read_text().splitlines()
    assert log[0].startswith(f"$ {sys.executable} -c") and log[1:] == ["done"]
    note = dms.side_by_side_note(commands, status, 3)
    assert "side by side" in note and "Unfinished (killed at the budget or failed; not in the table): slow." in note


@pytest.mark.slow
def test_run_path_on_the_cpu(shared_data, tmp_path):
    """`run --smoke`: the same launch, table and copies into --out, with bench_real_data's smoke
    limits and tiny encoder on the CPU. Slow: one
    smoke training and its evaluations, 2.5 to 3.6 min on a loaded 2-core machine (`pytest -m slow`)."""
    out = tmp_path / "out"
    args = ["run", "--smoke", "--systems", "ita_text", "--seeds", "1", "--work", str(tmp_path / "work")]
    args += ["--data-dir", str(shared_data), "--out", str(out), "--threads", "1", "--budget-s", "600"]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.device_mpnet_seeds", *args],
        cwd=str(REPO_ROOT),
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "device.log",
        "logs/ita_text-seed1.log",
        "results.json",
        "table.md",
    ]
    table = (out / "table.md").read_text()
    assert table.startswith("Note: the runs `ita_text-seed1` trained side by side")
    assert "| twitter2015 | ita_text |" in table and "--table-only" in table
    results = json.loads((out / "results.json").read_text())
    assert [(r["system"], r["seed"]) for r in results["runs"]] == [("ita_text", 1)]
    log = (out / "logs" / "ita_text-seed1.log").read_text()
    assert "benchmarks.bench_real_data" in log and "train.log (last" in log
    assert "1 of 1 runs finished" in (out / "device.log").read_text()
