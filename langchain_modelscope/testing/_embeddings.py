"""Deterministic lexical embeddings: texts that share words point the same way.

Each lower-cased word (weight 1) and each character trigram of a word (weight 0.5) is hashed
into the vector with a sign, then the vector is L2-normalised. Cheap, stable across processes
(no `hash()` randomisation) and good enough for retrieval tests.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)


def _slot(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    number = int.from_bytes(digest, "little")
    sign = 1.0 if number & 1 else -1.0
    return (number >> 1) % dimension, sign


def embed(text: str, dimension: int) -> list[float]:
    """The unit vector of `text` in `dimension` dimensions."""
    vector = [0.0] * dimension
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if not words:
        words = [c for c in text if not c.isspace()] or ["<empty>"]
    for word in words:
        index, sign = _slot("w:" + word, dimension)
        vector[index] += sign
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            index, sign = _slot("g:" + padded[i : i + 3], dimension)
            vector[index] += 0.5 * sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


def to_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64-encoded, as OpenAI's `encoding_format=base64`."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
