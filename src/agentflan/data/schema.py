"""The record types every stage reads and writes (the one schema module).

A `Conversation` is one training sample: turns with a role, text, a per-turn `loss` flag, the
structural `part` the converter gave it (thought, tool choice, arguments, ...) and, once the
decompose stage has run, a `capability` label. Offered tools are structured data (`Tool`), tool
calls are parsed (`ToolCall`). Records serialise to one JSON object per line with sorted keys, so
the same record always gives the same bytes.

Imports nothing of ours but the prompt texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from agentflan.data.prompts import render_system

ROLES = ("system", "user", "assistant", "tool")
CAPABILITIES = ("reasoning", "retrieval", "understanding", "instruction_following", "general")
# What an assistant turn is, structurally. The converter knows it; decompose maps it to a capability.
PARTS = (
    "thought",  # the reasoning step of a chat-aligned trajectory
    "tool_choice",  # naming the tool to call
    "arguments",  # the tool call's arguments, as JSON
    "answer",  # a final answer composed from tool results
    "react",  # a whole ReAct step in its upstream format (Thought/Action/Action Input, Think/Act ...)
    "format",  # output produced in a format the prompt asked for (format-following samples)
    "chat",  # ordinary conversation
)
KINDS = ("agent", "general", "format", "negative")
STYLES = ("chat", "react", "plain")
# Pseudo-tools of the upstream formats (ToolBench's Finish, AgentInstruct's finish): calls that end a trajectory, never
# held out, and not hallucinated when a tool list omits them.
PSEUDO_TOOLS = frozenset({"Finish", "finish"})


class SchemaError(ValueError):
    """A record does not fit the schema. `field` is a dotted path to the offending value."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def to_openai(self) -> dict[str, Any]:
        """The function-calling shape `tokenizer.apply_chat_template(tools=...)` expects."""
        return {"type": "function", "function": self.to_dict()}


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class Turn:
    role: str
    content: str
    loss: bool = False
    part: str | None = None
    capability: str | None = None
    call: ToolCall | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "loss": self.loss,
            "part": self.part,
            "capability": self.capability,
            "call": self.call.to_dict() if self.call else None,
        }

    @property
    def trainable(self) -> bool:
        return self.role == "assistant" and self.loss


@dataclass
class Conversation:
    id: str
    source: str
    kind: str
    style: str
    turns: list[Turn]
    tools: list[Tool] = field(default_factory=list)
    query: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "kind": self.kind,
            "style": self.style,
            "query": self.query,
            "tools": [t.to_dict() for t in self.tools],
            "turns": [t.to_dict() for t in self.turns],
            "meta": self.meta,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @property
    def assistant_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == "assistant"]

    @property
    def trainable_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.trainable]

    @property
    def calls(self) -> list[ToolCall]:
        return [t.call for t in self.turns if t.call is not None]

    # --- exports -------------------------------------------------------------------------------
    def to_messages(self) -> list[dict[str, str]]:
        """Plain `messages` for `tokenizer.apply_chat_template`; pass `self.tools_openai()` as tools."""
        return [{"role": t.role, "content": t.content} for t in self.turns]

    def tools_openai(self) -> list[dict[str, Any]] | None:
        """Tools for `apply_chat_template(tools=...)`; None when the system text already lists them."""
        if self.meta.get("tools_in_prompt"):
            return None
        return [t.to_openai() for t in self.tools] or None

    def to_agentflan(self) -> dict[str, Any]:
        """The Agent-FLAN release schema: `{"id", "conversation": [{"role", "content", "loss"}]}`.

        The release knows only system/user/assistant: tool results become user turns, and the
        offered tools are written into the system turn (the same text the chat template renders).
        """
        render_tools = self.tools_openai() is not None  # the same rule the chat template follows
        conversation = []
        for t in self.turns:
            role = "user" if t.role == "tool" else t.role
            content = render_system(t.content, self.tools) if (t.role == "system" and render_tools) else t.content
            conversation.append({"role": role, "content": content, "loss": bool(t.loss and t.role == "assistant")})
        if render_tools and not any(t.role == "system" for t in self.turns):
            conversation.insert(0, {"role": "system", "content": render_system("", self.tools), "loss": False})
        return {"id": self.id, "conversation": conversation}


# --- parsing back (strict: every field checked, errors name the field) -----------------------------


def _req(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise SchemaError(f"{where}.{key}" if where else key, "missing")
    value = d[key]
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise SchemaError(f"{where}.{key}" if where else key, f"expected {names}, got {type(value).__name__}")
    return value


def tool_from_dict(d: Any, where: str = "tool") -> Tool:
    if not isinstance(d, dict):
        raise SchemaError(where, f"expected object, got {type(d).__name__}")
    params = d.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(params, dict):
        raise SchemaError(f"{where}.parameters", "expected object")
    return Tool(name=_req(d, "name", str, where), description=str(d.get("description") or ""), parameters=params)


def call_from_dict(d: Any, where: str = "call") -> ToolCall:
    if not isinstance(d, dict):
        raise SchemaError(where, f"expected object, got {type(d).__name__}")
    return ToolCall(name=_req(d, "name", str, where), arguments=_req(d, "arguments", dict, where))


def turn_from_dict(d: Any, where: str = "turn") -> Turn:
    if not isinstance(d, dict):
        raise SchemaError(where, f"expected object, got {type(d).__name__}")
    role = _req(d, "role", str, where)
    if role not in ROLES:
        raise SchemaError(f"{where}.role", f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    part = d.get("part")
    if part is not None and part not in PARTS:
        raise SchemaError(f"{where}.part", f"unknown part {part!r}")
    capability = d.get("capability")
    if capability is not None and capability not in CAPABILITIES:
        raise SchemaError(f"{where}.capability", f"unknown capability {capability!r}")
    call = d.get("call")
    return Turn(
        role=role,
        content=_req(d, "content", str, where),
        loss=bool(d.get("loss", False)),
        part=part,
        capability=capability,
        call=call_from_dict(call, f"{where}.call") if call is not None else None,
    )


def conversation_from_dict(d: Any) -> Conversation:
    if not isinstance(d, dict):
        raise SchemaError("record", f"expected object, got {type(d).__name__}")
    turns = _req(d, "turns", list, "")
    kind = _req(d, "kind", str, "")
    if kind not in KINDS:
        raise SchemaError("kind", f"unknown kind {kind!r}")
    style = _req(d, "style", str, "")
    if style not in STYLES:
        raise SchemaError("style", f"unknown style {style!r}")
    return Conversation(
        id=_req(d, "id", str, ""),
        source=_req(d, "source", str, ""),
        kind=kind,
        style=style,
        query=str(d.get("query") or ""),
        tools=[tool_from_dict(t, f"tools[{i}]") for i, t in enumerate(d.get("tools") or [])],
        turns=[turn_from_dict(t, f"turns[{i}]") for i, t in enumerate(turns)],
        meta=dict(d.get("meta") or {}),
    )


def conversation_from_json(line: bytes | str) -> Conversation:
    return conversation_from_dict(orjson.loads(line))
