"""benchmarks/device_mpnet_seeds.py: the staged parts (split, check, join), the device calls,
the four runs' commands, the budget that kills unfinished runs, and the `run` path on the CPU."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import device_mpnet_seeds as dms  # noqa: E402


def _stage_parts(tmp_path: Path, size: int, part_bytes: int):
    payload = tmp_path / "payload.tar"
    payload.write_bytes(os.urandom(size))
    stage = tmp_path / "stage"
    manifest = {
        "payload_bytes": size,
        "payload_sha256": hashlib.sha256(payload.read_bytes()).hexdigest(),
        "parts": dms.split_file(payload, stage, part_bytes),
    }
    dms.write_manifest(stage, manifest)
    return payload, stage, manifest


def test_parts_split_and_join_back_checked_by_sha256(tmp_path):
    payload, stage, manifest = _stage_parts(tmp_path, 5 * 1000 + 7, 1000)
    assert [p["path"] for p in manifest["parts"]] == [f"part{i}/payload.tar.{i:03d}" for i in range(1, 7)]
    assert [p["bytes"] for p in manifest["parts"]] == [1000] * 5 + [7]
    # Every part's folder holds the manifest: whichever have arrived, it is read.
    assert all((stage / f"part{i}" / dms.MANIFEST).is_file() for i in range(1, 7))
    assert dms.read_manifest(stage) == json.loads(json.dumps(manifest))
    assert dms.check_parts(stage, manifest) == []
    joined = dms.join_parts(stage, manifest, tmp_path / "work" / "joined.tar")
    assert joined.read_bytes() == payload.read_bytes()


def test_missing_or_damaged_parts_are_named_and_never_joined(tmp_path):
    _, stage, manifest = _stage_parts(tmp_path, 3000, 1000)
    (stage / "part3" / "payload.tar.003").unlink()
    assert dms.check_parts(stage, manifest, upto=2) == []  # what has arrived so far is intact
    assert dms.check_parts(stage, manifest) == [f"part 3 missing ({stage / 'part3' / 'payload.tar.003'})"]
    assert dms.main(["--stage-dir", str(stage), "check", "--upto", "2"]) == 0
    assert dms.main(["--stage-dir", str(stage), "check"]) == 1
    second = stage / "part2" / "payload.tar.002"
    second.write_bytes(b"x" + second.read_bytes()[1:])
    assert dms.check_parts(stage, manifest, upto=2) == [
        f"part 2 damaged ({second}: size or sha256 differs from the manifest)"
    ]
    (stage / "part3").mkdir(exist_ok=True)
    (stage / "part3" / "payload.tar.003").write_bytes(b"\0" * 1000)
    with pytest.raises(SystemExit, match="sha256"):
        dms.join_parts(stage, manifest, tmp_path / "joined.tar")
    assert not (tmp_path / "joined.tar").exists()
    # Parts of two stagings do not mix.
    (stage / "part3" / dms.MANIFEST).write_text(json.dumps({**manifest, "payload_sha256": "0"}), encoding="utf8")
    with pytest.raises(SystemExit, match="different stagings"):
        dms.read_manifest(stage)


def test_a_part_and_the_checkout_fit_one_device_call():
    mib = dms.MIB
    dms.check_part_size(dms.DEFAULT_PART_MIB * mib, 2 * mib)
    with pytest.raises(SystemExit, match="--part-mib 59"):
        dms.check_part_size(62 * mib, 3 * mib)
    # What a call sends besides its carry: this checkout's files, well under a part's room.
    assert 0 < dms.checkout_bytes(REPO_ROOT) < 8 * mib


def test_device_calls_send_one_part_each_and_the_last_one_runs():
    manifest = {"parts": [{"path": f"part{i}/payload.tar.{i:03d}"} for i in range(1, 6)]}
    calls = dms.device_calls(manifest, ["--budget-s", "500"])
    assert [c["carry"] for c in calls] == [[f".device/part{i}"] for i in range(1, 6)]
    assert [c["command"] for c in calls[:4]] == [
        f"python3 benchmarks/device_mpnet_seeds.py check --upto {i}" for i in range(1, 5)
    ]
    assert calls[-1]["command"] == (
        "PYTHONUNBUFFERED=1 python3 benchmarks/device_mpnet_seeds.py run --out $OUT --budget-s 500"
    )
    assert calls[-1]["timeout_s"] == 600 and all(c["timeout_s"] <= 600 for c in calls)
    assert all(len(c["command"]) <= 2000 and len(c["carry"]) <= 8 for c in calls)


def test_stage_takes_the_files_the_runs_read_and_wheels_installed_here(shared_data):
    from importlib.metadata import version

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
    assert all(version(name) for name in dms.WHEELS)  # stage pins each at this environment's version


def test_four_runs_are_the_seed0_command_with_seeds_1_and_2(tmp_path):
    import bench_real_data

    data, out = tmp_path / "data", tmp_path / "runs"
    data.mkdir()
    commands = dms.run_commands("/enc/mpnet-fp16", data, out, 0, 3, dms.SYSTEMS, dms.SEEDS)
    assert list(commands) == ["ita_all-seed1", "ita_all-seed2", "ita_text-seed1", "ita_text-seed2"]
    run_dirs = set()
    for name, cmd in commands.items():
        assert cmd[:2] == [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_real_data.py")]
        args = bench_real_data.parse_args(cmd[2:])
        assert (args.datasets, args.epochs, args.gpu_id, args.threads) == (["twitter2015"], 3, 0, 3)
        assert (args.encoder, args.data_dir, args.output_dir) == ("/enc/mpnet-fp16", data, out)
        assert [f"{args.systems[0]}-seed{args.seeds[0]}"] == [name] and len(args.systems) == len(args.seeds) == 1
        run_dirs.add(args.output_dir / args.datasets[0] / args.systems[0] / f"seed{args.seeds[0]}")
    assert len(run_dirs) == 4  # one --output-dir, a run folder each
    table = bench_real_data.parse_args(dms.table_command(commands, dms.SYSTEMS, dms.SEEDS)[2:])
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
    """`run --smoke`: the same launch, table and copies into $OUT, with bench_real_data's smoke
    limits and tiny encoder on the CPU (nothing staged, so no join or install). Slow: one
    smoke training and its evaluations, 2.5 to 3.6 min on a loaded 2-core machine (`pytest -m slow`)."""
    out = tmp_path / "out"
    args = ["--stage-dir", str(tmp_path / "stage"), "run", "--smoke", "--systems", "ita_text", "--seeds", "1"]
    args += ["--data-dir", str(shared_data), "--out", str(out), "--threads", "1", "--budget-s", "600"]
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "device_mpnet_seeds.py"), *args],
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
    assert "bench_real_data.py" in log and "train.log (last" in log
    assert "1 of 1 runs finished" in (out / "device.log").read_text()


def _tiny_wheel(folder: Path) -> Path:
    """A pure-Python wheel of one module, `tinyprobe` (what pip needs of a wheel, no more)."""
    import zipfile

    path = folder / "tinyprobe-0.1-py3-none-any.whl"
    files = {
        "tinyprobe.py": "VALUE = 42\n",
        "tinyprobe-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinyprobe\nVersion: 0.1\n",
        "tinyprobe-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "tinyprobe-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**files, "tinyprobe-0.1.dist-info/RECORD": record}.items():
            archive.writestr(name, text)
    return path


def test_install_payload_joins_unpacks_and_installs_the_wheels(tmp_path):
    """The device's first steps on a payload staged as `stage` stages it: gzipped tar, parts, manifest."""
    import tarfile

    build = tmp_path / "build"
    (build / "wheels").mkdir(parents=True)
    _tiny_wheel(build / "wheels")
    (build / dms.ENCODER_DIR).mkdir(parents=True)
    (build / dms.ENCODER_DIR / "config.json").write_text("{}", encoding="utf8")
    (build / "data" / "twitter2015").mkdir(parents=True)
    (build / "data" / "twitter2015" / "train.txt").write_text("IMGID:1\nRT\tO\n", encoding="utf8")
    payload = tmp_path / dms.PAYLOAD
    with tarfile.open(payload, "w:gz") as tar:
        for folder in ("encoder", "wheels", "data"):
            tar.add(build / folder, arcname=folder)
    stage = tmp_path / "stage"
    manifest = {
        "payload_bytes": payload.stat().st_size,
        "payload_sha256": dms.sha256_file(payload),
        "encoder": {"dir": dms.ENCODER_DIR},
        "parts": dms.split_file(payload, stage, 700),
    }
    assert len(manifest["parts"]) >= 2
    dms.write_manifest(stage, manifest)
    site, encoder, data = dms.install_payload(stage, stage / "work", print)
    assert (encoder / "config.json").read_text() == "{}" and (data / "twitter2015" / "train.txt").is_file()
    probe = subprocess.run(
        [sys.executable, "-c", "import tinyprobe; print(tinyprobe.VALUE)"],
        env=dict(os.environ, PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "42", probe.stderr
    assert not (stage / "work" / dms.PAYLOAD).exists()  # the joined archive is not kept
    # A second `run` on a warm machine reuses what was unpacked.
    (data / "twitter2015" / "train.txt").write_text("kept", encoding="utf8")
    assert (
        dms.install_payload(stage, stage / "work", print)[2] == data
        and (data / "twitter2015" / "train.txt").read_text() == "kept"
    )
