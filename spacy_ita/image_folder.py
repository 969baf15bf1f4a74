"""An image folder as {image_id: path}: the one rule for which file is an image's.

`align-images` aligns these files and `convert` attaches the same ones to the
posts, so the image a post is tagged with is the image whose context it reads.
It lives outside `aligners` and `data` so both import it without importing each other.
"""

import logging
from pathlib import Path
from typing import Dict, Union

logger = logging.getLogger("spacy_ita")

# Suffixes Pillow decodes, most preferred first: when one id has several files
# (a.jpg and a.png), the earlier suffix wins. The MNER datasets ship .jpg.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
_PREFERENCE = {suffix: rank for rank, suffix in enumerate(IMAGE_SUFFIXES)}


def index_images(folder: Union[str, Path]) -> Dict[str, Path]:
    """{image_id: path} for the image files in `folder`, the id being the file stem, in file name order.

    Suffixes match in any case (`a.JPG`); when one id has several files, the
    suffix earlier in IMAGE_SUFFIXES wins (then the name that sorts first) and
    the others are named in a warning.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"image folder not found: {folder}")
    found: Dict[str, Path] = {}
    skipped = []
    for path in sorted(folder.iterdir()):
        rank = _PREFERENCE.get(path.suffix.lower())
        if rank is None or not path.is_file():
            continue
        known = found.get(path.stem)
        if known is None:
            found[path.stem] = path
        elif rank < _PREFERENCE[known.suffix.lower()]:
            found[path.stem] = path
            skipped.append(known)
        else:
            skipped.append(path)
    for path in skipped:
        logger.warning("Skipping %s: image id '%s' is taken by %s", path, path.stem, found[path.stem].name)
    return found
