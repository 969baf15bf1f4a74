"""The API key is read from the environment variable a setting names, sent to the
endpoint, and never written: not in a config, a saved pipeline, the cache, the
output or a log (even at DEBUG level, where the openai client logs its requests)."""

import json
import logging

import spacy
from chat_server import ChatServer, completion
from PIL import Image

from spacy_ita import extensions  # noqa: F401  (doc._.image, doc._.visual_context)
from spacy_ita.aligners.cache import AlignmentCache
from spacy_ita.generators import generate_contexts
from spacy_ita.generators.configs import generator_configs

KEY = "sk-test-NEVER-WRITTEN-4f1c9a"
KEY_ENV = "SPACY_ITA_TEST_KEY"


def files_containing(root, secret):
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_the_key_reaches_the_endpoint_and_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (10, 200, 10)).save(image)
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"id": "p1", "text": "Durant joins Golden State", "image": str(image)}) + "\n")
    try:
        with ChatServer(lambda body, attempt: (200, completion("Named entities: 1. Durant (person)"), 0)) as server:
            configs = generator_configs(
                base_url=server.base_url,
                model="test-model",
                description_model="test-vlm",
                description_base_url=None,
                api_key_env=KEY_ENV,
                prompt=None,
                examples=None,
                examples_posts=None,
                examples_contexts=None,
                k=0,
            )
            built = {kind: spacy.util.registry.resolve({"g": config})["g"] for kind, config in configs.items()}
            summary = generate_contexts(
                posts,
                tmp_path / "out.jsonl",
                knowledge=built["knowledge"],
                description=built["description"],
                cache=AlignmentCache(tmp_path / "cache"),
                progress=False,
            )
            # The same generators in a pipeline, saved and loaded back.
            nlp = spacy.blank("en")
            nlp.add_pipe(
                "image_aligner",
                config={
                    "backends": {"objects": None, "ocr": None, "description": configs["description"]},
                    "post_backends": {"knowledge": configs["knowledge"]},
                    "cache": {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(tmp_path / "nlp-cache")},
                },
            )
            nlp.to_disk(tmp_path / "pipeline")
            loaded = spacy.load(tmp_path / "pipeline")
            doc = loaded.make_doc("Durant joins Golden State")
            doc._.image = str(image)
            doc = loaded(doc)
            headers = list(server.headers)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert not summary.failed["knowledge"] and not summary.failed["description"]
    assert doc._.visual_context["knowledge"] == "Named entities: 1. Durant (person)"
    assert doc._.visual_context["description"]
    # Sent, as a bearer token, on every request...
    assert headers and all(h.get("Authorization") == f"Bearer {KEY}" for h in headers)
    # ...and the variable's name, not the key, is what the saved config holds.
    assert KEY_ENV in (tmp_path / "pipeline" / "config.cfg").read_text()
    assert log_file.stat().st_size > 0
    assert files_containing(tmp_path, KEY) == []


def test_an_unset_key_variable_is_said_once_and_the_request_still_goes(monkeypatch, caplog):
    """A local server needs no key; for a hosted one a misspelt variable must not pass unseen."""
    from spacy_ita.generators import ChatEndpoint

    monkeypatch.delenv("SPACY_ITA_UNSET_KEY", raising=False)
    with ChatServer(lambda body, attempt: (200, completion("fine"), 0)) as server:
        endpoint = ChatEndpoint(server.base_url, "m", api_key_env="SPACY_ITA_UNSET_KEY", max_retries=0)
        with caplog.at_level(logging.WARNING, logger="spacy_ita"):
            answers = [endpoint.complete([{"role": "user", "content": "hi"}]) for _ in range(2)]
    assert [a.text for a in answers] == ["fine", "fine"]
    assert caplog.text.count("SPACY_ITA_UNSET_KEY is not set") == 1
