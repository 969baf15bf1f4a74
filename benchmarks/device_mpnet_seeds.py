"""Seeds 1 and 2 of the all-mpnet-base-v2 GPU row (issue #23, part 3), prepared for a lent GPU.

BENCHMARKS.md, "all-mpnet-base-v2 with every kind, on a GPU", has seed 0 of `ita_all` and
`ita_text` on Twitter-2015 (3 epochs, one H200). This script runs seeds 1 and 2 of both
on such a machine -- one NVIDIA H200, 16 cores, Python 3.12 with torch and cupy, no
spaCy, no internet -- inside one device call of at most 10 minutes, so that the row has
three seeds. It runs nothing new: each run is `benchmarks/bench_real_data.py` with the
seed-0 options, and the table is its `--table-only`.

Procedure
---------
1. Here, in the checkout that the device tool sends (the session's own checkout, not a
   helper's worktree), with all-mpnet-base-v2 installed (`bash install.sh --mpnet`):

       python benchmarks/device_mpnet_seeds.py stage

   It builds the ignored folder `.device/` and adds `/.device/` to the git dir's
   `info/exclude` (the common one for a worktree), so that nothing in it travels unless a
   call names it in `carry`. It holds one payload, a tar archive of
     - `encoder/all-mpnet-base-v2-fp16`: a float16 copy of the installed all-mpnet-base-v2
       (`spacy_ita.resources.resolve_model`), ~219 MB instead of 438. spacy_ita loads it
       back into float32 (`AutoModel.from_pretrained` with the config's float32 dtype);
       stage checks that, and how far its hidden states move (BENCHMARKS: at most 1.2e-3);
     - `wheels/`: what the training path imports and that machine lacks or has at an
       incompatible version (WHEELS: spaCy and its compiled helpers, pydantic,
       spacy-transformers 1.4.0, transformers 4.53.2, tokenizers 0.21, huggingface-hub
       0.x), at this environment's versions, for CPython 3.12 manylinux; and a wheel of
       this checkout (spacy_ita's entry points: spaCy finds `ita_ner` through them);
     - `data/`: the files the runs read (bench_systems: the Twitter-2015 splits, and the
       BLIP-2 captions, mPLUG-Owl descriptions and PGIM knowledge `ita_all` reads),
   gzipped and cut into parts of at most --part-mib MiB (default 55), one folder each:
   `.device/part1/`, `.device/part2/`, ... every one with the manifest (the size and
   sha256 of every part and of the whole payload). A call takes at most 64 MiB, the
   checkout's own files included (stage checks the sum), so one part travels per call.
   It prints the device calls, in order.

2. The device calls (the `run` tool), one after the other, each within the 30 s that the
   machine stays warm after a call (else it goes back, with the parts sent so far):
   calls 1 .. N-1 carry `.device/partK` and only check what has arrived
   (`check --upto K`); call N carries the last part and runs

       PYTHONUNBUFFERED=1 python3 benchmarks/device_mpnet_seeds.py run --out $OUT

   `run`: checks every part against the manifest, joins them (sha256 of the whole),
   unpacks the payload under `.device/work/`, installs the wheels
   (`pip install --no-index --no-deps --target`), then starts the four runs (`ita_all`,
   `ita_text` x seeds 1, 2) side by side on the one GPU, each with --threads CPU threads,
   one --output-dir for all (as bench_real_data allows).
   A run still going --budget-s seconds (default 540) after `run` began, less a reserve
   for the table, is killed and reported. Then `--table-only` tabulates the finished runs.
   Back in $OUT (8 files at most): table.md (with a note that the runs shared the GPU:
   their s/epoch and docs/s are side-by-side figures), results.json, device.log (the steps,
   nvidia-smi every 30 s, each run's end), logs/<system>-seed<N>.log (its bench output,
   which names the versions and the GPU, and the tail of its train.log).

Staged here (2026-12-01): 268.8 MiB gzipped (before: encoder 209.5 MiB, wheels 72.2,
data 13.3), in 5 parts (4 x 55.0 MiB + 48.8), the checkout 0.9 MiB: 5 calls.

Device time (estimated, not measured: no GPU was lent when this was written): the
machine's start (1-2 min), N-1 part calls of one transfer each (~55 MiB; the transfer
rate is not known here), and the run call. Seed 0 alone took 63.3 s/epoch (`ita_all`)
and 34.9 s/epoch (`ita_text`), ~4 min with evaluations for `ita_all`: the four one after
the other take over 11 min (2 x ~4 min, and 2 x 3 x 34.9 s of `ita_text` training alone).
Side by side they share the GPU; the run call is bounded by --budget-s (540 s, the table
included), within the 600 s of one command. The whole must stay
within the 15 min of one session: start only with all of it left.

On a CPU, for a check of the procedure (tests/test_device_mpnet_seeds.py):

    python benchmarks/device_mpnet_seeds.py run --smoke --systems ita_text --seeds 1 --out /tmp/out

(--smoke: nothing staged; bench_real_data's --smoke limits and tiny encoder, on the CPU,
reading ../shared/data.)

Top-level imports are the standard library's alone: on the device this file runs before
the wheels that bring spaCy are installed.
"""

