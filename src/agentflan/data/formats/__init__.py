"""Readers of upstream formats. Each module has `looks_like(record)` and `parse(record, source, index)`; the two that
read a family of variants (`openai`: messages-like rows, `llamafactory`: ShareGPT-like rows) also take a source's
`columns` and `tags` mapping, the way LLaMA-Factory's `dataset_info.json` names fields and roles."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from agentflan.data.formats import (
    agentflan,
    agentinstruct,
    glaive,
    hermes,
    llamafactory,
    openai,
    sharegpt,
    toolace,
    toolbench,
    toolbench_tree,
    xlam,
)

READERS: dict[str, ModuleType] = {
    "toolbench": toolbench,
    "toolbench_tree": toolbench_tree,
    "agentinstruct": agentinstruct,
    "sharegpt": sharegpt,
    "agentflan": agentflan,
    "openai": openai,
    "llamafactory": llamafactory,
    "hermes": hermes,
    "glaive": glaive,
    "xlam": xlam,
    "toolace": toolace,
}
FORMATS = tuple(READERS)
MAPPED = frozenset({"openai", "llamafactory"})  # the readers that take a source's columns/tags mapping
# Checked in this order, each record against each; a file is the format most of its sampled records look like, except
# that a reader which also reads a plainer format's rows wins as soon as one record needs it (a LLaMA-Factory file
# holds plain ShareGPT rows beside its tool rows; a Hermes file plain rows beside its calls).
ORDER = (
    "toolbench_tree",
    "xlam",
    "glaive",
    "toolace",
    "openai",
    "agentflan",
    "agentinstruct",
    "toolbench",
    "hermes",
    "llamafactory",
    "sharegpt",
)
SUPERSETS = {"hermes": {"sharegpt"}, "llamafactory": {"sharegpt"}}


def detect(records: Iterable[Any]) -> str | None:
    """The format the given sample records are in, or None when none fits."""
    votes: dict[str, int] = {}
    for rec in records:
        for name in ORDER:
            if READERS[name].looks_like(rec):
                votes[name] = votes.get(name, 0) + 1
                break
    for wider, narrower in SUPERSETS.items():
        if wider in votes and set(votes) <= {wider, *narrower}:
            return wider
    return max(votes, key=votes.get) if votes else None
