"""The meta.json of a packaged pipeline: spacy-ita as a requirement, a description.

The pipeline's factories live in spacy-ita, so its package must require it (spaCy infers
requirements only from installed distributions it finds registered, and a checkout run from
source has none). On the demo set the description says it is a demo.
"""

from pathlib import Path
from typing import Any, Dict, Optional, Union

import srsly

from . import __version__
from .demo import DEMO_NOTICE, is_demo


def spacy_ita_requirement() -> str:
    """`spacy-ita>=X.Y.Z,<X.(Y+1).0` for the running spacy-ita version X.Y.Z."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return f"spacy-ita>={__version__},<{major}.{minor + 1}.0"


def package_meta(model: Union[str, Path], dataset: Optional[str] = None) -> Dict[str, Any]:
    """The meta.json of the saved pipeline at `model`, requiring spacy-ita (any spacy-ita
    requirement it had replaced) and described as trained on `dataset`. Raises OSError when
    the pipeline has no readable meta.json."""
    meta = srsly.read_json(Path(model) / "meta.json")
    requirement = spacy_ita_requirement()
    meta["requirements"] = [r for r in meta.get("requirements", []) if not r.startswith("spacy-ita")] + [requirement]
    description = f"Multimodal NER after ITA (spacy-ita), trained on {dataset or 'an unnamed dataset'}."
    meta["description"] = f"{DEMO_NOTICE} {description}" if dataset and is_demo(dataset) else description
    return meta
