"""`python -m spacy_ita assemble`: an image_aligner goes in front of a trained ita_ner."""

import json
import logging
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import spacy
from chat_server import ChatServer, completion
from package_support import package_and_install, run
from PIL import Image
from spacy.tokens import Doc, Span
from spacy.training import Example
from typer.testing import CliRunner

from spacy_ita.api import make_doc
from spacy_ita.assemble import assemble_pipeline
from spacy_ita.cli import app, register_commands
from spacy_ita.generators.configs import generator_configs


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A saved ita_ner pipeline without an aligner, as `train` leaves it (tiny encoder, initialized only)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64}})
    reference = Doc(nlp.vocab, words=["I", "love", "Paris"])
    reference.ents = [Span(reference, 2, 3, "LOC")]
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=["I", "love", "Paris"]), reference)])
    path = tmp_path_factory.mktemp("trained") / "model-best"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def cli():
    register_commands()  # what `python -m spacy_ita` does before it runs

    def invoke(*args):
        return CliRunner().invoke(app, ["assemble", *[str(a) for a in args]])

    return invoke


def aligner_backends(path):
    return spacy.load(path).get_pipe_config("image_aligner")["backends"]


def test_command_puts_the_aligner_first_with_the_chosen_backends(cli, model_dir, tmp_path):
    output = tmp_path / "assembled"
    result = cli(model_dir, output, "--no-ocr", "--detector", "yolov10n")
    assert result.exit_code == 0, result.output
    assert "image_aligner -> ita_ner" in result.output
    assert spacy.load(output).pipe_names == ["image_aligner", "ita_ner"]
    backends = aligner_backends(output)
    assert backends["ocr"] is None and backends["objects"]["model"] == "yolov10n"


def test_reassembling_replaces_the_aligner(model_dir, tmp_path):
    first = tmp_path / "first"
    assemble_pipeline(model_dir, first, ocr=False, detector="yolov10n")
    nlp = assemble_pipeline(first, tmp_path / "second", ocr="easyocr", detector="none")
    assert nlp.pipe_names == ["image_aligner", "ita_ner"]
    backends = aligner_backends(tmp_path / "second")
    assert backends["objects"] is None and backends["ocr"]["@misc"] == "spacy_ita.EasyOCR.v1"


@pytest.mark.parametrize(
    "options, engine",
    [
        ([], "spacy_ita.RapidOCR.v1"),  # the default engine
        (["--ocr", "rapidocr"], "spacy_ita.RapidOCR.v1"),
        (["--ocr", "easyocr"], "spacy_ita.EasyOCR.v1"),
        (["--ocr", "none"], None),
        (["--ocr", "easyocr", "--no-ocr"], None),  # --no-ocr, as before --ocr took a name
    ],
)
def test_ocr_option_names_the_engine_the_saved_pipeline_loads_with(cli, model_dir, tmp_path, options, engine):
    result = cli(model_dir, tmp_path / "out", *options, "--detector", "yolov10n")
    assert result.exit_code == 0, result.output
    ocr = aligner_backends(tmp_path / "out")["ocr"]
    assert (ocr and ocr["@misc"]) == engine


def test_unknown_ocr_engine_is_a_clear_error(cli, model_dir, tmp_path):
    result = cli(model_dir, tmp_path / "out", "--ocr", "tesseract")
    assert result.exit_code == 1 and "Unknown OCR engine 'tesseract'" in result.output
    assert not (tmp_path / "out").exists()


def test_no_backend_is_a_clear_error(cli, model_dir, tmp_path):
    result = cli(model_dir, tmp_path / "out", "--no-ocr", "--detector", "none")
    assert result.exit_code == 1 and "No backend enabled" in result.output
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="No backend enabled"):
        assemble_pipeline(model_dir, tmp_path / "out", ocr=False, detector="off")


def test_make_doc_sends_pip_users_to_the_command(model_dir):
    with pytest.warns(UserWarning, match="python -m spacy_ita assemble"):
        make_doc(spacy.load(model_dir), "I love Paris", image=Image.new("RGB", (8, 8)))


def test_assemble_prints_the_kinds_beside_the_trained_ones(cli, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64}})
    reference = Doc(nlp.vocab, words=["I", "love", "Paris"])
    reference.ents = [Span(reference, 2, 3, "LOC")]
    predicted = Doc(nlp.vocab, words=["I", "love", "Paris"])
    reference._.visual_context = predicted._.visual_context = {"caption": "a tower", "knowledge": "Paris (city)"}
    nlp.initialize(lambda: [Example(predicted, reference)])
    nlp.to_disk(tmp_path / "captions-model")
    result = cli(tmp_path / "captions-model", tmp_path / "out", "--detector", "yolov10n")
    assert result.exit_code == 0, result.output
    assert "The aligner produces: objects, ocr; ita_ner was trained on: caption (1 docs), knowledge (1 docs)" in (
        " ".join(result.output.split())
    )
    assert "produces none of the kinds the model was trained on" in " ".join(result.output.split())


