"""`spacy_ita.MNERCorpus.v1`: training examples from a DocBin or a raw MNER text file.

Like spaCy's Corpus, but the predicted doc is built from the reference's words
(so the tokens align exactly, as in gold_preproc) and carries the same doc._
values: the ITA NER reads `eg.predicted._.visual_context`.

    [corpora.train]
    @readers = "spacy_ita.MNERCorpus.v1"
    path = "../shared/data/twitter2015/train.txt"
    captions = "../shared/data/captions-git-base/captions.csv"
    # one context source, or a list: files or folders, the later winning kind by kind
    contexts = ["../shared/data/contexts/blip2-captions.jsonl", "../shared/data/contexts/owl-descriptions.jsonl"]
"""

import copy
import itertools
import random
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from .. import extensions  # noqa: F401  (declares the doc extensions it sets)
from .contexts import VisualSources, files_below
from .convert import attach_visual_sources, read_docbin, read_mner_docs

DOCBIN_SUFFIX = ".spacy"
TEXT_SUFFIX = ".txt"
DOC_EXTENSIONS = ("image", "image_id", "visual_context")


def corpus_files(path: Union[str, Path]) -> List[Path]:
    """The file itself, or the .spacy and .txt files below a folder (sorted, like spaCy's walk_corpus)."""
    return files_below(path, (DOCBIN_SUFFIX, TEXT_SUFFIX), "MNER corpus")


def read_reference_docs(nlp: Language, path: Union[str, Path], sources: VisualSources) -> Iterator[Doc]:
    for file in corpus_files(path):
        if file.suffix == DOCBIN_SUFFIX:
            for doc in read_docbin(file, nlp.vocab):
                if sources:  # sources given in the config complete what the DocBin holds
                    attach_visual_sources(doc, sources)
                yield doc
        else:
            yield from read_mner_docs(file, nlp.vocab, sources, progress=False)[0]


def predicted_doc(nlp: Language, reference: Doc) -> Doc:
    """A fresh doc with the reference's exact tokens and doc._ values, without its entities."""
    doc = Doc(nlp.vocab, words=[t.text for t in reference], spaces=[bool(t.whitespace_) for t in reference])
    for name in DOC_EXTENSIONS:
        # A copy, so that a component writing into the predicted context can't alter the gold one.
        value = reference._.get(name)
        doc._.set(name, copy.deepcopy(value) if isinstance(value, (dict, list)) else value)
    return doc


class MNERCorpus:
    def __init__(
        self,
        path: Union[str, Path],
        sources: Optional[VisualSources] = None,
        limit: int = 0,
        shuffle: bool = False,
    ):
        self.path = Path(path)
        self.sources = sources if sources is not None else VisualSources()
        self.limit = limit
        self.shuffle = shuffle

    def __call__(self, nlp: Language) -> Iterator[Example]:
        references: Iterable[Doc] = (doc for doc in read_reference_docs(nlp, self.path, self.sources) if len(doc))
        if self.limit >= 1:  # as in spaCy's Corpus: the first `limit` docs, then shuffled
            references = itertools.islice(references, self.limit)
        if self.shuffle:
            docs = list(references)
            random.shuffle(docs)
            references = docs
        for reference in references:
            yield Example(predicted_doc(nlp, reference), reference)


@spacy.util.registry.readers("spacy_ita.MNERCorpus.v1")
def create_mner_corpus(
    path: Union[str, Path],
    captions: Optional[Union[str, Path]] = None,
    contexts: Optional[Union[str, Path, Sequence[Union[str, Path]]]] = None,
    images: Optional[Union[str, Path]] = None,
    limit: int = 0,
    shuffle: bool = False,
) -> Callable[[Language], Iterator[Example]]:
    """A DocBin (.spacy) or MNER text (.txt) file, or a folder of them, as training examples.

    captions / contexts / images: a captions CSV, per-image context sources (one
    JSONL file or folder of part files, or a list of them: the later source wins
    kind by kind) and an image folder, attached to each doc by its image id (see
    VisualSources).
    """
    return MNERCorpus(path, VisualSources.load(captions, contexts, images), limit=limit, shuffle=shuffle)
