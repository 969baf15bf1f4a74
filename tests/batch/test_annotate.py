"""`annotate` on the local engine: one row per post, bad rows reported and
skipped, JSONL/CSV/Parquet inputs, Parquet parts that read back as one dataset,
resume after a crash, clear errors before any work."""

import csv
import json
import logging

import pytest
import spacy
import typer
from typer.testing import CliRunner

from spacy_ita import pipe_with_images
from spacy_ita.batch.outputs import ResultWriter, finished_ids
from spacy_ita.batch.pools import PoolSpec, stage_pools
from spacy_ita.batch.posts import BadRow, PostColumns, read_posts
from spacy_ita.batch.schema import context_schema
from spacy_ita.cli.annotate import annotate_command
from spacy_ita.visual_context import empty_context

import batch_support
from batch_support import BAD_LINES, POSTS, read_rows, save_model, write_posts


def run(*args, exit_code=0):
    app = typer.Typer()
    app.command()(annotate_command)
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == exit_code, result.output
    return result


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("model") / "model")


def expected_rows(model, posts_path):
    """What nlp.pipe over make_doc gives for the same posts: the reference for both engines."""
    nlp = spacy.load(model)
    good = [p for p in read_posts(posts_path) if not isinstance(p, BadRow)]
    docs = pipe_with_images(nlp, [(p.text, {"image": p.image, "visual_context": p.visual_context}) for p in good])
    return {p.id: [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] for p, doc in zip(good, docs)}


def test_one_row_per_post_and_bad_rows_reported(model, tmp_path, caplog):
    posts = write_posts(tmp_path, bad_lines=BAD_LINES)
    output = tmp_path / "out.jsonl"
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        result = run(model, posts, output, "--code", batch_support.CODE, "--batch-size", 3)
    rows = {row["id"]: row for row in read_rows(output)}
    assert sorted(rows) == [p["id"] for p in POSTS]  # every good post once, no bad one
    assert {
        k: [(e["text"], e["label"], e["start_char"], e["end_char"]) for e in r["entities"]] for k, r in rows.items()
    } == expected_rows(model, posts)
    assert any(e["text"] == "Obama" and e["label"] == "PER" for e in rows["p1"]["entities"])
    assert all(0.0 <= e["confidence"] <= 1.0 for r in rows.values() for e in r["entities"])
    assert len(rows["p6"]["entities"]) > 1 and rows["p6"]["entities"][-1]["end_char"] > 200  # the long post, whole
    views = {k: r["view"] for k, r in rows.items()}
    assert views == {
        "p1": "cross_modal",
        "p2": "text_only",
        "p3": "cross_modal",
        "p4": "cross_modal",
        "p5": "text_only",
        "p6": "text_only",
        "p7": "text_only",
    }
    assert rows["p1"]["visual_context"]["objects"] == [{"label": "red thing", "count": 1, "score": 0.9}]
    assert rows["p4"]["visual_context"]["ocr"] == ["PARIS"]
    assert rows["p5"]["visual_context"] == empty_context()  # unreadable image: empty
    assert rows["p2"]["visual_context"] is None and rows["p3"]["visual_context"] is None  # no image aligned
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    for line, reason in (
        (8, "text is a int"),
        (9, "has no text"),
        (10, "malformed visual context"),
        (11, "invalid JSON"),
        (12, "already read at"),
    ):
        assert f"{posts}:{line}: " in warnings and reason in warnings
    summary = " ".join(result.output.split())
    assert "7 posts (4 with an image to align), 5 unreadable rows skipped, 0 with undecodable characters" in summary


