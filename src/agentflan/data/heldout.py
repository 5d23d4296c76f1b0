"""What the benchmark keeps out of training: held-out tools and queries, chosen from the corpus itself.

The `benchmark` stage chooses them (`choose`) and writes them next to the benchmark; the split in
`negatives` reads the same file and drops every conversation that offers or calls a held-out tool or
asks a held-out query, so no benchmark query and no held-out tool is ever trained on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from agentflan.config import BenchmarkConfig, ParamsError
from agentflan.data.jsonio import InputError
from agentflan.data.schema import PSEUDO_TOOLS, Conversation
from agentflan.data.seeded import unit_hash


@functools.lru_cache(maxsize=8)
def query_key(text: str) -> str:
    """A query compared as the benchmark and the split compare it: case and spacing ignored. Remembered for the last
    few texts: the negatives stage asks it of one record's query up to four times (held out? its split, its profile
    row, and held out again for the row)."""
    return " ".join(text.lower().split())


@dataclass
class Heldout:
    tools: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # query keys

    def __post_init__(self) -> None:
        self._tools, self._queries = set(self.tools), set(self.queries)

    def touches_tool(self, conv: Conversation) -> bool:
        return any(t.name in self._tools for t in conv.tools) or any(c.name in self._tools for c in conv.calls)

    def excludes(self, conv: Conversation) -> bool:
        """True for a conversation training must never see."""
        return self.touches_tool(conv) or query_key(conv.query) in self._queries

    def to_dict(self) -> dict[str, Any]:
        return {"tools": self.tools, "queries": self.queries}

    @classmethod
    def from_dict(cls, d: Any, where: str = "heldout") -> Heldout:
        if not isinstance(d, dict) or not all(isinstance(d.get(k), list) for k in ("tools", "queries")):
            raise InputError(f"{where}: expected an object with lists 'tools' and 'queries'")
        return cls([str(t) for t in d["tools"]], [str(q) for q in d["queries"]])


class _Named(msgspec.Struct):
    name: str


class QueryAndTools(msgspec.Struct):
    """What `Offered` reads of a record (`parallel.fields_of` decodes only these of each line)."""

    kind: str
    query: str | None = ""
    tools: list[_Named] | None = None


@dataclass
class Offered:
    """What the held-out choice reads of the corpus: the tools offered, and the agent and general queries that the
    seeded draw holds out (each query is drawn by its own hash, so a chunk of records decides its own; `merge` them
    for the whole file's). Memory grows with the held-out queries, not with every query of the corpus."""

    cfg: BenchmarkConfig
    names: set[str] = field(default_factory=set)
    agent: set[str] = field(default_factory=set)
    general: set[str] = field(default_factory=set)

    def add(self, conv: Conversation | QueryAndTools) -> None:
        self.names.update(t.name for t in conv.tools or ())
        if conv.kind not in ("agent", "general"):
            return
        key = query_key(conv.query or "")
        drawn = self.agent if conv.kind == "agent" else self.general
        if key in drawn:
            return
        fraction = self.cfg.heldout_agent_queries if conv.kind == "agent" else self.cfg.heldout_general_queries
        if unit_hash(self.cfg.seed, conv.kind, key) < fraction:
            drawn.add(key)

    def merge(self, other: Offered) -> None:
        self.names |= other.names
        self.agent |= other.agent
        self.general |= other.general


def offered(conversations: Iterable[Conversation | QueryAndTools], cfg: BenchmarkConfig) -> Offered:
    found = Offered(cfg)
    for conv in conversations:
        found.add(conv)
    return found


def choose(conversations: Iterable[Conversation], cfg: BenchmarkConfig, source: str = "the corpus") -> Heldout:
    """Held-out tools (named + a seeded share) and a seeded share of agent and general queries."""
    return choose_from(offered(conversations, cfg), cfg, source)


def choose_from(found: Offered, cfg: BenchmarkConfig, source: str = "the corpus") -> Heldout:
    """`choose` from what a pass over the corpus gathered."""
    missing = sorted(set(cfg.heldout_tools) - found.names)
    if missing:
        raise ParamsError(f"benchmark.heldout_tools: {missing} offered by no conversation in {source}")
    drawn = {n for n in found.names - PSEUDO_TOOLS if unit_hash(cfg.seed, "tool", n) < cfg.heldout_tool_fraction}
    return Heldout(sorted(set(cfg.heldout_tools) | drawn), sorted(found.agent | found.general))
