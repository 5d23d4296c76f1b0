"""Hallucination negatives and the final train/validation split.

As in the paper, negative samples answered in plain text with no tool call, each with no system prompt (as
an agent framework sends a query: the user's message and the tools), or under the natural, the ReAct or
the JSON system prompt (every prompt format the model is used with):
- `no_tools`: the query needs a tool, but none is offered -> the assistant says it has no tool for
  that job (built from a seeded share of the agent conversations, reusing their queries);
- `unfit_tools`: the query needs a tool, and only tools that do not fit are offered -> the same kind
  of plain answer (the format prompt asks for a call only "if a tool is needed" and one fits);
- `plain_with_tools`: tools are offered, but the query is ordinary conversation -> the plain answer
  (a seeded share of the general-chat conversations get irrelevant tools appended).
General chat that is not turned into a negative stays in the mix as it is.

The split is by query: every conversation whose normalised query hashes below `val_fraction` goes to
validation, so no query (and no id) is in both files.

Pure data: no MLflow, no GX, no torch.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from agentflan.config import NegativesConfig
from agentflan.data.heldout import Heldout
from agentflan.data.heldout import query_key as normalised_query
from agentflan.data.parallel import fields_of
from agentflan.data.prompts import NATURAL_SYSTEM, format_system
from agentflan.data.schema import Conversation, Tool, Turn, calls_of
from agentflan.data.seeded import unit_hash

NO_TOOL_ANSWERS = (
    "I can't do that here: answering needs a tool for {job}, and no such tool is available in this conversation. "
    "If you connect one, I can help with it.",
    "Sorry, I have no tool for {job} in this conversation, so I can't get that information for you right now.",
    "That needs live data from a tool for {job}, which I don't have access to here. I'd rather not guess.",
)
UNFIT_ANSWERS = (
    "None of the tools I have here can {job}, so I can't get that for you. If you add such a tool, I can help.",
    "The available tools don't cover {job}, so I can't answer this one without guessing.",
    "I have no tool here for {job}; the ones offered do other things, so I'd rather not guess.",
)
# every system prompt the model is used with (None: none, the tools alone), so that no prompt format means "call a tool"
SYSTEMS = (None, NATURAL_SYSTEM, format_system("react"), format_system("json"))
_DESCRIPTION = re.compile(r'The description of this function is: "(.*?)"', re.S)


def job_of(tool: Tool) -> str:
    """A short noun phrase for what a tool does, from its description."""
    text = tool.description
    quoted = _DESCRIPTION.search(text)
    if quoted:
        text = quoted.group(1)
    text = (text.split(". ")[0].strip().rstrip(".") or tool.name.replace("_", " "))[:80]
    return text[0].lower() + text[1:]


def system_turn(system: str | None) -> list[Turn]:
    return [Turn("system", system)] if system else []


def no_tools_negative(conv: Conversation, rng: random.Random, pool: list[Tool] | None = None) -> Conversation | None:
    """The agent query with the tool it needs missing, under any of the system prompts; answered plainly.
    With `pool`: other tools are offered that do not fit (the `unfit_tools` kind), else none (`no_tools`)."""
    called = [c.name for c in conv.calls]
    tool = next((t for t in conv.tools if t.name in called), None)
    if tool is None or not conv.query:
        return None
    offered: list[Tool] = []
    if pool is not None:
        others = [t for t in pool if t.name not in called and t.name not in {x.name for x in conv.tools}]
        if not others:
            return None
        offered = rng.sample(others, rng.randint(1, min(3, len(others))))
    kind = "unfit_tools" if pool is not None else "no_tools"
    answer = rng.choice(UNFIT_ANSWERS if offered else NO_TOOL_ANSWERS).format(job=job_of(tool))
    turns = [
        *system_turn(rng.choice(SYSTEMS)),
        Turn("user", conv.query),
        Turn("assistant", answer, loss=True, part="chat", capability="general"),
    ]
    return Conversation(
        f"neg_{kind.replace('_', '')}_{conv.id}",
        f"negative/{conv.source}",
        "negative",
        "plain",
        turns,
        offered,
        conv.query,
        {"negative": kind, "from": conv.id, "needed_tool": tool.name},
    )


def plain_with_tools(conv: Conversation, pool: list[Tool], rng: random.Random, max_tools: int) -> Conversation:
    """Irrelevant tools appended, with no system prompt or under the natural, the ReAct or the JSON one (a quarter
    each), so the model learns that neither offered tools nor a format instruction is a reason to call one."""
    tools = rng.sample(pool, rng.randint(1, min(max_tools, len(pool))))
    system = rng.choice(SYSTEMS)
    body = conv.turns[1:] if conv.turns and conv.turns[0].role == "system" else conv.turns
    turns = [*system_turn(system), *body]
    return Conversation(
        f"neg_plain_{conv.id}",
        f"negative/{conv.source}",
        "negative",
        conv.style,
        turns,
        tools,
        conv.query,
        {**conv.meta, "negative": "plain_with_tools", "from": conv.id},
    )


def query_key(conv: Conversation) -> str:
    """The split unit: the normalised query (the id when there is none)."""
    return normalised_query(conv.query) or f"id:{conv.id}"


def split_of(conv: Conversation, seed: int, val_fraction: float) -> str:
    return "validation" if unit_hash(seed, "split", query_key(conv)) < val_fraction else "train"


@dataclass
class NegativesStats:
    negatives: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    held_out: int = 0  # conversations kept out of training for the benchmark

    def merge(self, other: NegativesStats) -> None:
        """Another chunk's counts added to these."""
        self.negatives.update(other.negatives)
        self.splits.update(other.splits)
        self.kinds.update(other.kinds)
        self.held_out += other.held_out

    def to_metrics(self) -> dict[str, Any]:
        return {
            "negatives": dict(sorted(self.negatives.items())),
            "split": dict(sorted(self.splits.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "total": sum(self.splits.values()),
            "held_out": self.held_out,
        }


class OfferedTools(msgspec.Struct):
    """What `first_tools` reads of a record (`parallel.fields_of` decodes only these of each line)."""

    kind: str
    tools: list[Tool] | None = None


class _Named(msgspec.Struct):
    name: str


class _TurnCalls(msgspec.Struct):
    call: _Named | None = None
    tool_calls: list[_Named] = msgspec.field(default_factory=list)


class Screened(msgspec.Struct):
    """What `screen` reads of a record: its kind, query, and the names of the tools it offers and calls (all that
    `Heldout.excludes` asks of a conversation; a tool's schema and a call's arguments are skipped unread)."""

    kind: str
    tools: list[_Named] | None = None
    query: str | None = ""
    turns: list[_TurnCalls] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        self.tools = self.tools or []
        self.query = self.query or ""

    @property
    def calls(self) -> list[_Named]:
        return calls_of(self.turns)


@dataclass
class Screen:
    """The first pass over a chunk of records (`screen`): the first definition of each tool its agent records offer
    (held-out tools left out) and the lines of the records the benchmark holds out."""

    tools: dict[str, Tool]
    held_out: list[int]  # indices into the chunk's lines

    def kept(self, lines: list[bytes]) -> list[bytes]:
        """The chunk's lines with the held-out records' blanked (a blank line is no record)."""
        lines = list(lines)
        for i in self.held_out:
            lines[i] = b""
        return lines


def screen(lines: list[bytes], heldout: Heldout) -> Screen:
    """`first_tools` of a chunk's records, and which of them `heldout` excludes, read from each record's names and
    query alone (`Screened`): the second pass decodes only the records it keeps (the held-out ones were 44% of the
    demo's at 500k trajectories). A record offering a tool not met before in the chunk is read again for its tools'
    definitions (a corpus offers few tools, each many times)."""
    tools: dict[str, Tool] = {}
    held: list[int] = []
    excluded = set(heldout.tools)
    for i, record in fields_of(Screened, lines, indexed=True):
        if heldout.excludes(record):
            held.append(i)
        if record.kind == "agent" and any(t.name not in tools and t.name not in excluded for t in record.tools):
            for name, tool in first_tools(fields_of(OfferedTools, [lines[i]]), heldout).items():
                tools.setdefault(name, tool)
    return Screen(tools, held)


def tool_pool(conversations: Iterable[Conversation], heldout: Heldout | None = None) -> list[Tool]:
    """Every distinct tool offered in agent conversations, by name (first definition wins), sorted;
    held-out tools never enter it."""
    return sorted_pool(first_tools(conversations, heldout))


def first_tools(
    conversations: Iterable[Conversation | OfferedTools], heldout: Heldout | None = None
) -> dict[str, Tool]:
    """The first definition of every tool offered in agent conversations (of a chunk: merged in file order with
    `dict.setdefault`, the whole file's), held-out tools left out."""
    pool: dict[str, Tool] = {}
    excluded = set(heldout.tools) if heldout else set()
    for conv in conversations:
        if conv.kind == "agent":
            for t in conv.tools or ():
                if t.name not in excluded:
                    pool.setdefault(t.name, t)
    return pool


def sorted_pool(pool: dict[str, Tool]) -> list[Tool]:
    return [pool[name] for name in sorted(pool)]


def add_negatives(
    conversations: Iterable[Conversation],
    pool: list[Tool],
    cfg: NegativesConfig,
    stats: NegativesStats,
    heldout: Heldout | None = None,
) -> Iterator[tuple[str, Conversation]]:
    """(split, conversation) for every input conversation and the negatives built from it; what the
    benchmark holds out (its tools, its queries) is dropped first and counted."""

    def emit(conv: Conversation) -> tuple[str, Conversation]:
        split = split_of(conv, cfg.seed, cfg.val_fraction)
        stats.splits[split] += 1
        stats.kinds[conv.kind] += 1
        return split, conv

    for conv in conversations:
        if heldout is not None and heldout.excludes(conv):
            stats.held_out += 1
            continue
        # the record's own generator, shared by the negatives built from it; made when the first one is (seeding one
        # for every record was 4% of the stage's per-record work; most records make none)
        seed, rng = f"{cfg.seed}:negatives:{conv.id}", None
        # a chat that already offers tools (a function-calling source's row that calls none) is such a negative as it is
        if (
            cfg.enabled
            and conv.kind == "general"
            and not conv.tools
            and pool
            and unit_hash(cfg.seed, "plain", conv.id) < cfg.plain_with_tools
        ):
            rng = rng or random.Random(seed)
            negative = plain_with_tools(conv, pool, rng, cfg.max_tools)
            stats.negatives["plain_with_tools"] += 1
            if cfg.plain_with_tools_copies:  # the chat without tools stays too: tool-less chats are not all refusals
                yield emit(conv)
            conv = negative
        yield emit(conv)
        if cfg.enabled and conv.kind == "agent" and unit_hash(cfg.seed, "notools", conv.id) < cfg.no_tools:
            rng = rng or random.Random(seed)
            negative = no_tools_negative(conv, rng)
            if negative is not None:
                stats.negatives["no_tools"] += 1
                yield emit(negative)
        if cfg.enabled and conv.kind == "agent" and pool and unit_hash(cfg.seed, "unfit", conv.id) < cfg.unfit_tools:
            rng = rng or random.Random(seed)
            negative = no_tools_negative(conv, rng, pool)
            if negative is not None:
                stats.negatives["unfit_tools"] += 1
                yield emit(negative)
