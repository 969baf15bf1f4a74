"""`python -m spacy_ita assemble`: an image_aligner goes in front of a trained ita_ner."""

import pytest
import spacy
from PIL import Image
from spacy.tokens import Doc, Span
from spacy.training import Example
from typer.testing import CliRunner

from spacy_ita.api import make_doc
from spacy_ita.assemble import assemble_pipeline
from spacy_ita.cli import app, register_commands


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
