"""Our entity-level P/R/F1 (spaCy's NER scorer, through nlp.evaluate and
score_views) equals two independent implementations, seqeval's default mode and
a conlleval-style chunk counter, on the Twitter-2015 valid set with predictions
full of stray I- tags."""

from typing import List, Set, Tuple

import pytest
import spacy
from seqeval.metrics import f1_score, precision_score, recall_score
from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.training import biluo_tags_to_spans, iob_to_biluo
from thinc.api import Model

from spacy_ita.data import create_mner_corpus, read_mner, stray_inside_tags
from spacy_ita.evaluate import score_views
from spacy_ita.ner import ITANER

TYPES = ["PER", "LOC", "ORG", "OTHER"]


def perturb(tags: List[str], seed: int) -> List[str]:
    """Deterministic damage: dropped entity tokens, retagged types, stray I-X
    after O, B- turned into I-, and I- of another type inside an entity."""
    out = []
    for i, tag in enumerate(tags):
        k = seed + i
        prefix, _, label = tag.partition("-")
        other = TYPES[(TYPES.index(label) + 1) % len(TYPES)] if label in TYPES else TYPES[k % 4]
        if tag == "O" and k % 13 == 0:
            tag = f"I-{TYPES[k % 4]}"  # stray I- after O (or at the start)
        elif prefix != "O" and k % 7 == 3:
            tag = "O"  # dropped
        elif prefix == "B" and k % 5 == 1:
            tag = f"B-{other}"  # retagged
        elif prefix == "B" and k % 5 == 2:
            tag = f"I-{label}"  # entity opened with I-
        elif prefix == "I" and k % 3 == 0:
            tag = f"I-{other}"  # type switch inside an entity
        out.append(tag)
    return out


def conlleval_chunks(tags: List[str]) -> Set[Tuple[str, int, int]]:
    """Chunks as conlleval reads BIO: B-X starts one; I-X starts one unless it
    continues a chunk of type X; O, a start or a type change ends the open one."""
    chunks, open_type, start = set(), None, 0
    for i, tag in enumerate(tags + ["O"]):
        prefix, _, label = tag.partition("-")
        starts = prefix == "B" or (prefix == "I" and label != open_type)
        if open_type is not None and (prefix == "O" or starts):
            chunks.add((open_type, start, i))
            open_type = None
        if starts:
            open_type, start = label, i
    return chunks


def conlleval_prf(golds: List[List[str]], preds: List[List[str]]):
    found = correct = expected = 0
    for gold, pred in zip(golds, preds):
        gold_chunks, pred_chunks = conlleval_chunks(gold), conlleval_chunks(pred)
        expected += len(gold_chunks)
        found += len(pred_chunks)
        correct += len(gold_chunks & pred_chunks)
    p, r = correct / found, correct / expected
    return p, r, 2 * p * r / (p + r)


class ReplayTags(ITANER):
    """The real ita_ner component (score_views finds it as one and switches its
    view) with its model replaced by given BIO tags, set spaCy's way."""

    # A plain attribute for ITANER's precision property (#29), which reads the encoder's shim: none here.
    precision = "auto"

    def __init__(self, vocab, name):
        super().__init__(vocab, Model("replay_tags", lambda model, X, is_train: (X, lambda dY: dY)), name)
        self.predictions = {}

    def predict(self, docs):
        return [self.predictions[doc.user_data["reliability_index"]] for doc in docs]

    def set_annotations(self, docs, predictions):
        for doc, tags in zip(docs, predictions):
            doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))

    def score(self, examples, **kwargs):
        return get_ner_prf(examples)


@Language.factory("test_reliability_replay_tags")
def make_replay(nlp, name):
    return ReplayTags(nlp.vocab, name)


@pytest.fixture(scope="module")
def valid(shared_data):
    path = shared_data / "twitter2015" / "valid.txt"
    golds = [record.tags for record in read_mner(path)]
    preds = [perturb(tags, seed) for seed, tags in enumerate(golds)]
    nlp = spacy.blank("en")
    nlp.add_pipe("test_reliability_replay_tags").predictions = dict(enumerate(preds))
    examples = list(create_mner_corpus(path)(nlp))
    assert [len(eg.reference) for eg in examples] == [len(tags) for tags in golds]
    for i, eg in enumerate(examples):
        eg.predicted.user_data["reliability_index"] = i
    return nlp, examples, golds, preds


def test_the_predictions_exercise_stray_inside_tags(valid):
    _, _, golds, preds = valid
    assert sum(len(stray_inside_tags(tags)) for tags in preds) > 200
    assert sum(p != g for pred, gold in zip(preds, golds) for p, g in zip(pred, gold)) > 500


def test_chunk_counter_agrees_with_seqeval(valid):
    _, _, golds, preds = valid
    p, r, f = conlleval_prf(golds, preds)
    assert p == pytest.approx(precision_score(golds, preds), abs=1e-9)
    assert r == pytest.approx(recall_score(golds, preds), abs=1e-9)
    assert f == pytest.approx(f1_score(golds, preds), abs=1e-9)
    assert 0.2 < f < 0.95  # damaged, not destroyed: a meaningful comparison


def test_nlp_evaluate_equals_seqeval_and_conlleval(valid):
    nlp, examples, golds, preds = valid
    scores = nlp.evaluate(examples)
    expected = conlleval_prf(golds, preds)
    seqeval = (precision_score(golds, preds), recall_score(golds, preds), f1_score(golds, preds))
    for ours, theirs, other in zip((scores["ents_p"], scores["ents_r"], scores["ents_f"]), expected, seqeval):
        assert ours == pytest.approx(theirs, abs=1e-9) and ours == pytest.approx(other, abs=1e-9)


def test_per_type_scores_equal_seqeval(valid):
    from seqeval.metrics import classification_report

    nlp, examples, golds, preds = valid
    per_type = nlp.evaluate(examples)["ents_per_type"]
    report = classification_report(golds, preds, output_dict=True)
    for label in TYPES:
        assert per_type[label]["p"] == pytest.approx(report[label]["precision"], abs=1e-9)
        assert per_type[label]["r"] == pytest.approx(report[label]["recall"], abs=1e-9)
        assert per_type[label]["f"] == pytest.approx(report[label]["f1-score"], abs=1e-9)


def test_score_views_reports_the_same_numbers(valid):
    nlp, examples, golds, preds = valid
    expected = conlleval_prf(golds, preds)
    results = score_views(nlp, examples)
    for view in ("cross_modal", "text_only"):
        got = (results[view]["ents_p"], results[view]["ents_r"], results[view]["ents_f"])
        assert got == pytest.approx(expected, abs=1e-9)
    assert nlp.get_pipe("test_reliability_replay_tags").cfg["inference_view"] == "auto"  # restored
