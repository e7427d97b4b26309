"""How chunk vectors are stored: BSON binary vectors (subtype 9, float32), the form
`$vectorSearch` indexes for the `mongodb` backend, read back with no copy by the embedded
index. Chunks written before this (raw float32 bytes, subtype 0) are still read."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from bson.binary import VECTOR_SUBTYPE, Binary, BinaryVectorDtype

HEADER = 2  # dtype byte, padding byte


def encode_vector(vector: npt.ArrayLike) -> Binary:
    """float32 values as a BSON vector: the header then the little-endian floats."""
    raw = np.asarray(vector, dtype="<f4").tobytes()
    return Binary(BinaryVectorDtype.FLOAT32.value + b"\x00" + raw, VECTOR_SUBTYPE)


def decode_vector(value: Any) -> npt.NDArray[np.float32] | None:
    if value is None:
        return None
    if isinstance(value, Binary) and value.subtype == VECTOR_SUBTYPE:
        if bytes(value[:1]) != BinaryVectorDtype.FLOAT32.value:
            return None  # int8 / packed-bit vectors are not ours
        return np.frombuffer(value, dtype="<f4", offset=HEADER)
    return np.frombuffer(value, dtype="<f4")
