"""Every context kind (objects, ocr, caption, description, knowledge) from several
sources: reading, merging, the per-kind token budget, kind dropout, the kinds a
model was trained on, and malformed files (BOM, non-UTF-8)."""

import json
import logging
import random

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

import spacy_ita  # noqa: F401
from spacy_ita.cli import app, register_commands
from spacy_ita.data import MNERFormatError, VisualSources, read_captions, read_context_jsonl, read_docbin, read_mner
from spacy_ita.data.corpus import create_mner_corpus
from spacy_ita.ner.inputs import ViewEncoder
from spacy_ita.visual_context import CONTEXT_KINDS, context_pieces, context_text, normalize_context
from spacy_ita.visualize import context_html

from reliability_support import tiny_nlp

DESCRIPTION = (
    "The image shows a large stadium filled with fans in red shirts , a banner reading "
    "LIVERPOOL FC hangs above the stand and several players walk onto the pitch"
) * 3
KNOWLEDGE = "Named entities: 1. Liverpool (sports team) 2. Anfield (location) Reasoning: the post mentions a match"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf8")
    return path


def test_shared_format_lines_are_read_as_they_are(tmp_path):
    """The lines of ../shared/data/contexts: `image_id` and one field named by its kind."""
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"image_id": "17_06_1", "description": DESCRIPTION},
            {"image_id": "17_06_1", "knowledge": KNOWLEDGE},
            {"image_id": "17_06_2", "caption": "a dog on a beach"},
        ],
    )
    contexts = read_context_jsonl(path)
    assert contexts["17_06_1"]["description"] == DESCRIPTION
    assert contexts["17_06_1"]["knowledge"] == KNOWLEDGE  # merged with the line before, kind by kind
    assert contexts["17_06_2"] == {**normalize_context(None), "caption": "a dog on a beach"}
    assert set(contexts["17_06_2"]) == set(CONTEXT_KINDS)


def test_unknown_field_is_a_warning_naming_it(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "typo.jsonl",
        [{"image_id": "1", "captions": "a cat", "ocr": ["HI"]}, {"image_id": "2", "captions": "a dog"}],
    )
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        contexts = read_context_jsonl(path)
    warnings = [r.getMessage() for r in caplog.records if "'captions'" in r.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0] and "not read" in warnings[0]
    assert contexts["1"]["ocr"] == ["HI"] and contexts["1"]["caption"] == ""


def test_several_sources_later_wins_kind_by_kind(tmp_path):
    first = write_jsonl(
        tmp_path / "first.jsonl",
        [
            {"image_id": "1", "caption": "git caption", "ocr": ["SALE"]},
            {"image_id": "2", "caption": "only in the first"},
        ],
    )
    second = write_jsonl(
        tmp_path / "second.jsonl", [{"image_id": "1", "caption": "blip caption", "description": "a long description"}]
    )
    captions = tmp_path / "captions.csv"
    captions.write_text("image_name;caption\n1.jpg;csv caption\n3.jpg;csv only\n", encoding="utf8")
    sources = VisualSources.load(captions=captions, contexts=[first, second])
    one = sources.context_for("1")
    assert one["caption"] == "blip caption"  # the later source wins for the kind both give
    assert one["ocr"] == ["SALE"] and one["description"] == "a long description"  # nothing else is lost
    assert sources.context_for("2")["caption"] == "only in the first"
    assert sources.context_for("3")["caption"] == "csv only"  # the CSV comes first of all
    # The other order: the other caption wins.
    assert VisualSources.load(contexts=[second, first]).context_for("1")["caption"] == "git caption"


def test_context_folder_of_part_files(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write_jsonl(folder / "part-0001.jsonl", [{"image_id": "1", "objects": [], "ocr": [], "caption": ""}])
    write_jsonl(folder / "part-0000.jsonl", [{"image_id": "2", "objects": ["bus"], "ocr": ["STOP"], "caption": ""}])
    (folder / "_SUCCESS").write_text("")
    contexts = read_context_jsonl(folder)
    assert set(contexts) == {"1", "2"} and contexts["2"]["ocr"] == ["STOP"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no .jsonl or .parquet files"):
        read_context_jsonl(empty)


def test_context_folder_of_parquet_parts(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet part files need pyarrow (the ray extra)")
    import pyarrow.parquet as pq

    folder = tmp_path / "parts"
    folder.mkdir()
    object_type = pa.list_(pa.struct([("label", pa.string()), ("count", pa.int64()), ("score", pa.float64())]))
    schema = pa.schema(
        [("image_id", pa.string()), ("objects", object_type), ("ocr", pa.list_(pa.string())), ("caption", pa.string())]
    )
    pq.write_table(
        pa.Table.from_pylist([{"image_id": "1", "objects": [], "ocr": [], "caption": ""}], schema), folder / "a.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "image_id": "2",
                    "objects": [{"label": "bus", "count": 2, "score": 0.5}],
                    "ocr": ["STOP"],
                    "caption": None,
                }
            ],
            schema,
        ),
        folder / "b.parquet",
    )
    contexts = read_context_jsonl(folder)
    assert contexts["2"]["objects"] == [{"label": "bus", "count": 2, "score": 0.5}] and contexts["2"]["caption"] == ""


