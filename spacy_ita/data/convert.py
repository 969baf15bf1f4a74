"""MNER records <-> spaCy Docs, and MNER text files <-> DocBin files.

Entities go through spaCy's own BIO handling (`iob_to_biluo` +
`biluo_tags_to_spans`), which reads an `I-` tag that does not continue an entity
of its type as the start of a new entity, as conlleval and seqeval do. Those
repairs are counted: written back, such a tag comes out as `B-`.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from spacy.tokens import Doc, DocBin
from spacy.training import biluo_tags_to_spans, biluo_to_iob, iob_to_biluo
from spacy.training.iob_utils import doc_to_biluo_tags
from spacy.vocab import Vocab
from tqdm import tqdm

from .. import extensions  # noqa: F401  (declares doc._.image, image_id, visual_context)
from ..visual_context import normalize_context, present_kinds
from .contexts import VisualSources
from .mner_format import MNERRecord, read_mner, write_mner

# Files at least this large get a progress bar by default (Twitter-2015 train is ~650 KiB).
PROGRESS_MIN_BYTES = 256 * 1024


@dataclass
class ConversionStats:
    docs: int = 0
    tokens: int = 0
    entities: Counter = field(default_factory=Counter)  # per entity type
    repaired_tags: int = 0  # stray I- tags read as the start of a new entity
    repaired_by_type: Counter = field(default_factory=Counter)
    with_context: int = 0
    with_caption: int = 0
    with_kind: Counter = field(default_factory=Counter)  # docs with each context kind
    with_image: int = 0
    unused_context_ids: int = 0

    @property
    def total_entities(self) -> int:
        return sum(self.entities.values())

    def add(self, doc: Doc, repaired: List[int]) -> None:
        self.docs += 1
        self.tokens += len(doc)
        self.entities.update(ent.label_ for ent in doc.ents)
        self.repaired_tags += len(repaired)
        self.repaired_by_type.update(doc[i].ent_type_ for i in repaired)
        context = doc._.visual_context
        self.with_context += context is not None
        self.with_caption += bool(context and context.get("caption"))
        self.with_kind.update(present_kinds(context))
        self.with_image += doc._.image is not None


def stray_inside_tags(tags: List[str]) -> List[int]:
    """Indices of `I-X` tags that follow neither `B-X` nor `I-X` (conlleval starts a chunk there)."""
    stray = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            previous = tags[i - 1] if i else "O"
            if previous[2:] != tag[2:]:  # "O"[2:] is "", never a type
                stray.append(i)
    return stray


def record_to_doc(record: MNERRecord, vocab: Vocab, sources: Optional[VisualSources] = None) -> Doc:
    """A Doc with the record's words, entities and image id, plus what `sources` know of its image."""
    # One space after every token but the last: doc.text reads naturally and
    # Doc(words, spaces) rebuilds exactly these tokens.
    spaces = [True] * (len(record.tokens) - 1) + [False]
    doc = Doc(vocab, words=record.tokens, spaces=spaces)
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(record.tags))
    doc._.image_id = record.image_id
    if sources:
        attach_visual_sources(doc, sources)
    return doc


def attach_visual_sources(doc: Doc, sources: VisualSources) -> None:
    """Set doc._.visual_context and doc._.image from `sources`, keeping what they don't know."""
    context = sources.context_for(doc._.image_id)
    if context is not None:
        doc._.visual_context = context
    image = sources.image_for(doc._.image_id)
    if image is not None:
        doc._.image = image


def records_to_docs(
    records: Iterable[MNERRecord],
    vocab: Optional[Vocab] = None,
    sources: Optional[VisualSources] = None,
    progress: bool = False,
) -> Tuple[List[Doc], ConversionStats]:
    vocab = vocab if vocab is not None else Vocab()
    stats = ConversionStats()
    docs = []
    for record in tqdm(records, desc="Converting posts", unit="post", disable=not progress):
        doc = record_to_doc(record, vocab, sources)
        stats.add(doc, stray_inside_tags(record.tags))
        docs.append(doc)
    if sources:
        stats.unused_context_ids = sources.warn_unused_contexts(doc._.image_id for doc in docs)
    return docs, stats


def read_mner_docs(
    path: Union[str, Path],
    vocab: Optional[Vocab] = None,
    sources: Optional[VisualSources] = None,
    progress: Optional[bool] = None,
) -> Tuple[List[Doc], ConversionStats]:
    """The Docs of an MNER text file; `progress=None` shows a bar for large files."""
    return records_to_docs(read_mner(path), vocab, sources, wants_progress(path, progress))


def wants_progress(path: Union[str, Path], progress: Optional[bool]) -> bool:
    return Path(path).stat().st_size >= PROGRESS_MIN_BYTES if progress is None else progress


def mner_to_docbin(
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    sources: Optional[VisualSources] = None,
    progress: Optional[bool] = None,
) -> ConversionStats:
    progress = wants_progress(input_path, progress)
    docs, stats = read_mner_docs(input_path, sources=sources, progress=progress)
    # store_user_data: the doc._ values (image id, visual context, image) travel with the docs.
    doc_bin = DocBin(store_user_data=True)
    # Packing is the slow part (~1 ms a doc: srsly looks up its msgpack encoders per doc).
    for doc in tqdm(docs, desc="Packing DocBin", unit="doc", disable=not progress):
        doc_bin.add(doc)
    doc_bin.to_disk(output_path)
    return stats


def doc_to_record(doc: Doc) -> MNERRecord:
    """The BIO record of a Doc: its words, `doc.ents` as BIO tags, its image id."""
    if not doc._.image_id:
        raise ValueError(f"doc without doc._.image_id cannot be written as MNER: {doc.text[:50]!r}")
    tags = biluo_to_iob(doc_to_biluo_tags(doc))
    return MNERRecord(image_id=str(doc._.image_id), tokens=[t.text for t in doc], tags=tags)


def read_docbin(path: Union[str, Path], vocab: Optional[Vocab] = None) -> Iterator[Doc]:
    for doc in DocBin().from_disk(path).get_docs(vocab if vocab is not None else Vocab()):
        if doc._.visual_context is not None:
            # DocBin unpacks user_data with use_list=False: the context's lists come back as tuples.
            doc._.visual_context = normalize_context(doc._.visual_context)
        yield doc


def docbin_to_mner(input_path: Union[str, Path], output_path: Union[str, Path]) -> int:
    """Write a DocBin back to the MNER text format; returns the number of posts."""
    records = [doc_to_record(doc) for doc in read_docbin(input_path)]
    write_mner(records, output_path)
    return len(records)


# A dataset folder's splits: output split name -> the file names it may have, the first found
# wins (the demo has dev.txt, Twitter-2015/2017 valid.txt; Twitter-2017 has no test.txt here).
SPLIT_FILES = {"train": ("train.txt",), "dev": ("dev.txt", "valid.txt"), "test": ("test.txt",)}


def find_splits(dataset_dir: Union[str, Path]) -> Dict[str, Path]:
    """{split: MNER file} of the SPLIT_FILES a dataset folder has, in SPLIT_FILES order."""
    found = {}
    for split, names in SPLIT_FILES.items():
        for name in names:
            if (Path(dataset_dir) / name).is_file():
                found[split] = Path(dataset_dir) / name
                break
    return found
