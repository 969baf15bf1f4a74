"""`evaluate-views --displacy-path`: the pages `spacy evaluate --displacy-path` writes
for a `ner` component but not for `ita_ner` (README, "Train and evaluate")."""

import typer
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_ita.cli.evaluate_views import evaluate_views

from reliability_support import make_examples, trained_nlp


def test_displacy_path_writes_the_entity_and_context_pages(tmp_path):
    nlp = trained_nlp()
    nlp.to_disk(tmp_path / "model")
    corpus = DocBin(store_user_data=True)
    for i, eg in enumerate(make_examples(nlp, 6)):
        eg.reference._.image_id = str(i)
        corpus.add(eg.reference)
    corpus.to_disk(tmp_path / "dev.spacy")
    app = typer.Typer()
    app.command()(evaluate_views)
    pages = tmp_path / "pages"
    args = [str(tmp_path / "model"), str(tmp_path / "dev.spacy"), "--displacy-path", str(pages), "-dl", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    entities = (pages / "entities.html").read_text(encoding="utf8")
    assert entities.count("<mark") >= 1 and "Obama" in entities  # displaCy's entity marks, the tagger's
    contexts = (pages / "contexts.html").read_text(encoding="utf8")
    assert contexts.count('class="ita-doc"') == 4 and "a photo of Paris" in contexts  # a post's context
