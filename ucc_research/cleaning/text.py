"""The unique-key check of text columns (pandas' ``str`` dtype, stored by pyarrow), by hashes.

pandas decides ``Index.is_unique`` for text through Python string objects: 0.09 s per million
ids in file order and 0.26-0.4 s when they are shuffled, as ids in real 311 exports are. Hashing
each entry's bytes decides it in about 0.09 s either way, and pandas is asked only when a hash
repeats. This stays (the other text helpers, which won 20-50 ms per column, were replaced by
the plain pandas expressions; see the README's data-layer section).

Examples
--------
>>> text_is_unique(pd.Series(["a", "b"], dtype="str")), text_is_unique(pd.Series(["a", "a"]))
(True, False)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

_OFFSETS = {pa.string(): "int32", pa.large_string(): "int64"}


def text_is_unique(values: pd.Series) -> bool:
    """``pd.Index(values).is_unique`` for a text column, decided by 64-bit hashes when it can.

    pandas hashes text through Python string objects: 0.09 s per million ids in file order and
    0.26 s when they are shuffled, as ids in a real export are. Here every entry is hashed on its
    bytes (8 at a time, then its length); distinct hashes prove distinct values. Any repeated
    hash (a real duplicate or, very rarely, a collision), a missing value or an entry longer
    than 64 bytes sends the question to pandas.
    """
    hashes = _text_hashes(values.astype("str"))
    if hashes is not None and pd.Index(hashes).is_unique:
        return True
    return pd.Index(values).is_unique


def key_hashes(text: pd.Series) -> np.ndarray:
    """64-bit hashes of text entries (no missing ones), comparable across calls.

    Unlike the hashes behind :func:`text_is_unique`, an entry's hash depends only on its own
    bytes (its first 64, in 8-byte words) and its length, so the hashes of two blocks of a file
    can be compared; entries longer than 64 bytes that share those bytes and their length
    collide, which a caller checking the candidates exactly only pays for in time.

    Examples
    --------
    >>> a, b = key_hashes(pd.Series(["x", "y"], dtype="str")), key_hashes(pd.Series(["y"]))
    >>> bool(a[1] == b[0]), bool(a[0] == a[1])
    (True, False)
    """
    out = _text_hashes(text.astype("str"), width=64)
    if out is None:
        raise ValueError("key_hashes needs text without missing entries")
    return out


def _text_hashes(text: pd.Series, width: int | None = None) -> np.ndarray | None:
    chunks = arrow_chunks(text)
    if chunks is None or any(c.null_count for c in chunks):
        return None
    pieces = [string_buffers(c) for c in chunks if len(c)]  # (offsets, bytes) of each chunk
    if any(p is None for p in pieces):
        return None
    pieces = [(o.astype("int64"), d) for o, d in pieces]
    longest = max((int(np.diff(o).max()) for o, _ in pieces), default=0)
    if longest > 64 and width is None:
        return None
    # bytes hashed per entry, in words: the longest entry's (at most ``width``); with a
    # ``width``, each entry's hash takes only its own words, so it is the same in any block
    width8 = max(8, -(-min(longest, width or longest) // 8) * 8)
    out = np.empty(len(text), dtype=np.uint64)
    start = 0
    for off, data in pieces:
        for i in range(0, len(off) - 1, 1 << 16):  # 64k entries at a time: small temporaries
            o = off[i : i + (1 << 16) + 1]
            n = np.diff(o)
            padded = np.concatenate([data[o[0] : o[-1]], np.zeros(width8, dtype=np.uint8)])
            n = np.minimum(n, width) if width else n
            windows = np.lib.stride_tricks.as_strided(
                padded, (len(padded) - width8 + 1, width8), (1, 1)
            )
            rows = windows[o[:-1] - o[0]]  # each entry's bytes, then the next entries'
            rows[np.arange(width8) >= n[:, None]] = 0  # ...zeroed
            h = np.full(len(n), _FNV_OFFSET)
            for j, word in enumerate(rows.view(np.uint64).T):  # FNV-style: xor, times a prime
                step = (h ^ word) * _FNV_PRIME
                h = step if width is None else np.where(n > 8 * j, step, h)
            full = np.diff(o) if width else n
            out[start : start + len(n)] = (h ^ full.astype(np.uint64)) * _FNV_PRIME
            start += len(n)
    return out


_FNV_OFFSET, _FNV_PRIME = np.uint64(14695981039346656037), np.uint64(1099511628211)


def arrow_chunks(text: pd.Series) -> list[pa.Array] | None:
    """The arrow arrays holding a text column (None when it cannot be seen as one)."""
    try:
        arr = pa.array(text.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(offsets, bytes) of an arrow string array: entry k is ``bytes[offsets[k]:offsets[k+1]]``.

    None for arrays of other types. Nothing is copied.
    """
    width = _OFFSETS.get(arr.type)
    if width is None:
        return None
    if len(arr) == 0:
        return np.zeros(1, dtype=width), np.zeros(0, dtype=np.uint8)
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


__all__ = ["text_is_unique", "key_hashes"]