def test_csv_parquet_and_folder_inputs_give_the_same_rows(model, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    posts = write_posts(tmp_path)
    reference = {r["id"]: r for r in read_rows(_annotated(model, posts, tmp_path / "ref.jsonl"))}
    renamed = [
        {
            "post_id": p["id"],
            "body": p["text"],
            "photo": p.get("image", ""),
            "ctx": json.dumps(p["visual_context"]) if "visual_context" in p else "",
        }
        for p in POSTS
    ]
    with (tmp_path / "posts.csv").open("w", encoding="utf8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["post_id", "body", "photo", "ctx"])
        writer.writeheader()
        writer.writerows(renamed)
    columns = ["--id-column", "post_id", "--text-column", "body", "--image-column", "photo", "--context-column", "ctx"]
    from_csv = read_rows(_annotated(model, tmp_path / "posts.csv", tmp_path / "csv.jsonl", *columns))
    assert {r["id"]: r for r in from_csv} == reference
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pa.Table.from_pylist([{**p, "visual_context": p.get("visual_context")} for p in POSTS])
    pq.write_table(table.slice(0, 4), folder / "a.parquet")
    pq.write_table(table.slice(4), folder / "b.parquet")
    from_parquet = read_rows(_annotated(model, folder, tmp_path / "out.parquet", "--image-root", tmp_path))
    assert len(list((tmp_path / "out.parquet").glob("part-*.parquet"))) == 3  # one part per batch of 3
    assert {r["id"]: r for r in from_parquet} == reference


def _annotated(model, posts, output, *extra):
    run(model, posts, output, "--code", batch_support.CODE, "--batch-size", 3, *extra)
    return output


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_crash_loses_only_the_batch_in_flight_and_rerun_computes_the_rest(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    posts = write_posts(tmp_path)
    log = tmp_path / "computed.txt"
    crashing = save_model(tmp_path / "crashing", fail_on="Apple in Berlin")  # p5: the 3rd batch of 2
    output = tmp_path / f"out{suffix}"
    with pytest.raises(ValueError, match="failing on 'Apple in Berlin'"):
        from spacy_ita.batch.jobs import annotate_posts

        annotate_posts(crashing, posts, output, batch_size=2, code=batch_support.CODE, progress=False)
    assert sorted(r["id"] for r in read_rows(output)) == ["p1", "p2", "p3", "p4"]
    if suffix == ".jsonl":  # killed while writing: half a line
        with output.open("a", encoding="utf8") as handle:
            handle.write('{"id": "p5", "entities": [{"te')
    else:  # killed while writing a part: its temporary file
        (output / ".part-20260101T000000-0123abcd-00009.parquet.tmp").write_bytes(b"PAR1")
    result = run(save_model(tmp_path / "fixed", log=str(log)), posts, output, "--code", batch_support.CODE, "-b", 2)
    assert "4 already in" in " ".join(result.output.split())
    assert log.read_text(encoding="utf8").splitlines() == [p["text"] for p in POSTS[4:]]  # only p5-p7 computed
    assert sorted(r["id"] for r in read_rows(output)) == [p["id"] for p in POSTS]  # every id once
    assert not list(tmp_path.glob("**/.part-*.tmp"))


def test_missing_model_or_input_fails_before_any_work(model, tmp_path):
    posts = write_posts(tmp_path)
    result = run(tmp_path / "no-model", posts, tmp_path / "out.jsonl", exit_code=1)
    assert "Model not found" in result.output and "no-model" in result.output
    result = run(model, tmp_path / "missing.jsonl", tmp_path / "out.jsonl", exit_code=1)
    assert "Input not found" in result.output
    result = run(model, posts, tmp_path / "out.jsonl", "--engine", "spark", exit_code=1)
    assert "Unknown engine 'spark'" in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_a_pipeline_without_ita_ner_is_refused_naming_what_it_has(model, tmp_path):
    """Issue #32: annotate with a pipeline without ita_ner printed "Annotated ... 0 entities", exit 0."""
    posts = write_posts(tmp_path)
    other = spacy.blank("en")
    other.add_pipe("sentencizer")
    other.add_pipe("ner")
    other.initialize()
    other.to_disk(tmp_path / "no-ita")
    result = run(tmp_path / "no-ita", posts, tmp_path / "out.jsonl", exit_code=1)
    said = " ".join(result.output.split())
    assert "has no enabled ita_ner" in said and "sentencizer (sentencizer), ner (ner)" in said, said
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name", ["out.csv", "out.json", "out.txt"])
def test_an_output_suffix_that_is_not_written_is_refused_not_made_a_folder(model, tmp_path, name):
    """Issue #32: `annotate ... out.csv` made a folder named out.csv."""
    posts = write_posts(tmp_path)
    result = run(model, posts, tmp_path / name, exit_code=1)
    assert f"a {name[3:]} output is not written" in " ".join(result.output.split())
    assert not (tmp_path / name).exists()


CUT_EMOJI = "Taylor Swift in London tonight \ud83d"  # a tweet cut inside an emoji: a lone surrogate


def test_a_post_cut_inside_an_emoji_is_repaired_named_counted_and_the_job_goes_on(model, tmp_path, caplog):
    """It once stopped the job ('surrogates not allowed', rc 1, no row named, later posts never written)."""
    posts = tmp_path / "posts.jsonl"
    rows = [{"id": "a", "text": "Obama in Paris"}, {"id": "cut", "text": CUT_EMOJI}, {"id": "b", "text": "Messi"}]
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf8")  # "\ud83d" escaped, valid JSON
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        result = run(model, posts, tmp_path / "out.jsonl", "--code", batch_support.CODE, "--batch-size", 2)
    out = {row["id"]: row for row in read_rows(tmp_path / "out.jsonl")}
    assert sorted(out) == ["a", "b", "cut"]
    assert f"{posts}:2: post 'cut': 1 undecodable character(s)" in caplog.text
    assert "1 with undecodable characters replaced by U+FFFD" in " ".join(result.output.split())
    # Read as "... tonight \ufffd": one character for one, so spans index the user's text.
    nlp = spacy.load(model)
    expected = nlp(CUT_EMOJI.replace("\ud83d", "\ufffd"))
    spans = [(e["text"], e["start_char"]) for e in out["cut"]["entities"]]
    assert spans == [(e.text, e.start_char) for e in expected.ents]


def test_bytes_that_are_not_utf8_in_csv_and_jsonl_are_repaired_and_counted(tmp_path):
    csv_path = tmp_path / "posts.csv"
    csv_path.write_bytes(b"id,text\r\n1,Obama in Paris\r\n2,caf\xe9 in Rome\r\n")  # Latin-1 byte in a UTF-8 file
    jsonl_path = tmp_path / "posts.jsonl"
    jsonl_path.write_bytes(b'{"id": "1", "text": "Obama"}\n{"id": "2", "text": "caf\xe9 in Rome"}\n')
    for path in (csv_path, jsonl_path):
        posts = list(read_posts(path))
        assert [(p.id, p.text, p.repaired) for p in posts][1] == ("2", "caf\ufffd in Rome", 1)
        assert posts[0].repaired == 0


def test_a_parquet_string_that_is_not_utf8_costs_only_its_row(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    text = pa.array([b"Obama in Paris", b"Taylor Swift \xed\xa0\xbd", b"Messi"], type=pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["1", "2", "3"], "text": text}), tmp_path / "posts.parquet")
    posts = list(read_posts(tmp_path / "posts.parquet"))
    assert [(p.id, p.text, p.repaired) for p in posts] == [
        ("1", "Obama in Paris", 0),
        ("2", "Taylor Swift \ufffd\ufffd\ufffd", 3),
        ("3", "Messi", 0),
    ]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_file_that_starts_with_a_byte_order_mark_reads_as_without(tmp_path, suffix):
    """Excel's "CSV UTF-8" starts with a BOM: the first column read '\\ufeffid' and every row had 'no id'."""
    if suffix == ".csv":
        body = "id,text\r\n1,Obama in Paris\r\n2,Messi in London\r\n"
    else:
        body = '{"id": "1", "text": "Obama in Paris"}\n{"id": "2", "text": "Messi in London"}\n'
    plain, with_bom = tmp_path / f"plain{suffix}", tmp_path / f"excel{suffix}"
    plain.write_bytes(body.encode("utf8"))
    with_bom.write_bytes(body.encode("utf-8-sig"))
    assert with_bom.read_bytes().startswith(b"\xef\xbb\xbf")
    read = [[(p.id, p.text) for p in read_posts(path)] for path in (plain, with_bom)]
    assert read[1] == read[0] == [("1", "Obama in Paris"), ("2", "Messi in London")]


def test_a_job_in_which_every_row_is_unreadable_fails_and_names_the_columns_it_found(model, tmp_path):
    """It once printed 'Annotated 0 posts' with a green tick and exited 0."""
    posts = write_tweets(tmp_path / "data")  # keyed tweet_id, run without --id-column
    result = run(model, posts, tmp_path / "out.jsonl", exit_code=1)
    message = " ".join(result.output.split())
    assert "No readable post" in message and "no id (column 'id')" in message
    assert "'text', 'tweet_id'" in message and "--id-column" in message
    assert not (tmp_path / "out.jsonl").exists()


def test_annotate_and_generate_contexts_read_the_same_posts_and_warn_the_same_way(model, tmp_path, caplog):
    """Issue #33: generate-contexts had its own post reader, which logged every bad row (annotate's
    stops listing after 20). Both jobs now read through batch.posts.read_post_file and report through
    PostReadReport: the same rows, the same warnings, MNER .txt included."""
    from spacy_ita.batch.jobs import annotate_posts
    from spacy_ita.batch.posts import SHOWN_BAD_ROWS
    from spacy_ita.generators import KBRetriever, generate_contexts

    kb = tmp_path / "kb.jsonl"
    kb.write_text(json.dumps({"name": "Paris", "description": "capital of France"}) + "\n", encoding="utf8")
    bad = ['{"id": "b%d", "text": 42}' % i for i in range(SHOWN_BAD_ROWS + 5)]
    good = [{"id": "g1", "text": "Obama in Paris"}, {"id": "g2", "text": "Messi in London \ud83d"}]
    jsonl = write_posts(tmp_path / "jsonl", posts=good, bad_lines=[*bad, '{"id": "g1", "text": "again"}'])
    mner = tmp_path / "posts.txt"
    mner.write_text("IMGID:m1\nObama\tB-PER\nin\tO\nParis\tB-LOC\n\nIMGID:m2\nhi\tO\n", encoding="utf8")

    def jobs(posts):
        reads = {}
        for job in ("annotate", "generate-contexts"):
            output = tmp_path / f"{posts.suffix[1:]}-{job}.jsonl"
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="spacy_ita"):
                if job == "annotate":
                    summary = annotate_posts(model, posts, output, progress=False)
                else:
                    summary = generate_contexts(posts, output, kb=KBRetriever([str(kb)]), progress=False)
            id_column = "id" if job == "annotate" else "image_id"
            messages = [record.getMessage() for record in caplog.records]
            warnings = [m for m in messages if m.startswith(("Skipping", "More ")) or "undecodable" in m]
            ids = sorted(row[id_column] for row in read_rows(output))
            reads[job] = (ids, summary.posts, summary.bad_rows, summary.repaired_rows, summary.bad, warnings)
        return reads

    reads = jobs(jsonl)
    assert reads["annotate"] == reads["generate-contexts"]
    ids, posts, bad_rows, repaired, listed, warnings = reads["annotate"]
    assert ids == ["g1", "g2"] and posts == 2 and bad_rows == SHOWN_BAD_ROWS + 6 and repaired == 1
    assert len(listed) == SHOWN_BAD_ROWS and str(listed[0]).endswith("post 'b0': text is a int, not a string")
    skipped = [w for w in warnings if w.startswith("Skipping")]
    assert len(skipped) == SHOWN_BAD_ROWS and "More unreadable rows follow; they are counted, not listed." in warnings
    assert any("'g2': 1 undecodable character" in w for w in warnings)

    reads = jobs(mner)
    assert reads["annotate"] == reads["generate-contexts"]
    assert reads["annotate"][:3] == (["m1", "m2"], 2, 0)


TWEETS = [
    {"tweet_id": "t1", "text": "Obama in Paris"},
    {"tweet_id": "t2", "text": "Messi in London"},
    {"tweet_id": "t3", "text": "Jordan again"},
]


def write_tweets(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in TWEETS), encoding="utf8")
    return path


