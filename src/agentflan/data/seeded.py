"""Seeded, order-independent randomness: the same parts give the same number on every machine."""

from __future__ import annotations

import hashlib


def unit_hash(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (independent of PYTHONHASHSEED and record order)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
