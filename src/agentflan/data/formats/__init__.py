"""Readers of upstream formats. Each module has `looks_like(record)` and `parse(record, source, index)`."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from agentflan.data.formats import agentflan, agentinstruct, sharegpt, toolbench

READERS: dict[str, ModuleType] = {
    "toolbench": toolbench,
    "agentinstruct": agentinstruct,
    "sharegpt": sharegpt,
    "agentflan": agentflan,
}
FORMATS = tuple(READERS)


def detect(records: Iterable[Any]) -> str | None:
    """The format most of the given sample records look like, or None when none fits."""
    votes: dict[str, int] = {}
    for rec in records:
        for name, reader in READERS.items():
            if reader.looks_like(rec):
                votes[name] = votes.get(name, 0) + 1
                break
    return max(votes, key=votes.get) if votes else None
