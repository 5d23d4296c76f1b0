"""The Agent-H benchmark, built from the user's own corpus: held-out tools and queries, never trained on.

Two levels, as in the paper:
- action: query type x tools offered -> `tool_needed_offered_seen` / `tool_needed_offered_unseen`
  (expected: a call to the right tool with the record's arguments; unseen = a tool that no training
  conversation offers, held out by `benchmark.heldout_tools` or because all its conversations are),
  `tool_needed_not_offered`, `plain_tools_offered`, `plain_no_tools` (expected: a plain answer);
- format: `format_request`, a plain query that asks for a response format (one sentence, a list, JSON
  with an "answer" key), with tools offered to half of them (expected: a plain answer).
Samples come from held-out records of the converted corpus (any mix of sources): the needed tool with
its real schema, distractors drawn from the corpus's other tools, plain queries from held-out general
chat, each with its conversation's answer as the `reference` (plain quality is scored against it). A category
the data cannot fill is built as far as it goes, and `counts` says how far.

Pure data: no torch, no MLflow.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentflan.config import BenchmarkConfig
from agentflan.data.heldout import Heldout, query_key
from agentflan.data.prompts import FORMAT_REQUESTS
from agentflan.data.schema import PSEUDO_TOOLS, Conversation, SchemaError, Tool, tool_from_dict

CATEGORIES = (
    "tool_needed_offered_seen",
    "tool_needed_offered_unseen",
    "tool_needed_not_offered",
    "plain_tools_offered",
    "plain_no_tools",
    "format_request",
)


@dataclass
class Sample:
    id: str
    category: str
    level: str
    query: str
    tools: list[Tool]
    expected: str  # plain | call
    expected_tool: str | None = None
    expected_arguments: dict[str, list[Any]] | None = None  # per argument, its acceptable values (BFCL's rule)
    reference: str | None = None  # a plain sample's reference answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "level": self.level,
            "query": self.query,
            "tools": [t.to_dict() for t in self.tools],
            "expected": self.expected,
            "expected_tool": self.expected_tool,
            "expected_arguments": self.expected_arguments,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Sample:
        if not isinstance(d, dict):
            raise SchemaError("record", "expected an object")
        for key in ("id", "category", "query", "expected"):
            if not isinstance(d.get(key), str):
                raise SchemaError(key, "missing or not text")
        if d["expected"] not in ("plain", "call"):
            raise SchemaError("expected", f"{d['expected']!r} is not 'plain' or 'call'")
        tools = d.get("tools") or []
        if not isinstance(tools, list):
            raise SchemaError("tools", "expected a list of tool objects")
        tools = [tool_from_dict(t, f"tools[{i}]") for i, t in enumerate(tools)]
        expected_tool = d.get("expected_tool")
        if d["expected"] == "call" and not isinstance(expected_tool, str):
            raise SchemaError("expected_tool", "required (a tool name) when expected is 'call'")
        args = d.get("expected_arguments")
        if args is not None and not (isinstance(args, dict) and all(isinstance(v, list) for v in args.values())):
            raise SchemaError(
                "expected_arguments", "expected an object mapping each argument to a list of acceptable values"
            )
        reference = d.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise SchemaError("reference", f"expected text, got {type(reference).__name__}")
        return cls(
            d["id"],
            d["category"],
            d.get("level", "action"),
            d["query"],
            tools,
            d["expected"],
            expected_tool,
            args,
            reference,
        )


def _first_call(conv: Conversation):
    return next((c for c in conv.calls if c.name not in PSEUDO_TOOLS), None)


@dataclass(frozen=True)
class _Call:
    """What a held-out agent conversation gives a call sample (its query, the tool its first step calls, the
    arguments), kept instead of the conversation so that memory grows with the held-out queries only."""

    id: str
    query: str
    tool: Tool
    arguments: dict[str, Any]


def build(
    conversations: Iterable[Conversation], heldout: Heldout, cfg: BenchmarkConfig
) -> tuple[list[Sample], dict[str, int]]:
    """Samples per category from the held-out records (one streaming pass), and how many each category got."""
    tools: dict[str, Tool] = {}
    trained: set[str] = set()  # tools that stay in training data
    calls: dict[tuple[str, str], _Call] = {}  # (query, first tool called) -> its conversation with the smallest id
    plain_queries: dict[str, tuple[str, str | None]] = {}  # query key -> (query, its answer)
    for conv in conversations:
        for t in conv.tools:
            tools.setdefault(t.name, t)
        if not heldout.excludes(conv):
            trained.update(t.name for t in conv.tools)
            continue
        call = _first_call(conv)
        if conv.kind == "agent" and call is not None and call.name in {t.name for t in conv.tools}:
            key = (query_key(conv.query), call.name)
            if key not in calls or conv.id < calls[key].id:
                calls[key] = _Call(
                    conv.id, conv.query, next(t for t in conv.tools if t.name == call.name), call.arguments
                )
        elif conv.kind == "general" and conv.query.strip():
            answer = next((t.content.strip() for t in conv.assistant_turns if t.content.strip()), None)
            plain_queries.setdefault(query_key(conv.query), (conv.query.strip(), answer))
    # the first step decides: a call to a tool that training never shows is an unseen-tool sample
    seen_calls = [c for c in calls.values() if c.tool.name in trained]
    unseen_calls = [c for c in calls.values() if c.tool.name not in trained]
    rng = random.Random(f"{cfg.seed}:benchmark")
    distractor_pool = [t for name, t in tools.items() if name in trained and name not in PSEUDO_TOOLS]
    samples: list[Sample] = []

    def unique_by_query(candidates: list[_Call]) -> list[_Call]:
        out: dict[str, _Call] = {}
        for c in sorted(candidates, key=lambda c: c.id):
            out.setdefault(query_key(c.query), c)
        picked = list(out.values())
        rng.shuffle(picked)
        return picked

    def offered(needed: Tool | None, extra: int = 0) -> list[Tool]:
        others = [t for t in distractor_pool if needed is None or t.name != needed.name]
        chosen = ([needed] if needed else []) + rng.sample(others, min(cfg.distractors + extra, len(others)))
        rng.shuffle(chosen)
        return chosen

    def add(
        category: str,
        query: str,
        offered_tools: list[Tool],
        expected: str,
        tool: str | None = None,
        arguments: dict[str, list[Any]] | None = None,
        level: str = "action",
        reference: str | None = None,
    ) -> None:
        samples.append(
            Sample(
                f"{category}_{len(samples)}",
                category,
                level,
                query,
                offered_tools,
                expected,
                tool,
                arguments,
                reference,
            )
        )

    seen, unseen = unique_by_query(seen_calls), unique_by_query(unseen_calls)
    for category, pool in (("tool_needed_offered_seen", seen), ("tool_needed_offered_unseen", unseen)):
        for c in pool[: cfg.per_category]:
            add(category, c.query, offered(c.tool), "call", c.tool.name, {k: [v] for k, v in c.arguments.items()})
    leftover = seen[cfg.per_category :] + unseen[cfg.per_category :]
    rng.shuffle(leftover)
    for c in leftover[: cfg.per_category]:
        add("tool_needed_not_offered", c.query, [], "plain")
    plain = [plain_queries[k] for k in sorted(plain_queries)]
    for category in ("plain_tools_offered", "plain_no_tools", "format_request"):
        for i, (query, reference) in enumerate(rng.sample(plain, min(cfg.per_category, len(plain)))):
            if category == "plain_tools_offered":
                add(category, query, offered(None, 1), "plain", reference=reference)
            elif category == "plain_no_tools":
                add(category, query, [], "plain", reference=reference)
            else:  # the reference answers the question, not the format: quality is scored on content here
                add(
                    category,
                    f"{query} {FORMAT_REQUESTS[i % len(FORMAT_REQUESTS)]}",
                    offered(None) if i % 2 else [],
                    "plain",
                    level="format",
                    reference=reference,
                )
    counts = Counter(s.category for s in samples)
    return samples, {c: counts.get(c, 0) for c in CATEGORIES}


def sample_row(s: Sample) -> dict[str, Any]:
    """The frame `expectations/agent_h.json` checks."""
    names = [t.name for t in s.tools]
    return {
        "id": s.id,
        "category": s.category,
        "level": s.level,
        "expected": s.expected,
        "n_tools": len(s.tools),
        "query_chars": len(s.query),
        "expected_tool_offered": (s.expected_tool in names) if s.expected == "call" else True,
        "plain_with_expected_tool": s.expected == "plain" and s.expected_tool is not None,
    }
