"""A content-addressed cache of backend outputs on disk.

The key is the sha256 of the image bytes plus the backend's settings signature,
so a repeated image (the same photo in many posts, or a rerun) costs nothing,
and changing a backend's settings never returns stale results. Each entry is a
small JSON file written to a temp file and moved into place with os.replace,
which is atomic: concurrent readers see the old entry, the new one or none,
never half a file; concurrent writers of one key write the same value.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from spacy.util import registry


class AlignmentCache:
    def __init__(self, directory: Union[str, Path]) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(image_digest: str, signature: str) -> str:
        return hashlib.sha256(f"{image_digest}\n{signature}".encode("utf8")).hexdigest()

    def path(self, key: str) -> Path:
        # Two-level fan-out keeps directories small for datasets of many images.
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[Any]:
        """The stored value, or None on a miss (backend values are never None)."""
        try:
            with self.path(key).open(encoding="utf8") as file_:
                return json.load(file_)["value"]
        except (OSError, ValueError, KeyError, TypeError):
            # Missing, unreadable or damaged by something outside our control: recompute.
            return None

    def set(self, key: str, value: Any) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf8") as file_:
                json.dump({"value": value}, file_, ensure_ascii=False)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"AlignmentCache({str(self.directory)!r})"


@registry.misc("spacy_ita.AlignmentCache.v1")
def create_alignment_cache(directory: str) -> AlignmentCache:
    return AlignmentCache(directory)
