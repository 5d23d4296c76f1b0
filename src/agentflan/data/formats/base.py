"""What the format readers produce: an upstream record parsed into steps, before any rendering.

A reader turns one raw record into a `Trajectory` (or a `Dialogue` for plain chat), raises
`RecordError` when the record is malformed (it goes to quarantine, naming the field) and `Dropped`
when a cleaning rule removes it (it is counted by rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentflan.data.schema import Tool, ToolCall


class RecordError(ValueError):
    """A malformed record: `field` names where, `reason` says what is wrong."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Dropped(Exception):
    """A well-formed record that a cleaning rule removes; `rule` is the counter it goes to."""

    def __init__(self, rule: str, detail: str = ""):
        super().__init__(f"{rule}: {detail}" if detail else rule)
        self.rule = rule


@dataclass
class Step:
    """One assistant action: a thought, then either tool calls (several at once: parallel calls) or a final answer."""

    raw: str  # the upstream text, verbatim (kept as is for the ReAct style)
    thought: str
    calls: list[ToolCall] = field(default_factory=list)
    answer: str | None = None
    loss: bool = True

    @property
    def call(self) -> ToolCall | None:
        """The first call (ReAct and the elicited chat form write one call a step)."""
        return self.calls[0] if self.calls else None


@dataclass
class Message:
    """Any other turn: a prompt, a query, a tool's result, or assistant text that is not an action."""

    role: str  # system | user | assistant | tool
    content: str
    loss: bool = False
    name: str | None = None  # a tool's result: the tool, when the source names it


@dataclass
class Trajectory:
    """An agent trajectory in one upstream dialect, parsed."""

    id: str
    source: str
    query: str
    tools: list[Tool]
    events: list[Step | Message]
    system: str = ""  # the upstream system prompt (ReAct style keeps it)
    tools_in_prompt: bool = False  # the upstream prompt already lists the tools as text
    # (instructions, problem) for the first user turn when its format instructions can be split off
    first_user_split: tuple[str, str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> list[Step]:
        return [e for e in self.events if isinstance(e, Step)]


@dataclass
class Dialogue:
    """Plain conversation (ShareGPT; a function-calling record that calls nothing, with the tools it offers) or an
    already-converted release record (Agent-FLAN)."""

    id: str
    source: str
    kind: str
    style: str
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)
    tools: list[Tool] = field(default_factory=list)


def conversations_list(record: Any, key: str = "conversations") -> list[dict]:
    """The turn list of a raw record, checked: a list of objects."""
    if not isinstance(record, dict):
        raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
    turns = record.get(key)
    if turns is None:
        raise RecordError(key, "missing")
    if not isinstance(turns, list) or not turns:
        raise RecordError(key, "expected a non-empty list of turns")
    for i, t in enumerate(turns):
        if not isinstance(t, dict):
            raise RecordError(f"{key}[{i}]", "expected an object")
    return turns


def text_field(turn: dict, key: str, where: str) -> str:
    value = turn.get(key)
    if not isinstance(value, str):
        raise RecordError(
            f"{where}.{key}", "missing" if value is None else f"expected text, got {type(value).__name__}"
        )
    return value


def record_id(record: Any, fallback: str) -> str:
    rid = record.get("id") if isinstance(record, dict) else None
    return str(rid) if rid not in (None, "") else fallback
