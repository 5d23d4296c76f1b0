"""The record types every stage reads and writes (the one schema module).

A `Conversation` is one training sample in the OpenAI/HF message shape: turns (messages) with a role and
text; an assistant turn may carry native `tool_calls` (name + arguments object, several for parallel calls),
and a tool turn names the tool whose result it holds. What is learned is labelled per *piece* of an
assistant turn: its content (with the structural `part` the converter gave it: thought, answer, ... and,
once decompose has run, a `capability`), and each native call's name (retrieval) and arguments
(understanding), each with its own loss flag, so balancing can mask the tool-name tokens of a message and
keep its thought. Offered tools are structured data (`Tool`). Records serialise to one JSON object per
line in a fixed field order, so the same record always gives the same bytes; what the source wrote (a tool's
JSON schema, a call's arguments) keeps the source's key order, because the chat template shows it to the model
in that order and a client sends it in that order (sorting it would train on one order and serve another).

Imports nothing of ours but the prompt texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from agentflan.data.prompts import render_system, tool_call_text

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
# What a piece of a native call is: its name is the tool choice, its arguments fill the call.
CALL_PARTS = {"name": "tool_choice", "arguments": "arguments"}
# The capability each part trains (the decompose stage labels turns with it; a native call's pieces follow it too)
PART_CAPABILITY = {
    "thought": "reasoning",
    "tool_choice": "retrieval",
    "arguments": "understanding",
    "answer": "understanding",
    "react": "instruction_following",
    "format": "instruction_following",
    "chat": "general",
}
KINDS = ("agent", "general", "format", "negative")
STYLES = ("native", "chat", "react", "plain")  # native: calls as tool_calls; chat: the paper's elicited turns
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
    id: str = ""  # the id a tool message answers (OpenAI's tool_call_id); empty when the source gives none

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    def to_openai(self) -> dict[str, Any]:
        """An entry of an assistant message's `tool_calls`, as chat templates and the OpenAI API take it."""
        entry = {"type": "function", "function": self.to_dict()}
        return {"id": self.id, **entry} if self.id else entry

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Piece:
    """One learnable unit of an assistant turn: its content, or a native call's name or its arguments."""

    key: str  # "content", "name:<k>" or "arguments:<k>" (k: the call's index in the turn's tool_calls)
    text: str
    part: str | None
    capability: str | None
    loss: bool

    @property
    def call_index(self) -> int | None:
        return None if self.key == "content" else int(self.key.split(":", 1)[1])