@pytest.mark.parametrize("where", ["the input's folder", "the input file"])
def test_output_that_is_or_holds_the_input_fails_before_any_work_and_keeps_it(model, tmp_path, where):
    """It once emptied the input (131 bytes to 0) and printed 'Annotated 0 posts'."""
    posts = write_tweets(tmp_path / "data")
    before = posts.read_bytes()
    output = posts.parent if where == "the input's folder" else posts
    result = run(model, posts, output, "--id-column", "tweet_id", exit_code=1)
    assert "name a separate output" in " ".join(result.output.split())
    assert posts.read_bytes() == before
    assert sorted(p.name for p in posts.parent.iterdir()) == ["posts.jsonl"]


def test_a_jsonl_output_inside_an_input_folder_is_refused(model, tmp_path):
    posts = write_tweets(tmp_path / "data")
    result = run(model, posts.parent, posts.parent / "entities.jsonl", "--id-column", "tweet_id", exit_code=1)
    assert "read as posts" in " ".join(result.output.split())
    assert not (posts.parent / "entities.jsonl").exists()


def test_another_tools_file_in_the_output_folder_is_left_untouched_and_named(model, tmp_path, caplog):
    posts = write_tweets(tmp_path / "data")
    results = tmp_path / "results"
    results.mkdir()
    other = results / "other_tool.jsonl"
    other.write_text('{"doc": 1, "score": 0.5}\n{"doc": 2, "score": 0.25}\n', encoding="utf8")
    before = other.read_bytes()
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        run(model, posts, results, "--id-column", "tweet_id", "--code", batch_support.CODE)
        run(model, posts, results, "--id-column", "tweet_id", "--code", batch_support.CODE)  # a resume
    assert other.read_bytes() == before
    assert "other_tool.jsonl" in caplog.text and "left untouched" in caplog.text
    parts = [p for p in results.iterdir() if p != other]
    assert len(parts) == 1 and parts[0].name.startswith("part-")
    assert sorted(row["id"] for row in read_rows(parts[0])) == ["t1", "t2", "t3"]  # each once


