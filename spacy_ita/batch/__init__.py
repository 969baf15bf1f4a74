"""Batch jobs over files of posts and folders of images, on one process or on Ray.

- `python -m spacy_ita annotate MODEL INPUT OUTPUT` (cli.py, jobs.py);
- `align_images(ds, ...)`, `annotate(ds, model_path, ...)`: the same work on a
  Ray Dataset you already hold (ray_engine.py; needs `spacy-ita[ray]`);
- `PostAnnotator`, `ContextAligner`: the per-batch steps both engines run (steps.py).
"""

from .pools import PoolSpec
from .posts import PostColumns
from .ray_engine import align_images, annotate

__all__ = ["PoolSpec", "PostColumns", "align_images", "annotate"]