def test_assemble_says_when_the_model_saw_no_context(cli, model_dir, tmp_path):
    result = cli(model_dir, tmp_path / "out", "--no-ocr", "--detector", "yolov10n")
    assert "ita_ner was trained on: no context" in " ".join(result.output.split())
    assert "produces none" not in result.output


def test_assemble_adds_the_generators_and_names_their_kinds(cli, model_dir, tmp_path):
    """An LLM's knowledge joins the post backends, a VLM's description the image backends;
    the saved config names the key's variable, and no model is asked anything at load."""
    from spacy_ita.assemble import context_kinds

    output = tmp_path / "assembled"
    result = cli(
        model_dir,
        output,
        "--no-ocr",
        "--detector",
        "none",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--knowledge-model",
        "qwen",
        "--description-model",
        "a-vlm",
        "--api-key-env",
        "MY_KEY_VARIABLE",
        "--k",
        "0",
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.load(output)
    config = nlp.get_pipe_config("image_aligner")
    assert config["post_backends"]["knowledge"]["endpoint"]["model"] == "qwen"
    assert config["backends"]["description"]["endpoint"]["api_key_env"] == "MY_KEY_VARIABLE"
    assert {"description", "knowledge"} <= set(context_kinds(nlp)[0])
    # Text-only docs are untouched: no request goes to the (unreachable) endpoint.
    assert nlp("I love Paris")._.visual_context is None or not nlp("I love Paris")._.visual_context.get("knowledge")


def test_a_pipeline_of_an_llm_alone_brings_back_no_default_backend(cli, model_dir, tmp_path):
    """--ocr none --detector none with only --knowledge-model once saved YOLO and OCR again
    (an empty `backends` took the factory's defaults)."""
    from spacy_ita.assemble import context_kinds

    output = tmp_path / "assembled"
    args = ["--ocr", "none", "--detector", "none", "--base-url", "http://127.0.0.1:9/v1", "--knowledge-model", "q"]
    result = cli(model_dir, output, *args, "--k", "0")
    assert result.exit_code == 0, result.output
    nlp = spacy.load(output)
    backends = nlp.get_pipe_config("image_aligner")["backends"]
    assert backends["objects"] is None and backends["ocr"] is None
    assert context_kinds(nlp)[0] == ["knowledge"]


CARRIED_LOAD = textwrap.dedent(
    """
    import json, sys
    import spacy
    endpoint = {"endpoint": {"base_url": sys.argv[3]}}  # a deployment setting: overridden at load
    overrides = {"image_aligner": {"post_backends": {"knowledge": endpoint}, "backends": {"description": endpoint}}}
    nlp = spacy.load(sys.argv[1], config={"components": overrides})  # by package name, from another folder
    aligner = nlp.get_pipe("image_aligner")
    vectors_saved = aligner.post_backends["knowledge"].selector._pool_vectors is not None  # before any embedding
    doc = nlp.make_doc("Durant joins the Warriors")
    doc._.image = sys.argv[2]
    doc = nlp(doc)
    print(json.dumps({"knowledge": doc._.visual_context["knowledge"], "vectors_saved": vectors_saved,
                      "description_system": aligner.backends["description"].template.system}))
    """
)


def test_an_assembled_pipeline_carries_its_prompts_and_demonstrations_when_packaged(model_dir, tmp_path, monkeypatch):
    """Issue #32: `assemble --prompt prompts/x.txt --examples pool/pool.jsonl` saved the relative strings
    only; after `spacy package` and an install, `spacy.load` elsewhere failed with FileNotFoundError."""
    work = tmp_path / "work"
    (work / "prompts").mkdir(parents=True)
    (work / "pool").mkdir()
    (work / "prompts" / "x.txt").write_text("[system]\nCARRIED INSTRUCTION\n[user]\nPost: $text\n$contexts\n")
    (work / "prompts" / "d.txt").write_text("[system]\nCARRIED DESCRIPTION PROMPT\n[user]\nDescribe.\n")
    pool = [
        {"text": "Basketball finals tonight", "knowledge": "DEMO-ANSWER-BASKETBALL"},
        {"text": "Vote in the election", "knowledge": "DEMO-ANSWER-ELECTION"},
    ]
    (work / "pool" / "pool.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pool))
    monkeypatch.chdir(work)  # the paths as a user types them: relative
    configs = generator_configs(
        base_url="http://127.0.0.1:9/v1",
        model="qwen",
        description_model="a-vlm",
        prompt=Path("prompts/x.txt"),
        description_prompt=Path("prompts/d.txt"),
        examples=Path("pool/pool.jsonl"),
        k=1,
    )
    assemble_pipeline(model_dir, tmp_path / "assembled", ocr=False, detector="none", generators=configs)
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(work)  # the originals are gone

    _, site = package_and_install(tmp_path / "assembled", tmp_path, "carried", "0.0.1", dataset="carried")
    image = tmp_path / "elsewhere" / "photo.png"
    image.parent.mkdir()
    Image.new("RGB", (32, 32), "red").save(image)

    def behave(body, attempt):
        system = body["messages"][0]["content"]
        if "CARRIED DESCRIPTION PROMPT" in system:
            return 200, completion("a red square"), 0
        shown = " ".join(m["content"] for m in body["messages"] if m["role"] == "assistant")
        return 200, completion(f"system={system} demos={shown}"), 0

    with ChatServer(behave) as server:
        env = {**os.environ, "PYTHONPATH": str(site)}
        args = (sys.executable, "-c", CARRIED_LOAD, "en_carried", image, server.base_url)
        got = json.loads(run(*args, env=env, cwd=image.parent, timeout=300).stdout.strip().splitlines()[-1])
    assert got["vectors_saved"]
    assert got["description_system"] == "CARRIED DESCRIPTION PROMPT"
    assert "CARRIED INSTRUCTION" in got["knowledge"]
    assert "DEMO-ANSWER-BASKETBALL" in got["knowledge"]  # the nearest demonstration, from the carried pool


@pytest.mark.parametrize("prompt", ["missing.txt", "."])
def test_a_generator_file_that_cannot_be_read_is_a_clear_error_and_nothing_is_saved(cli, model_dir, tmp_path, prompt):
    args = ["--ocr", "none", "--detector", "none", "--base-url", "http://127.0.0.1:9/v1", "--knowledge-model", "q"]
    result = cli(model_dir, tmp_path / "out", *args, "--prompt", tmp_path / prompt)
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and f"prompt template {tmp_path / prompt} " in said, said
    assert "Traceback" not in said and ("does not exist" in said or "is a folder, not a file" in said)
    assert not (tmp_path / "out").exists()


def test_an_assembled_pipeline_carries_its_kb_and_reads_it_on_text(cli, model_dir, tmp_path, monkeypatch):
    """Issue #31: `assemble --kb FILE` puts the retriever in the pipeline with a copy of the KB; the
    pipeline moved to another folder, the original KB deleted, `nlp(text)` still reads the `kb` kind."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "players.jsonl").write_text(json.dumps({"name": "Kevin Durant", "description": "basketball player"}))
    monkeypatch.chdir(work)  # a relative path, as a user types it
    result = cli(model_dir, tmp_path / "assembled", "--ocr", "none", "--detector", "none", "--kb", "players.jsonl")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(work)
    moved = tmp_path / "elsewhere" / "pipeline"
    shutil.copytree(tmp_path / "assembled", moved)
    shutil.rmtree(tmp_path / "assembled")
    assert "players.jsonl" in (moved / "config.cfg").read_text() and str(work) not in (moved / "config.cfg").read_text()
    nlp = spacy.load(moved)
    doc = nlp("Kevin Durant joins the Warriors")
    assert doc._.visual_context["kb"] == "Kevin Durant: basketball player"
    assert nlp.get_pipe("ita_ner").view_for(doc) == "cross_modal"


@pytest.mark.parametrize("rows", [[], ["{not json", {"aliases": ["x"]}]])
def test_a_kb_without_a_readable_entity_fails_assemble_not_the_first_doc(cli, model_dir, tmp_path, rows):
    """A fresh user's trial (issue #31): an empty or unreadable KB was saved into the pipeline
    with a success message, and the pipeline then failed on its first doc."""
    kb = tmp_path / "kb.jsonl"
    kb.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf8")
    result = cli(model_dir, tmp_path / "out", "--ocr", "none", "--detector", "none", "--kb", kb)
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "no readable entity" in said and str(kb) in said, said
    assert "Traceback" not in said and not (tmp_path / "out").exists()


def test_assemble_names_a_kb_s_bad_rows_by_the_user_s_file(cli, model_dir, tmp_path, caplog):
    kb = tmp_path / "players.jsonl"
    kb.write_text(json.dumps({"name": "Kevin Durant"}) + "\n{broken\n", "utf8")
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        result = cli(model_dir, tmp_path / "out", "--ocr", "none", "--detector", "none", "--kb", kb)
    assert result.exit_code == 0, result.output
    assert any(f"{kb}:2" in record.getMessage() for record in caplog.records)
