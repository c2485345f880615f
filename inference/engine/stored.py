"""How arrays are kept in database rows: float16 bytes (half the size, precision enough for logits
and L2-normalised embeddings)."""

import numpy as np


def to_f16_bytes(values: np.ndarray) -> bytes:
    return np.asarray(values).astype(np.float16).tobytes()


def from_f16_bytes(raw: bytes | memoryview) -> np.ndarray:
    """`raw` as a binary column reads back: bytes, or a memoryview on PostgreSQL."""
    return np.frombuffer(raw, dtype=np.float16).astype(np.float32)
