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

from agentflan.config import BenchmarkConfig, ParamsError
from agentflan.data.jsonio import InputError
from agentflan.data.schema import PSEUDO_TOOLS, Conversation
from agentflan.data.seeded import text_hash, unit_hash


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

    def asks(self, key: str) -> bool:
        """The query of this key (`query_key`) is held out."""
        return key in self._queries

    def to_dict(self) -> dict[str, Any]:
        return {"tools": self.tools, "queries": self.queries}

    @classmethod
    def from_dict(cls, d: Any, where: str = "heldout") -> Heldout:
        if not isinstance(d, dict) or not all(isinstance(d.get(k), list) for k in ("tools", "queries")):
            raise InputError(f"{where}: expected an object with lists 'tools' and 'queries'")
        return cls([str(t) for t in d["tools"]], [str(q) for q in d["queries"]])


@dataclass
class Offered:
    """What the held-out choice reads of the corpus: the tools offered, and the agent and general queries that the
    seeded draw holds out (each query is drawn by its own hash, so a chunk of records decides its own; `merge` them
    for the whole file's). Memory grows with the held-out queries, not with every query of the corpus."""

    cfg: BenchmarkConfig
    names: set[str] = field(default_factory=set)
    agent: set[str] = field(default_factory=set)
    general: set[str] = field(default_factory=set)

    def add(self, conv: Conversation, names: set[str] | None = None) -> bool:
        """The record's tools (`names`: their names, where the caller has them) and, where its own kind's draw holds
        its query out, its query; True then."""
        self.names.update([t.name for t in conv.tools] if names is None else names)
        if conv.kind not in ("agent", "general"):
            return False
        key = query_key(conv.query)
        drawn = self.agent if conv.kind == "agent" else self.general
        if key in drawn:
            return True
        if _drawn_query(self.cfg, conv.kind, key):
            drawn.add(key)
            return True
        return False

    def merge(self, other: Offered) -> None:
        self.names |= other.names
        self.agent |= other.agent
        self.general |= other.general


def _drawn_query(cfg: BenchmarkConfig, kind: str, key: str) -> bool:
    """The seeded draw of a query held out, for the records of one kind (agent or general)."""
    fraction = cfg.heldout_agent_queries if kind == "agent" else cfg.heldout_general_queries
    return fraction > 0 and text_hash(f"{cfg.seed}:{kind}:{key}") < fraction  # unit_hash(cfg.seed, kind, key)


def _drawn_tool(cfg: BenchmarkConfig, name: str) -> bool:
    """A tool held out where some record offers it: a named one, or one of the seeded share (drawn by its name)."""
    if name in cfg.heldout_tools:
        return True
    fraction = cfg.heldout_tool_fraction
    return name not in PSEUDO_TOOLS and fraction > 0 and unit_hash(cfg.seed, "tool", name) < fraction


@dataclass
class Guess:
    """The held-out choice as each record tells it, made in the pass that gathers the corpus's own (`found`), so that
    the benchmark stage reads the corpus once, not once to choose and again for the candidates. A record tells alone
    whether it offers a held-out tool (named, or drawn by its name) and whether its own kind's draw holds its query out.
    Two things only the whole corpus tells: whether a tool it calls without offering it is offered by another record
    (the draw holds out offered tools only), and whether a record of a kind the draw reads (agent, general) asks its
    query and draws it. Such a tool is taken as held out (it is, where any record offers it), such a query in an agent
    or general record as not (it is only where a record of the other kind asks it: rare), and both are kept: where the
    corpus's choice (`choose_from`) holds every such tool and none of those queries, every record was judged as that
    choice judges it (`holds`); else the corpus is read again with the choice known. A format record's query drawn by
    either draw is left to the choice (`excludes` gives None: the demo makes its format requests of agent queries, and
    whether one is held out depends on the agent draw alone); all the pass needs of such a record is its tools."""

    cfg: BenchmarkConfig
    found: Offered | None = None
    tools: set[str] = field(default_factory=set)  # called, not offered by the record, drawn
    queries: set[str] = field(default_factory=set)  # an agent or general query the other kind's draw holds out

    def __post_init__(self) -> None:
        self.found = Offered(self.cfg) if self.found is None else self.found
        # each tool's draw, made once by name (a corpus offers few tools, many times): those drawn, those met
        self._drawn: set[str] = set()
        self._met: set[str] = set()

    def _tools(self, names: set[str]) -> set[str]:
        """Of `names`, the drawn."""
        for name in names - self._met:
            self._met.add(name)
            if _drawn_tool(self.cfg, name):
                self._drawn.add(name)
        return names & self._drawn

    def excludes(self, conv: Conversation) -> bool | None:
        """`Heldout.excludes` as far as this record tells it (and the record's part of `found` gathered); None for a
        record of another kind than agent and general whose query only the choice decides."""
        offered = {t.name for t in conv.tools}
        if self.found.add(conv, offered) or self._tools(offered):
            return True
        for call in conv.calls:
            if call.name not in offered and self._tools({call.name}):
                if call.name not in self.cfg.heldout_tools:  # a named tool is held out wherever it is
                    self.tools.add(call.name)
                return True
        key = query_key(conv.query)
        if any(_drawn_query(self.cfg, kind, key) for kind in ("agent", "general") if kind != conv.kind):
            if conv.kind not in ("agent", "general"):
                return None  # held out where a record of the kind that draws it asks it: the choice decides
            self.queries.add(key)  # held out only where a record of the other kind asks it (rare): taken as not
        return False

    def merge(self, other: Guess) -> None:
        self.found.merge(other.found)
        self.tools |= other.tools
        self.queries |= other.queries

    def holds(self, heldout: Heldout) -> bool:
        """Every record was judged as `heldout` (the corpus's choice) judges it."""
        return self.tools <= set(heldout.tools) and not any(heldout.asks(key) for key in self.queries)


def offered(conversations: Iterable[Conversation], cfg: BenchmarkConfig) -> Offered:
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
    drawn = {n for n in found.names if _drawn_tool(cfg, n)}  # the named ones among them
    return Heldout(sorted(set(cfg.heldout_tools) | drawn), sorted(found.agent | found.general))