def test_byte_order_mark_is_read_transparently(tmp_path):
    mner = tmp_path / "bom.txt"
    mner.write_bytes("\ufeffIMGID:1\nParis\tB-LOC\n".encode("utf8"))
    assert [(r.image_id, r.tokens) for r in read_mner(mner)] == [("1", ["Paris"])]
    captions = tmp_path / "bom.csv"
    captions.write_bytes("\ufeffimage_name;caption\n1.jpg;a city\n".encode("utf8"))
    assert read_captions(captions) == {"1": "a city"}
    contexts = tmp_path / "bom.jsonl"
    contexts.write_bytes(("\ufeff" + json.dumps({"image_id": "1", "knowledge": "Paris (city)"}) + "\n").encode("utf8"))
    assert read_context_jsonl(contexts)["1"]["knowledge"] == "Paris (city)"


@pytest.mark.parametrize("kind", ["mner", "captions", "contexts"])
def test_non_utf8_byte_is_a_file_line_error(tmp_path, kind):
    path = tmp_path / f"latin1.{kind}"
    if kind == "mner":
        path.write_bytes(b"IMGID:1\nParis\tB-LOC\ncaf\xe9\tO\n")
        read = lambda: list(read_mner(path))  # noqa: E731
    elif kind == "captions":
        path.write_bytes(b"image_name;caption\n1.jpg;a caf\xe9\n")
        read = lambda: read_captions(path)  # noqa: E731
    else:
        path.write_bytes(b'{"image_id": "1", "caption": "ok"}\n{"image_id": "2", "caption": "caf\xe9"}\n')
        read = lambda: read_context_jsonl(path)  # noqa: E731
    line = 3 if kind == "mner" else 2
    with pytest.raises(MNERFormatError, match=rf"^{path}:{line}: not UTF-8: byte 0xe9"):
        read()


def test_new_kinds_survive_docbin_and_render(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp("Liverpool win at Anfield")
    doc._.visual_context = normalize_context({"description": DESCRIPTION, "knowledge": KNOWLEDGE})
    bin_path = tmp_path / "d.spacy"
    DocBin(store_user_data=True, docs=[doc]).to_disk(bin_path)
    restored = next(read_docbin(bin_path))
    assert restored._.visual_context == doc._.visual_context
    assert Doc(nlp.vocab).from_bytes(doc.to_bytes())._.visual_context["knowledge"] == KNOWLEDGE
    page = context_html(restored._.visual_context)
    assert "Description" in page and "Knowledge" in page and "Anfield (location)" in page
    pieces = context_pieces(doc._.visual_context, ["knowledge", "description"])
    assert [kind for kind, _ in pieces] == ["knowledge", "description"]
    assert context_text(doc._.visual_context, ["knowledge"]) == KNOWLEDGE


def test_corpus_reader_takes_a_list_of_sources_from_the_config(tmp_path):
    posts = tmp_path / "posts.txt"
    posts.write_text("IMGID:1\nLiverpool\tB-ORG\nwin\tO\n\nIMGID:2\nhello\tO\n", encoding="utf8")
    blip = write_jsonl(tmp_path / "blip.jsonl", [{"image_id": "1", "caption": "a stadium"}])
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    write_jsonl(knowledge / "train.jsonl", [{"image_id": "1", "knowledge": KNOWLEDGE}])
    config = spacy.util.load_config_from_str(f"""
[corpora]
[corpora.train]
@readers = "spacy_ita.MNERCorpus.v1"
path = "{posts}"
contexts = ["{blip}", "{knowledge}"]
""")
    corpus = spacy.util.registry.resolve(config)["corpora"]["train"]
    examples = list(corpus(spacy.blank("en")))
    first = examples[0].predicted._.visual_context
    assert first["caption"] == "a stadium" and first["knowledge"] == KNOWLEDGE
    assert examples[1].predicted._.visual_context is None
    # One source as a plain string still works.
    single = create_mner_corpus(str(posts), contexts=str(blip))
    assert list(single(spacy.blank("en")))[0].predicted._.visual_context["caption"] == "a stadium"


def test_convert_takes_repeated_contexts(tmp_path):
    posts = tmp_path / "posts.txt"
    posts.write_text("IMGID:1\nLiverpool\tB-ORG\n\nIMGID:2\nhello\tO\n", encoding="utf8")
    blip = write_jsonl(
        tmp_path / "blip.jsonl", [{"image_id": "1", "caption": "a stadium"}, {"image_id": "2", "caption": "a wall"}]
    )
    knowledge = write_jsonl(tmp_path / "k.jsonl", [{"image_id": "1", "knowledge": KNOWLEDGE}])
    register_commands()
    result = CliRunner().invoke(
        app, ["convert", str(posts), str(tmp_path / "out.spacy"), "--contexts", str(blip), "--contexts", str(knowledge)]
    )
    assert result.exit_code == 0, result.output
    assert "caption 2" in result.output and "knowledge 1" in result.output
    docs = list(read_docbin(tmp_path / "out.spacy"))
    assert docs[0]._.visual_context["knowledge"] == KNOWLEDGE and docs[1]._.visual_context["caption"] == "a wall"
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"image_id": "1", "caption": "\xff"}\n')
    result = CliRunner().invoke(app, ["convert", str(posts), str(tmp_path / "out2.spacy"), "--contexts", str(bad)])
    assert result.exit_code == 1 and f"{bad}:1: not UTF-8" in result.output


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from spacy_ita.resources import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("tiny-bert-2l"))