@dataclass
class Turn:
    role: str
    content: str
    loss: bool = False  # the content is learned
    part: str | None = None  # what the content is
    capability: str | None = None
    call: ToolCall | None = (
        None  # the call this turn's *text* expresses (the elicited arguments, a ReAct step, a format sample)
    )
    tool_calls: list[ToolCall] = field(default_factory=list)  # native calls: the chat template renders them
    call_loss: list[dict[str, bool]] = field(
        default_factory=list
    )  # per native call: {"name": learned, "arguments": learned}
    name: str | None = None  # a tool turn: the tool whose result it is
    tool_call_id: str | None = None  # a tool turn: the id of the call it answers, when the source gives one

    def __post_init__(self) -> None:
        if len(self.call_loss) < len(self.tool_calls):  # a call given without labels is learned as its turn is
            self.call_loss = [
                *self.call_loss,
                *(
                    {"name": self.loss, "arguments": self.loss}
                    for _ in range(len(self.tool_calls) - len(self.call_loss))
                ),
            ]

    def to_dict(self) -> dict[str, Any]:
        d = {
            "role": self.role,
            "content": self.content,
            "loss": self.loss,
            "part": self.part,
            "capability": self.capability,
            "call": self.call.to_dict() if self.call else None,
        }
        if self.tool_calls:
            d["tool_calls"] = [
                {**c.to_dict(), "id": c.id, "loss": dict(loss)} for c, loss in zip(self.tool_calls, self.call_loss)
            ]
        if self.name is not None:
            d["name"] = self.name
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        return d

    def pieces(self) -> list[Piece]:
        """What an assistant turn can teach, in the order the turn is written: its content (unless it is empty and the
        turn makes calls), then each native call's name and arguments."""
        if self.role != "assistant":
            return []
        out = []
        if self.content.strip() or not self.tool_calls:
            out.append(Piece("content", self.content, self.part, self.capability, self.loss))
        for k, (call, loss) in enumerate(zip(self.tool_calls, self.call_loss)):
            for kind, text in (("name", call.name), ("arguments", call.arguments_json())):
                part = CALL_PARTS[kind]
                out.append(Piece(f"{kind}:{k}", text, part, PART_CAPABILITY[part], loss[kind]))
        return out

    def set_loss(self, key: str, value: bool) -> None:
        """Learn (or stop learning) one piece, named by its `Piece.key`."""
        if key == "content":
            self.loss = value
        else:
            kind, k = key.split(":", 1)
            self.call_loss[int(k)][kind] = value

    @property
    def trainable(self) -> bool:
        """Some piece of it is learned (an empty content beside calls is no piece: it teaches nothing)."""
        return self.role == "assistant" and any(p.loss for p in self.pieces())

    def to_message(self) -> dict[str, Any]:
        """The turn as `tokenizer.apply_chat_template` and the OpenAI API take a message."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            message.update({k: v for k, v in (("name", self.name), ("tool_call_id", self.tool_call_id)) if v})
        return message


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
        return orjson.dumps(self.to_dict())

    @property
    def assistant_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == "assistant"]

    @property
    def trainable_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.trainable]

    @property
    def calls(self) -> list[ToolCall]:
        """Every call the conversation makes: native tool calls and the calls its text expresses."""
        return [c for t in self.turns for c in ([t.call] if t.call is not None else []) + t.tool_calls]

    # --- exports -------------------------------------------------------------------------------
    def to_messages(self) -> list[dict[str, Any]]:
        """OpenAI/HF `messages` for `tokenizer.apply_chat_template` (assistant `tool_calls`, `tool` messages naming
        their tool); pass `self.tools_openai()` as tools."""
        return [t.to_message() for t in self.turns]

    def tools_openai(self) -> list[dict[str, Any]] | None:
        """Tools for `apply_chat_template(tools=...)`; None when the system text already lists them."""
        if self.meta.get("tools_in_prompt"):
            return None
        return [t.to_openai() for t in self.tools] or None

    def to_hf(self) -> dict[str, Any]:
        """The HF conversational row TRL's `SFTTrainer`, axolotl and LLaMA-Factory's `openai` loader train on:
        `messages` (assistant `tool_calls`, `tool` messages) and `tools` as a JSON string (TRL's `SFTTrainer` reads it
        with `json.loads`; a string, because Arrow would merge every row's tool schemas into one struct). Loss masks
        have no place in this format: every assistant message is a training target there."""
        return {"messages": self.to_messages(), "tools": json.dumps(self.tools_openai() or [], ensure_ascii=False)}

    def to_agentflan(self) -> dict[str, Any]:
        """The Agent-FLAN release schema: `{"id", "conversation": [{"role", "content", "loss"}]}`.

        The release knows only system/user/assistant and text: tool results become user turns, native calls are
        written after the content the way the chat template writes them (`<tool_call>` JSON), and the offered tools
        are written into the system turn.
        """
        render_tools = self.tools_openai() is not None  # the same rule the chat template follows
        conversation = []
        for t in self.turns:
            role = "user" if t.role == "tool" else t.role
            content = render_system(t.content, self.tools) if (t.role == "system" and render_tools) else t.content
            if t.tool_calls:
                content = "\n".join(
                    [content.strip()] * bool(content.strip()) + [tool_call_text(c) for c in t.tool_calls]
                )
            conversation.append({"role": role, "content": content, "loss": t.trainable})
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
    call_id = d.get("id") or ""
    if not isinstance(call_id, str):
        raise SchemaError(f"{where}.id", f"expected str, got {type(call_id).__name__}")
    return ToolCall(name=_req(d, "name", str, where), arguments=_req(d, "arguments", dict, where), id=call_id)


def _call_loss(d: dict[str, Any], where: str) -> dict[str, bool]:
    loss = d.get("loss", {})
    if not isinstance(loss, dict) or set(loss) - set(CALL_PARTS) or not all(isinstance(v, bool) for v in loss.values()):
        raise SchemaError(f"{where}.loss", "expected an object of booleans with keys name and arguments")
    return {"name": loss.get("name", False), "arguments": loss.get("arguments", False)}


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
    tool_calls = d.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise SchemaError(f"{where}.tool_calls", "expected a list of calls")
    if tool_calls and role != "assistant":
        raise SchemaError(f"{where}.tool_calls", f"only an assistant turn makes calls, not a {role} turn")
    for key in ("name", "tool_call_id"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise SchemaError(f"{where}.{key}", f"expected str, got {type(d[key]).__name__}")
    return Turn(
        role=role,
        content=_req(d, "content", str, where),
        loss=bool(d.get("loss", False)),
        part=part,
        capability=capability,
        call=call_from_dict(call, f"{where}.call") if call is not None else None,
        tool_calls=[call_from_dict(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(tool_calls)],
        call_loss=[_call_loss(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(tool_calls)],
        name=d.get("name"),
        tool_call_id=d.get("tool_call_id"),
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