import argparse
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "bench_real_data.py"
STAGE = REPO / ".device"
MANIFEST = "manifest.json"
PAYLOAD = "payload.tar.gz"

MIB = 1 << 20
CALL_LIMIT = 64 * MIB  # what one device call takes: the checkout's files and the carried paths
CALL_MARGIN = 2 * MIB  # room for files that appear between stage and the calls
DEFAULT_PART_MIB = 55

# The runs: BENCHMARKS' seed-0 command, seeds 1 and 2.
DATASET = "twitter2015"
SYSTEMS = ("ita_all", "ita_text")
SEEDS = (1, 2)
EPOCHS = 3
ENCODER = "all-mpnet-base-v2"
ENCODER_DIR = "encoder/all-mpnet-base-v2-fp16"  # inside the payload
TABLE_RESERVE_S = 45  # of --budget-s, kept for --table-only and the copies into $OUT

# Distributions the training path imports (`python -X importtime` over a
# `bench_real_data --smoke --systems ita_all,ita_text` run) that the device's image lacks
# or holds at a version this environment's pins exclude (transformers 5, tokenizers 0.23,
# huggingface-hub 1.x; spacy-transformers 1.4 needs transformers < 4.53.3); typer, click
# (spaCy needs >= 8.2.1; the image's version is not known here) and typing-extensions at the
# versions spaCy and pydantic were tested with here. Versions:
# this environment's (importlib.metadata), so the device runs what the tests run here.
WHEELS = (
    "spacy",
    "spacy-legacy",
    "spacy-loggers",
    "thinc",
    "blis",
    "cymem",
    "murmurhash",
    "preshed",
    "srsly",
    "catalogue",
    "confection",
    "wasabi",
    "weasel",
    "typer",
    "click",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
    "typing-extensions",
    "spacy-transformers",
    "spacy-alignments",
    "transformers",
    "tokenizers",
    "huggingface-hub",
)
# pip's tags for the device (CPython 3.12, x86-64 Linux, glibc 2.35 or later).
DEVICE_PLATFORMS = (
    "manylinux_2_35_x86_64",
    "manylinux_2_34_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
DEVICE_PYTHON = "3.12"


# --- parts: split, check, join (standard library only) ----------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(16 * MIB):
            digest.update(block)
    return digest.hexdigest()


def split_file(source: Path, stage: Path, part_bytes: int) -> List[Dict[str, Any]]:
    """Cut `source` into `stage`/part1/<name>.001, part2/<name>.002, ... of at most
    `part_bytes` each; their manifest entries (path relative to `stage`, bytes, sha256)."""
    if part_bytes <= 0:
        raise ValueError("part_bytes must be positive")
    parts = []
    with open(source, "rb") as handle:
        index = 1
        while chunk := handle.read(part_bytes):
            folder = stage / f"part{index}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{source.name}.{index:03d}"
            path.write_bytes(chunk)
            parts.append({"path": path.relative_to(stage).as_posix(), "bytes": len(chunk), "sha256": _sha256(chunk)})
            index += 1
    return parts


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(stage: Path, manifest: Dict[str, Any]) -> None:
    """The manifest in every part's folder: whichever parts have arrived, it is there."""
    for part in manifest["parts"]:
        (stage / part["path"]).parent.joinpath(MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf8")


def read_manifest(stage: Path) -> Dict[str, Any]:
    copies = sorted(stage.glob(f"part*/{MANIFEST}"))
    if not copies:
        raise SystemExit(f"no {MANIFEST} under {stage}/part*/: no part has arrived (or stage was not run)")
    manifests = {c.read_text(encoding="utf8") for c in copies}
    if len(manifests) > 1:
        raise SystemExit(f"the parts under {stage} come from different stagings: stage again and send them all")
    return json.loads(manifests.pop())


def check_parts(stage: Path, manifest: Dict[str, Any], upto: Optional[int] = None) -> List[str]:
    """Problems with parts 1..upto (all by default): missing, wrong size or sha256. Empty: all good."""
    problems = []
    for index, part in enumerate(manifest["parts"][:upto], start=1):
        path = stage / part["path"]
        if not path.is_file():
            problems.append(f"part {index} missing ({path})")
        elif path.stat().st_size != part["bytes"] or sha256_file(path) != part["sha256"]:
            problems.append(f"part {index} damaged ({path}: size or sha256 differs from the manifest)")
    return problems


def join_parts(stage: Path, manifest: Dict[str, Any], target: Path) -> Path:
    """Concatenate the parts into `target`, checked against the whole payload's size and sha256."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for part in manifest["parts"]:
            with open(stage / part["path"], "rb") as chunk:
                while block := chunk.read(16 * MIB):
                    digest.update(block)
                    out.write(block)
    size = target.stat().st_size
    if size != manifest["payload_bytes"] or digest.hexdigest() != manifest["payload_sha256"]:
        target.unlink()
        raise SystemExit(
            f"the parts join into {size} bytes with sha256 {digest.hexdigest()}, the manifest says "
            f"{manifest['payload_bytes']} bytes with sha256 {manifest['payload_sha256']}"
        )
    return target


def checkout_bytes(repo: Path = REPO) -> int:
    """Bytes of what a device call sends besides `carry`: tracked files, and untracked ones git does not ignore."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    return sum((repo / os.fsdecode(n)).stat().st_size for n in names if n and (repo / os.fsdecode(n)).is_file())


def check_part_size(part_bytes: int, repo_bytes: int) -> None:
    """A part and the checkout must fit one call (CALL_LIMIT, less CALL_MARGIN)."""
    room = CALL_LIMIT - CALL_MARGIN - repo_bytes
    if part_bytes > room:
        raise SystemExit(
            f"a part of {part_bytes / MIB:.1f} MiB and the checkout's {repo_bytes / MIB:.1f} MiB exceed one call's "
            f"{CALL_LIMIT // MIB} MiB (less {CALL_MARGIN // MIB} MiB margin): use --part-mib {room // MIB} or less"
        )


# --- the device calls ------------------------------------------------------------------
def device_calls(manifest: Dict[str, Any], run_args: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """The device tool's calls, in order: one part each; the last one also runs."""
    calls = []
    n_parts = len(manifest["parts"])
    for index, part in enumerate(manifest["parts"], start=1):
        folder = ".device/" + part["path"].split("/")[0]
        if index < n_parts:
            command = f"python3 benchmarks/device_mpnet_seeds.py check --upto {index}"
            timeout = 60
        else:
            extra = "".join(" " + shlex.quote(a) for a in run_args)
            command = f"PYTHONUNBUFFERED=1 python3 benchmarks/device_mpnet_seeds.py run --out $OUT{extra}"
            timeout = 600
        calls.append({"carry": [folder], "command": command, "timeout_s": timeout})
    return calls


# --- stage (here) ----------------------------------------------------------------------
def exclude_file(repo: Path = REPO) -> Path:
    """info/exclude of the checkout's git dir (the common one: a worktree has no info/ of its own)."""
    common = subprocess.run(
        ["git", "rev-parse", "--git-common-dir"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    return (repo / common).resolve() / "info" / "exclude"


def ignore_stage(repo: Path = REPO) -> None:
    """Add /.device/ to the git dir's info/exclude (once); fail unless git then ignores it."""
    path = exclude_file(repo)
    text = path.read_text(encoding="utf8") if path.exists() else ""
    if "/.device/" not in text.splitlines():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("\n" if text and not text.endswith("\n") else "") + "/.device/\n", encoding="utf8")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".device/x"], cwd=repo).returncode == 0
    if not ignored:
        raise SystemExit(f"git does not ignore .device/ after adding it to {path}")


def data_files(data_dir: Path) -> List[str]:
    """The files under `data_dir` that the runs read: bench_systems' splits and context sources."""
    from bench_systems import DATASETS, context_sources

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


def write_fp16_encoder(source: Path, target: Path) -> Dict[str, Any]:
    """A float16 copy of the Hugging Face folder `source` in `target` (its config, float32, kept:
    spacy_ita loads it back into float32), checked against the original on two posts."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(source))
    model.half().save_pretrained(str(target), safe_serialization=True)
    weights = {".safetensors", ".bin", ".h5", ".onnx", ".msgpack", ".ot"}
    for path in sorted(source.iterdir()):  # tokenizer and config files; the weights are ours
        if path.is_file() and path.suffix not in weights:
            shutil.copy2(path, target / path.name)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    batch = tokenizer(
        ["RT @user : Kobe Bryant in Los Angeles", "Obama visits Paris with Merkel"], padding=True, return_tensors="pt"
    )
    original = AutoModel.from_pretrained(str(source)).eval()
    copy = AutoModel.from_pretrained(str(target)).eval()
    with torch.no_grad():
        a, b = original(**batch).last_hidden_state, copy(**batch).last_hidden_state
    check = {
        "dtype_loaded": str(next(copy.parameters()).dtype),
        "max_abs_diff": float((a - b).abs().max()),
        "mean_abs": float(a.abs().mean()),
    }
    if check["dtype_loaded"] != "torch.float32" or check["max_abs_diff"] > 1e-2:
        raise SystemExit(f"the float16 copy does not load back as expected: {check}")
    return check


def download_wheels(target: Path) -> List[str]:
    """WHEELS at this environment's versions for the device, and a wheel of this checkout's HEAD."""
    from importlib.metadata import version

    pins = [f"{name}=={version(name)}" for name in WHEELS]
    platforms = [item for p in DEVICE_PLATFORMS for item in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", DEVICE_PYTHON]
        + ["--implementation", "cp", *platforms, "-d", str(target), *pins],
        check=True,
    )
    # spacy_ita's own wheel, for its entry points (spaCy finds `ita_ner` through them); built
    # from HEAD exported to a temporary folder, so nothing is written into the checkout.
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(target), tmp], check=True)
    names = sorted(p.name for p in target.glob("*.whl"))
    stems = [n.split("-")[0].lower() for n in names]
    if len(set(stems)) != len(stems):
        raise SystemExit(f"two versions of one distribution in {target}: {names}")
    return names


def stage(args) -> Dict[str, Any]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from spacy_ita.resources import resolve_model

    stage_dir = args.stage_dir
    part_bytes = int(args.part_mib * MIB)
    repo_bytes = checkout_bytes()
    check_part_size(part_bytes, repo_bytes)
    ignore_stage()
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    payload_dir = stage_dir / "build"
    print(f"[stage] resolving {args.encoder} (spacy_ita.resources.resolve_model)", flush=True)
    source = Path(resolve_model(args.encoder))
    print(f"[stage] float16 copy of {source}", flush=True)
    fp16 = write_fp16_encoder(source, payload_dir / ENCODER_DIR)
    print(f"[stage]   loads back as {fp16['dtype_loaded']}, hidden states differ by at most {fp16['max_abs_diff']:.2e}")
    print("[stage] wheels for the device (pip download)", flush=True)
    wheels = download_wheels(payload_dir / "wheels")
    files = data_files(args.data_dir)
    for name in files:
        (payload_dir / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.data_dir / name, payload_dir / "data" / name)
    sizes = {
        folder: sum(p.stat().st_size for p in (payload_dir / folder).rglob("*") if p.is_file())
        for folder in ("encoder", "wheels", "data")
    }
    payload = stage_dir / PAYLOAD
    # gzip takes ~8% off the float16 weights and most of the text: one part (one call) fewer.
    with tarfile.open(payload, "w:gz", compresslevel=6) as tar:
        for folder in ("encoder", "wheels", "data"):
            tar.add(payload_dir / folder, arcname=folder)
    manifest = {
        "payload": PAYLOAD,
        "payload_bytes": payload.stat().st_size,
        "payload_sha256": sha256_file(payload),
        "encoder": {"source": args.encoder, "dir": ENCODER_DIR, **fp16},
        "wheels": wheels,
        "data": files,
        "sizes": sizes,
        "parts": split_file(payload, stage_dir, part_bytes),
        "checkout_bytes": repo_bytes,
    }
    write_manifest(stage_dir, manifest)
    payload.unlink()
    shutil.rmtree(payload_dir)
    print_plan(manifest)
    return manifest


def print_plan(manifest: Dict[str, Any]) -> None:
    sizes = {name: f"{size / MIB:.1f}" for name, size in manifest["sizes"].items()}
    parts = ", ".join(f"{p['path']} {p['bytes'] / MIB:.1f} MiB" for p in manifest["parts"])
    print(
        f"\n[stage] payload {manifest['payload_bytes'] / MIB:.1f} MiB gzipped (encoder {sizes['encoder']}, "
        f"wheels {sizes['wheels']}, data {sizes['data']} MiB before); checkout {manifest['checkout_bytes'] / MIB:.1f} "
        f"MiB; parts: {parts}"
    )
    calls = device_calls(manifest)
    print(f"\nDevice calls, in order, each within 30 s of the last one's reply ({len(calls)} calls):")
    for index, call in enumerate(calls, start=1):
        carry = json.dumps(call["carry"])
        print(f"  {index}. run(carry={carry}, timeout_s={call['timeout_s']}, command={call['command']!r})")
    print("A check that reports a missing part means the machine went back: start again from call 1.")


# --- run (on the device) ---------------------------------------------------------------
def run_commands(
    encoder: str, data_dir: Path, output_dir: Path, gpu_id: int, threads: int, systems, seeds, smoke: bool = False
) -> Dict[str, List[str]]:
    """{name: bench_real_data command} of each run: the seed-0 command, another seed."""
    common = ["--encoder", encoder, "--datasets", DATASET, "--data-dir", str(data_dir)]
    common += ["--output-dir", str(output_dir), "--threads", str(threads), "--gpu-id", str(gpu_id)]
    common += ["--smoke"] if smoke else ["--epochs", str(EPOCHS)]
    return {
        f"{system}-seed{seed}": [sys.executable, str(BENCH), *common, "--systems", system, "--seeds", str(seed)]
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


def install_payload(stage_dir: Path, work: Path, log) -> Tuple[Path, Path, Path]:
    """Check and join the parts, unpack the payload, install its wheels; (site, encoder, data)."""
    manifest = read_manifest(stage_dir)
    problems = check_parts(stage_dir, manifest)
    if problems:
        raise SystemExit("; ".join(problems))
    payload_dir = work / "payload"
    if not (payload_dir / "done").exists():
        shutil.rmtree(payload_dir, ignore_errors=True)
        joined = join_parts(stage_dir, manifest, work / PAYLOAD)
        log(f"joined {len(manifest['parts'])} parts: {manifest['payload_bytes']} bytes, sha256 matches")
        with tarfile.open(joined) as tar:
            tar.extractall(payload_dir, filter="data")
        joined.unlink()
        (payload_dir / "done").write_text("", encoding="utf8")
    site = work / "site"
    wheels = sorted(str(p) for p in (payload_dir / "wheels").glob("*.whl"))
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    pip += ["--no-cache-dir", "--upgrade", "--target", str(site), *wheels]
    subprocess.run(pip, check=True)
    log(f"installed {len(wheels)} wheels into {site}")
    return site, payload_dir / manifest["encoder"]["dir"], payload_dir / "data"


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

    work = args.stage_dir / "work"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.smoke:
        encoder, data_dir = "tiny-bert-2l", args.data_dir
        pythonpath = [str(REPO)]
    else:
        site, encoder_dir, data_dir = install_payload(args.stage_dir, work, log)
        encoder = str(encoder_dir)
        pythonpath = [str(REPO), str(site)]  # the checkout's spacy_ita first; the wheel's entry points from site
    env["PYTHONPATH"] = os.pathsep.join(pythonpath + [p for p in [os.environ.get("PYTHONPATH")] if p])
    # No check run first: a run that cannot import spaCy or reach the GPU ends in seconds, its log says why
    # (and each run's log names the versions and the GPU: bench_real_data's machine line).
    log(gpu_sample())
    output_dir = work / ("runs-smoke" if args.smoke else "runs")
    commands = run_commands(
        encoder, data_dir, output_dir, args.gpu_id, args.threads, args.systems, args.seeds, smoke=args.smoke
    )
    deadline = start + args.budget_s - TABLE_RESERVE_S
    log(f"{len(commands)} runs side by side, killed if still going at {deadline - start:.0f} s")
    status = launch(commands, work / "logs", deadline, env, log)
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
        run_dir = output_dir / DATASET / name.rsplit("-seed", 1)[0] / f"seed{name.rsplit('-seed', 1)[1]}"
        text = (work / "logs" / f"{name}.log").read_text(encoding="utf8", errors="replace")
        train_log = run_dir / "train.log"
        if train_log.exists():
            tail = train_log.read_text(encoding="utf8", errors="replace").splitlines()[-80:]
            text += f"\n---- {train_log} (last {len(tail)} lines)\n" + "\n".join(tail) + "\n"
        (out / "logs" / f"{name}.log").write_text(text, encoding="utf8")
    finished = sum(not s["killed"] and s["rc"] == 0 for s in status.values())
    log(f"done: {finished} of {len(commands)} runs finished; {time.monotonic() - start:.0f} s in all")
    device_log.close()
    return 0 if finished == len(commands) else 1


def check(args) -> int:
    manifest = read_manifest(args.stage_dir)
    problems = check_parts(args.stage_dir, manifest, args.upto)
    n = len(manifest["parts"])
    for problem in problems:
        print(problem)
    if problems:
        print("A part sent by an earlier call is gone if the machine went back between calls: start again from call 1.")
        return 1
    print(f"parts 1..{args.upto or n} of {n} here and intact")
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage-dir", type=Path, default=STAGE, help="the staging folder (default .device/)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stage", help="here: build .device/ (fp16 encoder, wheels, data, parts) and print the calls")
    p.add_argument("--encoder", default=ENCODER, help=f"the encoder to copy in float16 (default {ENCODER})")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data", help="default ../shared/data")
    p.add_argument(
        "--part-mib", type=float, default=DEFAULT_PART_MIB, help=f"MiB per part (default {DEFAULT_PART_MIB})"
    )
    p = sub.add_parser("check", help="on the device: are parts 1..UPTO here and intact?")
    p.add_argument("--upto", type=int, help="the last part sent so far (default: all)")
    p = sub.add_parser("run", help="on the device: join, install, run the seeds side by side, tabulate into --out")
    p.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else STAGE / "out")
    p.add_argument("--budget-s", type=float, default=540, help="wall seconds for all of `run` (default 540)")
    p.add_argument("--threads", type=int, default=3, help="CPU threads per run (bench_real_data --threads; default 3)")
    p.add_argument("--gpu-id", type=int, help="CUDA GPU (default 0; with --smoke -1: the CPU)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"default {','.join(SYSTEMS)}")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), help=f"default {','.join(map(str, SEEDS))}")
    p.add_argument("--smoke", action="store_true", help="CPU check: nothing staged, tiny encoder, bench --smoke")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data", help="with --smoke")
    args = parser.parse_args(argv)
    args.stage_dir = args.stage_dir.resolve()
    if args.command == "run":
        args.systems = [s for s in args.systems.split(",") if s]
        args.seeds = [int(s) for s in args.seeds.split(",") if s]
        args.out = args.out.resolve()
        args.data_dir = args.data_dir.resolve()
        if args.gpu_id is None:
            args.gpu_id = -1 if args.smoke else 0
    if args.command == "stage":
        args.data_dir = args.data_dir.resolve()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "stage":
        stage(args)
        return 0
    return check(args) if args.command == "check" else run(args)


if __name__ == "__main__":
    sys.exit(main())
