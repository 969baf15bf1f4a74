"""Prompt templates, answer cleaning and the choice of demonstrations."""

import json

import numpy
import pytest

from spacy_ita.generators import (
    ChatEndpoint,
    Demonstration,
    DemonstrationSelector,
    LLMKnowledge,
    PromptTemplate,
    clean_answer,
    read_demonstrations,
    render_contexts,
)


def test_the_shipped_templates_parse_and_render():
    template = PromptTemplate.load(None, "knowledge.txt")
    assert "named entities" in template.system.lower()
    rendered = template.render_user(text="Durant joins", contexts="Image caption: a man")
    assert rendered == "Text: Durant joins\nImage caption: a man"
    assert PromptTemplate.load(None, "description.txt").render_user()


def test_a_user_template_replaces_the_default_and_bad_ones_fail_clearly(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("[system]\nBe brief.\n[user]\nPost: $text ($$5)\n")
    assert PromptTemplate.load(path, "knowledge.txt").render_user(text="hi", contexts="") == "Post: hi ($5)"
    path.write_text("[user]\n$text\n")
    with pytest.raises(ValueError, match=r"one \[system\] and one \[user\]"):
        PromptTemplate.load(path, "knowledge.txt")
    path.write_text("[system]\nx\n[user]\n$post\n")
    with pytest.raises(ValueError, match=r"unknown placeholder \$post"):
        PromptTemplate.load(path, "knowledge.txt").render_user(text="hi", contexts="")


def test_answers_are_cleaned_and_capped_in_words():
    assert clean_answer("  Named\n\nentities:\t1. X  ", 10) == "Named entities: 1. X"
    assert clean_answer("one two three four", 2) == "one two"
    assert clean_answer(None, 5) == ""


def test_existing_contexts_are_shown_but_never_the_knowledge_asked_for():
    context = {"caption": "a man", "ocr": ["STOP"], "knowledge": "old answer"}
    shown = render_contexts(context, ["caption", "ocr", "description"])
    assert shown == "Image caption: a man\nText in the image: STOP"
    assert render_contexts(None, ["caption"]) == "Image: nothing known"


class ByKeyword:
    """A stand-in embedder: one axis per keyword (the real one is all-MiniLM-L6-v2)."""

    WORDS = ("basketball", "concert", "election")

    def __call__(self, texts):
        rows = numpy.array([[float(w in t.lower()) for w in self.WORDS] + [0.1] for t in texts], dtype="float32")
        return rows / numpy.linalg.norm(rows, axis=1, keepdims=True)


POOL = [
    Demonstration("Vote in the election today", "A1"),
    Demonstration("Great concert tonight", "A2", {"caption": "a crowd at a concert"}),
    Demonstration("Basketball finals", "A3"),
]


def test_the_k_most_similar_demonstrations_come_nearest_last():
    selector = DemonstrationSelector(POOL, 2, ByKeyword())
    [chosen] = selector.select([("who won the basketball game", {"caption": "a concert stage"})])
    assert [d.answer for d in chosen][-1] in ("A2", "A3") and len(chosen) == 2
    assert DemonstrationSelector(POOL, 0, ByKeyword()).select([("x", None)]) == [[]]
    assert len(DemonstrationSelector(POOL, 10, ByKeyword()).select([("x", None)])[0]) == 3


def test_prompts_hold_the_demonstrations_as_earlier_turns():
    endpoint = ChatEndpoint("http://127.0.0.1:9/v1", "m")
    knowledge = LLMKnowledge(
        endpoint, PromptTemplate.load(None, "knowledge.txt"), selector=DemonstrationSelector(POOL, 1, ByKeyword())
    )
    [messages] = knowledge.messages([("p", "the election results", {"caption": "a ballot"})])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"].startswith("Text: Vote in the election today") and messages[2]["content"] == "A1"
    assert messages[3]["content"] == "Text: the election results\nImage caption: a ballot"
    # The cache key holds the model and the settings, never the URL.
    assert "127.0.0.1" not in knowledge.signature and '"model": "m"' in knowledge.signature


def test_a_pool_file_is_read_and_bad_lines_are_skipped(tmp_path, caplog):
    path = tmp_path / "pool.jsonl"
    lines = [
        {"text": "Durant joins", "knowledge": "Durant (person)", "caption": "a man"},
        {"text": "", "knowledge": "no text"},
        {"text": "no answer"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    pool = read_demonstrations(path)
    assert [(d.text, d.answer, d.context["caption"]) for d in pool] == [("Durant joins", "Durant (person)", "a man")]
    assert "skipped" in caplog.text


def test_twitter_pool_joins_pgim_examples_with_train_text_and_captions(shared_data):
    from spacy_ita.data.contexts import VisualSources
    from spacy_ita.generators import read_demonstration_posts

    contexts = shared_data / "contexts"
    pool = read_demonstration_posts(
        contexts / "pgim-examples" / "twitter2017.jsonl",
        shared_data / "twitter2017" / "train.txt",
        VisualSources.load(contexts=[contexts / "blip2-captions.jsonl"]),
    )
    assert len(pool) == 202
    assert all(d.text and d.answer and d.context["caption"] and not d.context["knowledge"] for d in pool)
