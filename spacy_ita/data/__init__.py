"""MNER data: the Twitter-2015/2017 text format, visual context sources, DocBin conversion, the corpus reader."""

from .contexts import VisualSources, index_images, read_captions, read_context_jsonl
from .convert import (
    ConversionStats,
    doc_to_record,
    docbin_to_mner,
    mner_to_docbin,
    read_docbin,
    read_mner_docs,
    record_to_doc,
    records_to_docs,
    stray_inside_tags,
)
from .corpus import MNERCorpus, create_mner_corpus
from .mner_format import MNERFormatError, MNERRecord, format_mner, read_mner, write_mner

__all__ = [
    "ConversionStats",
    "MNERCorpus",
    "MNERFormatError",
    "MNERRecord",
    "VisualSources",
    "create_mner_corpus",
    "doc_to_record",
    "docbin_to_mner",
    "format_mner",
    "index_images",
    "mner_to_docbin",
    "read_captions",
    "read_context_jsonl",
    "read_docbin",
    "read_mner",
    "read_mner_docs",
    "record_to_doc",
    "records_to_docs",
    "stray_inside_tags",
    "write_mner",
]
