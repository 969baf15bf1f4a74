"""Doc extensions, declared once, and how they serialize.

- `doc._.image`: the post's image as a path (str or Path), raw bytes or a PIL image.
- `doc._.image_id`: the id of the image in the dataset (`IMGID:` lines).
- `doc._.visual_context`: the structured text of the image (see visual_context.py).
- `span._.confidence`: an entity's confidence from the CRF marginals.

Extension values live in `doc.user_data`, which DocBin and Doc.to_bytes pack
with srsly's msgpack. PIL images and paths are not msgpack types, so we register
msgpack encoders for them: a PIL image travels as lossless PNG bytes and comes
back as a PIL image, a Path comes back as a Path.
"""

import io
from pathlib import Path, PurePath

import srsly
from spacy.tokens import Doc, Span

_PIL_KEY = "__spacy_ita_pil_png__"
_PATH_KEY = "__spacy_ita_path__"


def encode_image_types(obj, chain=None):
    if isinstance(obj, PurePath):
        return {_PATH_KEY: str(obj)}
    from PIL import Image  # a dependency; imported when a value is encoded, not with the extensions

    if isinstance(obj, Image.Image):
        buffer = io.BytesIO()
        obj.save(buffer, format="PNG")
        return {_PIL_KEY: buffer.getvalue()}
    return obj if chain is None else chain(obj)


def decode_image_types(obj, chain=None):
    if isinstance(obj, dict):
        if _PATH_KEY in obj and len(obj) == 1:
            return Path(obj[_PATH_KEY])
        if _PIL_KEY in obj and len(obj) == 1:
            from PIL import Image

            image = Image.open(io.BytesIO(obj[_PIL_KEY]))
            image.load()
            return image
    return obj if chain is None else chain(obj)


def register_extensions() -> None:
    """Idempotent: importing spacy_ita calls it; calling it again changes nothing."""
    if "spacy_ita_images" not in srsly.msgpack_encoders.get_all():
        srsly.msgpack_encoders.register("spacy_ita_images", func=encode_image_types)
        srsly.msgpack_decoders.register("spacy_ita_images", func=decode_image_types)
    for name in ("image", "image_id", "visual_context"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
    if not Span.has_extension("confidence"):
        Span.set_extension("confidence", default=None)


register_extensions()