@pytest.mark.parametrize(
    "content",
    [
        '{"doc": 1, "score": 0.5}\n{"doc": 2, "score": 0.25}\n',
        '{"id": "t1", "text": "Obama in Paris"}\n',  # someone's posts: an id, but not our row
        '{"doc": 1, "score": 0.5}',  # one line, no newline: not a row of ours cut short
    ],
)
def test_a_foreign_jsonl_output_file_is_refused_and_kept(model, tmp_path, content):
    posts = write_tweets(tmp_path / "data")
    other = tmp_path / "other_tool.jsonl"
    other.write_text(content, encoding="utf8")
    before = other.read_bytes()
    result = run(model, posts, other, "--id-column", "tweet_id", exit_code=1)
    assert f"{other}:1 is not a row this job writes" in " ".join(result.output.split())
    assert other.read_bytes() == before


def test_a_whole_last_row_without_its_newline_is_kept(tmp_path):
    output = tmp_path / "out.jsonl"
    output.write_text('{"id": "a", "entities": []}\n{"id": "b", "entities": []}', encoding="utf8")
    assert finished_ids(output, "id", ("entities",)) == {"a", "b"}
    assert output.read_text(encoding="utf8") == '{"id": "a", "entities": []}\n{"id": "b", "entities": []}\n'


