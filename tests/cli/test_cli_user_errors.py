"""Issue #32: a user's mistake is a short message, not a traceback (`evaluate-views MODEL
EMPTY_DIR` printed 86 lines, `generate-contexts --prompt DIR` 137 ending in IsADirectoryError)."""

import json
import subprocess
import sys

import pytest
import spacy


def run_command(*args, cwd):
    result = subprocess.run(
        [sys.executable, "-m", "spacy_ita", *[str(a) for a in args]], capture_output=True, text=True, cwd=cwd
    )
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said, said
    assert len([line for line in said.splitlines() if line.strip()]) <= 4, said  # the message, maybe wrapped
    return " ".join(said.split())


@pytest.fixture(scope="module")
def blank_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "blank"
    spacy.blank("en").to_disk(path)
    return path


def test_evaluating_on_an_empty_folder_says_so(blank_model, tmp_path):
    (tmp_path / "empty").mkdir()
    said = run_command("evaluate-views", blank_model, tmp_path / "empty", cwd=tmp_path)
    assert "no .spacy or .txt files in" in said and "empty" in said


def test_evaluating_a_model_that_is_not_there_says_so(tmp_path):
    (tmp_path / "test.txt").write_text("IMGID:1\nParis\tB-LOC\n\n")
    said = run_command("evaluate-views", tmp_path / "no-model", tmp_path / "test.txt", cwd=tmp_path)
    assert "no-model" in said


def test_a_prompt_that_is_a_folder_says_so_before_anything_is_written(tmp_path):
    (tmp_path / "posts.jsonl").write_text(json.dumps({"id": "a", "text": "a post"}) + "\n")
    (tmp_path / "prompts").mkdir()
    args = ["generate-contexts", "posts.jsonl", "out.jsonl", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    said = run_command(*args, "--prompt", "prompts", cwd=tmp_path)
    assert "prompt template prompts is a folder, not a file" in said
    assert not (tmp_path / "out.jsonl").exists()


def test_evaluating_on_an_empty_file_says_so(blank_model, tmp_path):
    (tmp_path / "test.txt").write_text("")
    said = run_command("evaluate-views", blank_model, tmp_path / "test.txt", cwd=tmp_path)
    assert "test.txt:1: empty file" in said
