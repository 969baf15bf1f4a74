"""The fixed Arrow schemas of the batch outputs, built from the context kinds.

A batch whose `objects` lists are all empty would otherwise be typed
`list<null>` and another `list<struct<...>>`, and a directory of such Parquet
parts cannot be read back as one dataset: every table is built with these
schemas instead of letting Arrow infer one per batch. pyarrow is imported on
first use (it comes with the `ray` extra); JSONL needs none of this.
"""

from typing import Any, Dict, List

from ..visual_context import CONTEXT_KINDS, LIST_KINDS

ENTITY_FIELDS = ("text", "label", "start_char", "end_char", "confidence")
# The keys of an annotate row besides its id (annotation_schema; an align-images
# row has CONTEXT_KINDS besides its image id): how a resumed job recognises its
# own JSONL output without pyarrow.
ANNOTATION_FIELDS = ("entities", "view", "visual_context")


def pyarrow():
    try:
        import pyarrow
    except ImportError as err:  # pragma: no cover - installed with the extra
        raise ImportError("Parquet needs pyarrow: pip install 'spacy-ita[ray]' (or pyarrow)") from err
    return pyarrow


def context_kind_type(kind: str):
    """`objects`: a list of {label, count, score}; another list kind (`ocr`): a list of
    strings; a text kind (`caption`, `description`, ...): one string."""
    pa = pyarrow()
    if kind == "objects":
        return pa.list_(pa.struct([("label", pa.string()), ("count", pa.int64()), ("score", pa.float64())]))
    if kind in LIST_KINDS:
        return pa.list_(pa.string())
    return pa.string()


def context_fields() -> List[Any]:
    pa = pyarrow()
    return [pa.field(kind, context_kind_type(kind)) for kind in CONTEXT_KINDS]


def context_schema(id_column: str = "image_id"):
    """One row per image, as align-images writes it: {image_id, <every context kind>}."""
    pa = pyarrow()
    return pa.schema([pa.field(id_column, pa.string()), *context_fields()])


def annotation_schema(id_column: str = "id"):
    """One row per post: id, entities, the view the tagger used, the aligned context (null without image)."""
    pa = pyarrow()
    entity = pa.struct(
        [
            ("text", pa.string()),
            ("label", pa.string()),
            ("start_char", pa.int64()),
            ("end_char", pa.int64()),
            ("confidence", pa.float64()),
        ]
    )
    return pa.schema(
        [
            pa.field(id_column, pa.string()),
            pa.field("entities", pa.list_(entity)),
            pa.field("view", pa.string()),
            pa.field("visual_context", pa.struct(context_fields())),
        ]
    )


def to_table(rows: List[Dict[str, Any]], schema):
    """Rows as a table of exactly `schema`, even when every list in the batch is empty."""
    return pyarrow().Table.from_pylist(rows, schema=schema)
