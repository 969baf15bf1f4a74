"""Batch jobs over files of posts and folders of images, on one process or on Ray.

- file-to-file jobs on either engine: `annotate_posts`, `align_image_folder` (jobs.py; the
  commands `annotate` and `align-images` in spacy_ita/cli/);
- `align_images(ds, ...)`, `annotate(ds, model_path, ...)`: the same work on a
  Ray Dataset you already hold (ray_engine.py; needs `spacy-ita[ray]`);
- `PostAnnotator`, `ContextAligner`: the per-batch steps both engines run (steps.py).
"""

from .pools import PoolSpec
from .posts import PostColumns
from .ray_engine import align_images, annotate

__all__ = ["PoolSpec", "PostColumns", "align_images", "annotate"]
