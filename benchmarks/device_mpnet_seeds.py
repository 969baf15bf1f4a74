"""Seeds of a bench_real_data row run side by side on one GPU within one wall-clock budget.

A GPU lent for a few minutes a call fits several short runs at once, not one after the other:
`run` starts one `python -m benchmarks.bench_real_data` per system and seed (the row's command
with another seed, one --output-dir for all), kills what is still going --budget-s seconds after
it began (less a reserve for the table), then tabulates the finished runs with --table-only and
writes to --out: table.md (with a note that the runs shared the GPU: their s/epoch and docs/s
are side-by-side figures), results.json, device.log (the steps, nvidia-smi every 30 s, each
run's end) and logs/<system>-seed<N>.log (its output and the tail of its train.log).
The defaults are the all-mpnet-base-v2 GPU row's seeds 1 and 2 (BENCHMARKS.md, issue #23).

    python -m benchmarks.device_mpnet_seeds files --data-dir ../shared/data   # what the runs read
    python -m benchmarks.device_mpnet_seeds run --encoder DIR --data-dir DIR --site DIR --out $OUT
    # a check of the procedure on the CPU (tests/test_device_mpnet_seeds.py):
    python -m benchmarks.device_mpnet_seeds run --smoke --systems ita_text --seeds 1 --out /tmp/out

Getting the encoder, the data and the packages onto a machine without spaCy or internet, within
one host's transfer limits, is a runbook, not code: docs/device-seeds.md.

Top-level imports are the standard library's alone: on the device this module starts before the
packages of --site are on the path.
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parent.parent
BENCH = "benchmarks.bench_real_data"

# The runs: the row's seed-0 command, seeds 1 and 2.
DATASET = "twitter2015"
SYSTEMS = ("ita_all", "ita_text")
SEEDS = (1, 2)
EPOCHS = 3
TABLE_RESERVE_S = 45  # of --budget-s, kept for --table-only and the copies into --out


def data_files(data_dir: Path) -> List[str]:
    """The files under `data_dir` that the runs read (benchmarks.systems: the dataset's splits and
    the systems' context sources), relative to it. SystemExit when one is missing."""
    from benchmarks.systems import DATASETS, context_sources

    args = argparse.Namespace(data_dir=Path("."))
    names = [DATASETS[DATASET][split] for split in ("train", "valid", "test")]
    for system in SYSTEMS:
        sources = context_sources(args, DATASET, system)
        names += [str(Path(p)) for p in sources["contexts"] or []]
        if sources["captions"]:
            names.append(str(Path(sources["captions"])))
    files = []
    for name in dict.fromkeys(names):
        path = data_dir / name
        if path.is_dir():
            files += [p.relative_to(data_dir).as_posix() for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.is_file():
            files.append(name)
        else:
            raise SystemExit(f"{path} not found: --data-dir must hold the shared data")
    return files


def run_commands(
    encoder: str, data_dir: Path, output_dir: Path, gpu_id: int, threads: int, systems, seeds, smoke: bool = False
) -> Dict[str, List[str]]:
    """{name: bench_real_data command} of each run: the seed-0 command, another seed."""
    common = ["--encoder", encoder, "--datasets", DATASET, "--data-dir", str(data_dir)]
    common += ["--output-dir", str(output_dir), "--threads", str(threads), "--gpu-id", str(gpu_id)]
    common += ["--smoke"] if smoke else ["--epochs", str(EPOCHS)]
    return {
        f"{system}-seed{seed}": [sys.executable, "-m", BENCH, *common, "--systems", system, "--seeds", str(seed)]
        for system in systems
        for seed in seeds
    }


def table_command(commands: Dict[str, List[str]], systems, seeds) -> List[str]:
    """bench_real_data --table-only over the runs of `commands` (their options, every system and seed)."""
    cmd = list(next(iter(commands.values())))
    for flag, values in (("--systems", systems), ("--seeds", seeds)):
        cmd[cmd.index(flag) + 1] = ",".join(str(v) for v in values)
    return cmd + ["--table-only"]


def launch(
    commands: Dict[str, List[str]], logs: Path, deadline: float, env: Dict[str, str], log, sample_s: float = 30.0
) -> Dict[str, Dict[str, Any]]:
    """Start every command at once (own process group, output to logs/<name>.log); wait until all
    end or `deadline` (time.monotonic()), then kill what is left. {name: rc, seconds, killed}."""
    logs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    procs = {}
    for name, cmd in commands.items():
        handle = (logs / f"{name}.log").open("w", encoding="utf8")
        handle.write("$ " + shlex.join(cmd) + "\n")
        handle.flush()
        procs[name] = (
            subprocess.Popen(
                cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=str(REPO), env=env, start_new_session=True
            ),
            handle,
        )
        log(f"started {name} (pid {procs[name][0].pid})")
    status: Dict[str, Dict[str, Any]] = {}
    next_sample = start
    while len(status) < len(procs):
        now = time.monotonic()
        for name, (proc, handle) in procs.items():
            if name not in status and proc.poll() is not None:
                handle.close()
                status[name] = {"rc": proc.returncode, "seconds": round(now - start, 1), "killed": False}
                log(f"{name} ended: exit {proc.returncode} after {now - start:.0f} s")
        if len(status) == len(procs):
            break
        if now >= deadline:
            for name, (proc, handle) in procs.items():
                if name not in status:
                    _kill_group(proc)
                    handle.close()
                    status[name] = {"rc": proc.returncode, "seconds": round(now - start, 1), "killed": True}
                    log(f"{name} killed at the budget, after {now - start:.0f} s: unfinished")
            break
        if now >= next_sample:
            log(gpu_sample())
            next_sample = now + sample_s
        time.sleep(min(1.0, max(0.05, deadline - now)))
    return status


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the run's process group (bench_real_data and its `spacy train`), SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def gpu_sample() -> str:
    query = "--query-gpu=utilization.gpu,memory.used,memory.total"
    try:
        out = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
        return "nvidia-smi: " + (out.stdout.strip() or out.stderr.strip())
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"nvidia-smi: not available ({err})"


def side_by_side_note(commands: Dict[str, List[str]], status: Dict[str, Dict[str, Any]], threads: int) -> str:
    names = ", ".join(f"`{n}`" for n in commands)
    unfinished = [n for n, s in status.items() if s["killed"] or s["rc"] != 0]
    lines = [
        f"Note: the runs {names} trained side by side, one process each with {threads} CPU threads,"
        " on one GPU: their s/epoch, peak RSS and docs/s are figures under that sharing, not a run's alone.",
        "Runs' wall time: " + ", ".join(f"{n} {s['seconds']:.0f} s" for n, s in status.items()) + ".",
    ]
    if unfinished:
        lines.append(f"Unfinished (killed at the budget or failed; not in the table): {', '.join(unfinished)}.")
    return "\n".join(lines) + "\n\n"


def run(args) -> int:
    start = time.monotonic()
    out = args.out
    (out / "logs").mkdir(parents=True, exist_ok=True)
    device_log = (out / "device.log").open("a", encoding="utf8")

    def log(message: str) -> None:
        line = f"[{time.monotonic() - start:6.1f} s] {message}"
        print(line, flush=True)
        device_log.write(line + "\n")
        device_log.flush()

    encoder = "tiny-bert-2l" if args.smoke else args.encoder
    # The checkout's spacy_ita and benchmarks first; then --site (the packages installed for the runs).
    pythonpath = [str(REPO), *([str(args.site)] if args.site else []), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(p for p in pythonpath if p))
    # No check run first: a run that cannot import spaCy or reach the GPU ends in seconds, its log says why
    # (and each run's log names the versions and the GPU: bench_real_data's machine line).
    log(gpu_sample())
    output_dir = args.work / ("runs-smoke" if args.smoke else "runs")
    commands = run_commands(
        encoder, args.data_dir, output_dir, args.gpu_id, args.threads, args.systems, args.seeds, smoke=args.smoke
    )
    deadline = start + args.budget_s - TABLE_RESERVE_S
    log(f"{len(commands)} runs side by side, killed if still going at {deadline - start:.0f} s")
    status = launch(commands, args.work / "logs", deadline, env, log)
    table = table_command(commands, args.systems, args.seeds)
    left = max(10.0, start + args.budget_s - time.monotonic())
    tabulated = False  # each run also writes table.md of its own alone: only --table-only's goes to --out
    try:
        tab = subprocess.run(table, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=left)
        tabulated = tab.returncode == 0
        log(
            f"table-only: exit {tab.returncode}" + ("" if tabulated else ": " + tab.stdout[-1500:] + tab.stderr[-1500:])
        )
    except subprocess.TimeoutExpired:
        log(f"table-only did not end within {left:.0f} s")
    if tabulated:
        note = side_by_side_note(commands, status, args.threads)
        (out / "table.md").write_text(note + (output_dir / "table.md").read_text(encoding="utf8"), encoding="utf8")
        shutil.copy2(output_dir / "results.json", out / "results.json")
    for name in commands:
        system, seed = name.rsplit("-seed", 1)
        text = (args.work / "logs" / f"{name}.log").read_text(encoding="utf8", errors="replace")
        train_log = output_dir / DATASET / system / f"seed{seed}" / "train.log"
        if train_log.exists():
            tail = train_log.read_text(encoding="utf8", errors="replace").splitlines()[-80:]
            text += f"\n---- {train_log} (last {len(tail)} lines)\n" + "\n".join(tail) + "\n"
        (out / "logs" / f"{name}.log").write_text(text, encoding="utf8")
    finished = sum(not s["killed"] and s["rc"] == 0 for s in status.values())
    log(f"done: {finished} of {len(commands)} runs finished; {time.monotonic() - start:.0f} s in all")
    device_log.close()
    return 0 if finished == len(commands) else 1


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = REPO.parent / "shared" / "data"
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("files", help="print the files under --data-dir that the runs read, one a line")
    p.add_argument("--data-dir", type=Path, default=data, help="default ../shared/data")
    p = sub.add_parser("run", help="run the seeds side by side within --budget-s, tabulate into --out")
    p.add_argument("--encoder", default="all-mpnet-base-v2", help="name or folder (default all-mpnet-base-v2)")
    p.add_argument("--data-dir", type=Path, default=data, help="the shared data (default ../shared/data)")
    p.add_argument("--site", type=Path, help="a folder of packages for the runs (pip install --target), if any")
    p.add_argument("--work", type=Path, default=Path("training/device-seeds"), help="the runs' folder")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "training/device-seeds/out"))
    p.add_argument("--budget-s", type=float, default=540, help="wall seconds for all of `run` (default 540)")
    p.add_argument("--threads", type=int, default=3, help="CPU threads per run (bench_real_data --threads; default 3)")
    p.add_argument("--gpu-id", type=int, help="CUDA GPU (default 0; with --smoke -1: the CPU)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"default {','.join(SYSTEMS)}")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), help=f"default {','.join(map(str, SEEDS))}")
    p.add_argument("--smoke", action="store_true", help="a CPU check: tiny encoder, bench_real_data --smoke")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    if args.command == "run":
        args.systems = [s for s in args.systems.split(",") if s]
        args.seeds = [int(s) for s in args.seeds.split(",") if s]
        args.out, args.work = args.out.resolve(), args.work.resolve()
        if args.gpu_id is None:
            args.gpu_id = -1 if args.smoke else 0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "files":
        print("\n".join(data_files(args.data_dir)))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