def test_parquet_parts_with_and_without_objects_read_as_one_dataset(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.dataset

    with ResultWriter(
        tmp_path / "contexts", id_column="image_id", schema=context_schema, output_format_name="parquet"
    ) as writer:
        writer.write([{"image_id": "a", "objects": [], "caption": "", "ocr": []}])  # list<null> if inferred
        writer.write(
            [
                {
                    "image_id": "b",
                    "objects": [{"label": "bus", "count": 2, "score": 0.8}],
                    "caption": "a bus",
                    "ocr": ["STOP"],
                }
            ]
        )
        writer.write([{"image_id": "a", "objects": [], "caption": "again", "ocr": []}])  # already out: dropped
    table = pyarrow.dataset.dataset(tmp_path / "contexts", format="parquet").to_table()
    assert table.schema == context_schema()
    assert sorted(table.column("image_id").to_pylist()) == ["a", "b"]
    assert finished_ids(tmp_path / "contexts", "image_id") == {"a", "b"}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_two_runs_in_one_process_and_second_keep_each_others_parts(tmp_path, fmt):
    """A resumed job in the same process (and second) once overwrote the first run's parts."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    folder = tmp_path / "contexts"
    for image_id in ("a", "b"):
        with ResultWriter(folder, id_column="image_id", schema=context_schema, output_format_name=fmt) as writer:
            writer.write([{"image_id": image_id, "objects": [], "caption": image_id, "ocr": []}])
    assert finished_ids(folder, "image_id") == {"a", "b"}


def test_pool_options():
    pools = stage_pools(["objects", "ocr"], ["1", "ocr=2-6"], ["0.5"], ["objects=0.25"])
    assert pools == {"objects": PoolSpec(1, 1, 0.5, 0.25), "ocr": PoolSpec(2, 6, 0.5, 0.0)}
    for bad in (["x"], ["3-1"], ["caption=2"]):
        with pytest.raises(ValueError, match="--workers"):
            stage_pools(["objects", "ocr"], bad)


def test_ray_actor_body_reads_a_users_arrow_batch(model, tmp_path, caplog):
    """annotate(ds, ...) on a user's dataset: the actor body (plain Python, no Ray needed to call it)
    takes int ids, a struct context column and a bad row, and returns the fixed schema."""
    pa = pytest.importorskip("pyarrow")
    from spacy_ita.batch.ray_engine import AnnotateActor
    from spacy_ita.batch.schema import annotation_schema

    write_posts(tmp_path)
    batch = pa.Table.from_pylist(
        [
            {
                "id": 1,
                "text": "Messi and Trump in London",
                "image": None,
                "visual_context": {"caption": "a photo of Messi", "objects": [], "ocr": []},
            },
            {"id": 2, "text": "I love Google", "image": str(tmp_path / "img" / "blue.png"), "visual_context": None},
            {"id": 3, "text": None, "image": None, "visual_context": None},
        ]
    )
    actor = AnnotateActor(model, PostColumns(), {"code": batch_support.CODE, "batch_size": 2})
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        table = actor(batch)
    assert table.schema == annotation_schema()
    rows = {row["id"]: row for row in table.to_pylist()}
    assert sorted(rows) == ["1", "2"] and "row with id 3: post '3' has no text" in caplog.text
    assert rows["1"]["view"] == "cross_modal" and rows["1"]["visual_context"] is None
    assert rows["2"]["visual_context"]["ocr"] == ["PARIS"]
