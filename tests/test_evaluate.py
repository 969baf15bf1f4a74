"""`evaluate-views --displacy-path`: the pages `spacy evaluate --displacy-path` writes
for a `ner` component but not for `ita_ner` (README, "Train and evaluate")."""

import typer
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_ita.cli.evaluate_views import evaluate_views_command

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
    app.command()(evaluate_views_command)
    pages = tmp_path / "pages"
    args = [str(tmp_path / "model"), str(tmp_path / "dev.spacy"), "--displacy-path", str(pages), "-dl", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    entities = (pages / "entities.html").read_text(encoding="utf8")
    assert entities.count("<mark") >= 1 and "Obama" in entities  # displaCy's entity marks, the tagger's
    contexts = (pages / "contexts.html").read_text(encoding="utf8")
    assert contexts.count('class="ita-doc"') == 4 and "a photo of Paris" in contexts  # a post's context


def test_splits_scores_each_split_of_a_corpus_folder_apart(tmp_path):
    """The workflow's evaluate step: dev and test of corpus/<dataset>/ each to its own JSON;
    an absent split is skipped, the demo's scores carry the demo notice."""
    import srsly

    from spacy_ita.demo import DEMO_NOTICE

    nlp = trained_nlp()
    nlp.to_disk(tmp_path / "model")
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    DocBin(docs=[eg.reference for eg in make_examples(nlp, 4)], store_user_data=True).to_disk(corpus_dir / "dev.spacy")
    app = typer.Typer()
    app.command()(evaluate_views_command)
    metrics = tmp_path / "metrics"
    args = [str(tmp_path / "model"), str(corpus_dir), "--splits", "dev,test", "--output", str(metrics)]
    result = CliRunner().invoke(app, args + ["--dataset", "demo"])
    assert result.exit_code == 0, result.output
    assert "No test.spacy" in result.output and not (metrics / "test.json").exists()
    dev = srsly.read_json(metrics / "dev.json")
    assert dev["note"] == DEMO_NOTICE and dev["dataset"] == "demo" and dev["n_docs"] == 4 and "text_only" in dev
    failed = CliRunner().invoke(app, [str(tmp_path / "model"), str(corpus_dir), "--splits", "test", "-o", str(metrics)])
    assert failed.exit_code == 1 and "None of test.spacy" in failed.output
    single = CliRunner().invoke(app, [str(tmp_path / "model"), str(corpus_dir)])
    assert single.exit_code == 0 and "one corpus" not in " ".join(single.output.split())
    (corpus_dir / "train.spacy").write_bytes((corpus_dir / "dev.spacy").read_bytes())
    merged = CliRunner().invoke(app, [str(tmp_path / "model"), str(corpus_dir)])
    assert merged.exit_code == 0 and "scored as one corpus" in " ".join(merged.output.split())
    no_folder = CliRunner().invoke(app, [str(tmp_path / "model"), str(corpus_dir / "dev.spacy"), "--splits", "dev"])
    assert no_folder.exit_code == 1 and "folder" in no_folder.output