def decode_words(tokenizer, ids):
    return tokenizer.decode(ids).split()


def test_each_kind_is_cut_at_a_word_to_its_budget(tokenizer):
    encoder = ViewEncoder(
        tokenizer, max_length=128, max_context_tokens=48, context_budget={"caption": 8, "description": 12, "ocr": 8}
    )
    long_description = "unbelievably " + "a stadium with many supporters " * 20
    pieces = [("caption", "a man on a stage"), ("description", long_description), ("ocr", "LIVERPOOL FC 2 1")]
    ids = encoder.context_ids([pieces])[0]
    words = decode_words(tokenizer, ids)
    # The description does not crowd out the OCR that comes after it.
    assert words[-4:] == ["liverpool", "fc", "2", "1"]
    description = " ".join(words).split(" ; ")[1].split()
    # Whole words only: the description's text is a prefix of its words.
    assert description == long_description.lower().split()[: len(description)]
    per_word = [len(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in long_description.split()]
    kept = len(description)
    assert sum(per_word[:kept]) <= 12 < sum(per_word[: kept + 1])
    assert len(ids) <= 48


def test_total_cap_is_cut_at_a_word_and_a_plain_text_still_works(tokenizer):
    encoder = ViewEncoder(tokenizer, max_length=128, max_context_tokens=10)
    ids = encoder.context_ids(
        [[("knowledge", "one two three four five six seven eight nine ten eleven twelve")], "a plain caption", None, []]
    )
    assert decode_words(tokenizer, ids[0]) == "one two three four five six seven eight nine ten".split()
    assert decode_words(tokenizer, ids[1]) == ["a", "plain", "caption"]
    assert ids[2] == [] and ids[3] == []


def examples_with(nlp, contexts):
    from spacy.tokens import Span
    from spacy.training import Example

    examples = []
    for i, context in enumerate(contexts):
        words = ["I", "love", "Paris", str(i)]
        reference = Doc(nlp.vocab, words=words)
        reference.ents = [Span(reference, 2, 3, "LOC")]
        predicted = Doc(nlp.vocab, words=words)
        reference._.visual_context = predicted._.visual_context = normalize_context(context) if context else None
        examples.append(Example(predicted, reference))
    return examples


def test_trained_kinds_are_recorded_and_unseen_kinds_warn_once(tmp_path, caplog):
    nlp = tiny_nlp()
    contexts = [{"caption": "a city"}, {"caption": "a tower", "knowledge": "Paris (city)"}, None]
    nlp.initialize(lambda: examples_with(nlp, contexts))
    pipe = nlp.get_pipe("ita_ner")
    assert pipe.cfg["trained_context_kinds"] == {"caption": 2, "knowledge": 1} and pipe.cfg["trained_docs"] == 3
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("ita_ner").cfg["trained_context_kinds"] == {"caption": 2, "knowledge": 1}

    def tagged(context):
        doc = loaded.make_doc("I love Paris")
        doc._.visual_context = normalize_context(context)
        return loaded(doc)

    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        tagged({"caption": "a city", "ocr": ["PARIS"]})  # shares a trained kind: no warning
        assert not [r for r in caplog.records if "never saw in training" in r.getMessage()]
        tagged({"objects": ["person"], "ocr": ["PARIS"]})
        tagged({"objects": ["car"]})
    warned = [r.getMessage() for r in caplog.records if "never saw in training" in r.getMessage()]
    assert len(warned) == 1
    assert "['caption', 'knowledge']" in warned[0] and "['objects', 'ocr']" in warned[0]
    assert 'inference_view = "text"' in warned[0]


def test_text_only_model_records_no_kinds():
    nlp = tiny_nlp(views=["text"])
    nlp.initialize(lambda: examples_with(nlp, [{"caption": "a city"}, None]))
    assert nlp.get_pipe("ita_ner").cfg["trained_context_kinds"] == {}


def test_a_text_only_model_never_reads_a_context_and_is_scored_in_its_one_view():
    """A model trained with views = ["text"] never saw a context: with the default
    inference_view "auto" it must not read one either (predictions, the reported view,
    evaluate-views' rows), while an ITA model reads it."""
    from spacy_ita.evaluate import pipeline_reads_context, score_views

    contexts = [{"caption": "a city"}, None]
    text_only, ita = tiny_nlp(views=["text"]), tiny_nlp()
    for nlp in (text_only, ita):
        nlp.initialize(lambda nlp=nlp: examples_with(nlp, contexts))
    doc = text_only.make_doc("I love Paris")
    doc._.visual_context = normalize_context({"caption": "a city"})
    assert text_only.get_pipe("ita_ner").read_with(doc) is None
    assert text_only.get_pipe("ita_ner").view_for(doc) == "text_only"
    assert ita.get_pipe("ita_ner").view_for(doc) == "cross_modal"
    assert not pipeline_reads_context(text_only) and pipeline_reads_context(ita)
    assert list(score_views(text_only, examples_with(text_only, contexts))) == ["text_only"]
    assert list(score_views(ita, examples_with(ita, contexts))) == ["cross_modal", "text_only"]


def test_kind_dropout_leaves_kinds_out_in_training_only():
    nlp = tiny_nlp(context_kind_dropout=0.5)
    pipe = nlp.get_pipe("ita_ner")
    context = [("caption", "a"), ("ocr", "B"), ("knowledge", "c"), ("description", "d")]
    random.seed(0)
    kept = [pipe.context_reading.drop_kinds(context) for _ in range(400)]
    sizes = [len(k or []) for k in kept]
    assert 1.6 < sum(sizes) / len(sizes) < 2.4  # about half of 4 kinds
    assert any(k is None for k in kept)  # every kind dropped: the post trains text-only
    assert all(k is None or set(k) <= set(context) for k in kept)
    nlp.initialize(lambda: examples_with(nlp, [{"caption": "a city", "ocr": ["X"]}] * 4))
    batch = pipe.training_batch(examples_with(nlp, [{"caption": "a city", "ocr": ["X"]}] * 40))
    assert {len(c or []) for c in batch.contexts} == {0, 1, 2}
    # Prediction never drops a kind.
    doc = nlp.make_doc("I love Paris")
    doc._.visual_context = normalize_context({"caption": "a city", "ocr": ["X"]})
    assert pipe.context_of(doc) == [("caption", "a city"), ("ocr", "X")]
    with pytest.raises(ValueError, match="context_kind_dropout"):
        tiny_nlp(context_kind_dropout=1.0)


def test_shared_contexts_cover_the_real_posts(shared_data):
    contexts_dir = shared_data / "contexts"
    if not contexts_dir.is_dir():
        pytest.skip(f"shared contexts not found at {contexts_dir}")
    sources = VisualSources.load(
        contexts=[
            contexts_dir / "blip2-captions.jsonl",
            contexts_dir / "gpt4-descriptions-twitter2017.jsonl",
            contexts_dir / "pgim-knowledge" / "twitter2017",
        ]
    )
    ids = [r.image_id for r in read_mner(shared_data / "twitter2017" / "valid.txt")]
    kinds = {kind: sum(bool((sources.context_for(i) or {}).get(kind)) for i in ids) for kind in CONTEXT_KINDS}
    assert len(ids) == 723
    assert kinds["caption"] == kinds["description"] == 723  # BLIP-2 and GPT-4 cover every Twitter-2017 image
    assert kinds["knowledge"] >= 700 and kinds["objects"] == kinds["ocr"] == 0


def test_make_doc_takes_every_kind_and_names_unknown_fields(caplog):
    from spacy_ita import make_doc

    nlp = spacy.blank("en")
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        doc = make_doc(nlp, "Liverpool win", visual_context={"knowledge": KNOWLEDGE, "descripton": "typo"})
    assert doc._.visual_context["knowledge"] == KNOWLEDGE
    assert any("'descripton'" in r.getMessage() and "make_doc" in r.getMessage() for r in caplog.records)
