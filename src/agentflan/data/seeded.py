"""Seeded, order-independent randomness: the same parts give the same number on every machine."""

from __future__ import annotations

import hashlib


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (independent of PYTHONHASHSEED and record order)."""
    return text_hash(":".join(map(str, parts)))


def text_hash(text: str) -> float:
    """`unit_hash` of parts already joined with ":" (a hot loop's f-string)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64
