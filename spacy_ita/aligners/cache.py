"""A content-addressed cache of backend outputs on disk: every backend of the aligner, the image
backends (object tags, OCR, captions, VLM descriptions) and the post backends (LLM `knowledge`
answers, `kb` retrievals), and the `generate-contexts` job that runs them.

The key is the sha256 of the content a backend reads (the image bytes; for a post backend, what
it reads of the post: the prompt's messages, the post's text and OCR lines) plus the backend's
settings signature, so repeated content (the same photo in many posts, or a rerun) costs nothing,
and changing a backend's settings never returns stale results. The name says where it started (the
aligner's image backends); the registered name `spacy_ita.AlignmentCache.v1` stays, as saved
pipelines' configs name it. Each entry is a
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
    """Backend outputs (JSON values) by key (`key(content_digest, signature)`) in `directory`."""

    def __init__(self, directory: Union[str, Path]) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(content_digest: str, signature: str) -> str:
        """The entry's key: sha256 of what the backend read (`content_digest`) and its settings."""
        return hashlib.sha256(f"{content_digest}\n{signature}".encode("utf8")).hexdigest()

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
