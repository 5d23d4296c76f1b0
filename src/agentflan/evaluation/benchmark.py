"""An Agent-H style hallucination benchmark, built from tools and queries held out of training.

Two levels, as in the paper:
- action: query type x tools offered -> `tool_needed_offered_seen` / `tool_needed_offered_unseen`
  (expected: a call to the right tool; unseen = tools in `demo.heldout_tools`), `tool_needed_not_offered`,
  `plain_tools_offered`, `plain_no_tools` (expected: a plain answer);
- format: `format_request`, a plain query that asks for a response format (one sentence, a list, JSON
  with an "answer" key), with tools offered to half of them (expected: a plain answer).
When tools are offered, the system prompt asks for the ReAct format for tool calls. Queries that occur
in the training or validation data are never used.

Pure data: no torch, no MLflow.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentflan.config import AgentHConfig
from agentflan.data.prompts import NATURAL_SYSTEM, format_system
from agentflan.data.schema import SchemaError, Tool, tool_from_dict
from agentflan.demo import world

CATEGORIES = ("tool_needed_offered_seen", "tool_needed_offered_unseen", "tool_needed_not_offered",
              "plain_tools_offered", "plain_no_tools", "format_request")
TOOLS_SYSTEM = format_system("react")


@dataclass
class Sample:
    id: str
    category: str
    level: str
    query: str
    tools: list[Tool]
    expected: str  # plain | call
    expected_tool: str | None = None

    @property
    def system(self) -> str:
        return TOOLS_SYSTEM if self.tools else NATURAL_SYSTEM

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.query}]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "level": self.level, "query": self.query,
                "tools": [t.to_dict() for t in self.tools], "expected": self.expected, "expected_tool": self.expected_tool}

    @classmethod
    def from_dict(cls, d: Any) -> Sample:
        if not isinstance(d, dict):
            raise SchemaError("record", "expected an object")
        for key in ("id", "category", "query", "expected"):
            if not isinstance(d.get(key), str):
                raise SchemaError(key, "missing or not text")
        tools = [tool_from_dict(t, f"tools[{i}]") for i, t in enumerate(d.get("tools") or [])]
        return cls(d["id"], d["category"], d.get("level", "action"), d["query"], tools, d["expected"], d.get("expected_tool"))


def _tool(t: world.ToolDef) -> Tool:
    return Tool(t.name, t.description, t.parameters)


def build(cfg: AgentHConfig, heldout_tools: Iterable[str], seen_queries: set[str]) -> list[Sample]:
    """Samples per category from the demo world: held-out tools are the unseen ones; `seen_queries` are never used."""
    heldout_tools = set(heldout_tools)
    rng = random.Random(f"{cfg.seed}:agent_h")
    seen = [t for t in world.TOOLS if t.name not in heldout_tools]
    unseen = [t for t in world.TOOLS if t.name in heldout_tools]
    norm = lambda q: " ".join(q.lower().split())  # noqa: E731
    used = {norm(q) for q in seen_queries}
    samples: list[Sample] = []

    def tool_query(pool: list[world.ToolDef]) -> tuple[world.ToolDef, str]:
        for _ in range(200):
            tool = rng.choice(pool)
            query, _ = world.sample_call(tool, rng)
            if norm(query) not in used:
                used.add(norm(query))
                return tool, query
        raise ValueError("the tool world has no unused queries left for the benchmark")

    def offered(needed: world.ToolDef | None) -> list[Tool]:
        others = [t for t in seen if t is not needed]
        tools = ([needed] if needed else []) + rng.sample(others, min(cfg.distractors + (0 if needed else 1), len(others)))
        rng.shuffle(tools)
        return [_tool(t) for t in tools]

    def add(category: str, query: str, tools: list[Tool], expected: str, tool: str | None = None, level: str = "action") -> None:
        samples.append(Sample(f"{category}_{len(samples)}", category, level, query, tools, expected, tool))

    for category, pool in (("tool_needed_offered_seen", seen), ("tool_needed_offered_unseen", unseen)):
        for _ in range(cfg.per_category if pool else 0):
            tool, query = tool_query(pool)
            add(category, query, offered(tool), "call", tool.name)
    for _ in range(cfg.per_category):
        _, query = tool_query(seen + unseen)
        add("tool_needed_not_offered", query, [], "plain")
    plain = [q for q in world.EVAL_PLAIN if norm(q) not in used]
    for i in range(cfg.per_category):
        add("plain_tools_offered", plain[i % len(plain)], offered(None), "plain")
        add("plain_no_tools", plain[(i + 7) % len(plain)], [], "plain")
        request = world.FORMAT_REQUESTS[i % len(world.FORMAT_REQUESTS)]
        add("format_request", f"{plain[(i + 3) % len(plain)]} {request}", offered(None) if i % 2 else [], "plain", level="format")
    return samples


def sample_row(s: Sample) -> dict[str, Any]:
    """The frame `expectations/agent_h.json` checks."""
    names = [t.name for t in s.tools]
    return {"id": s.id, "category": s.category, "level": s.level, "expected": s.expected, "n_tools": len(s.tools),
            "query_chars": len(s.query), "expected_tool_offered": (s.expected_tool in names) if s.expected == "call" else True,
            "plain_with_expected_tool": s.expected == "plain" and s.expected_tool is not None}
