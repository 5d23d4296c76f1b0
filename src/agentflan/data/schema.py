"""The record types every stage reads and writes (the one schema module).

A `Conversation` is one training sample in the OpenAI/HF message shape: turns (messages) with a role and
text; an assistant turn may carry native `tool_calls` (name + arguments object, several for parallel calls),
and a tool turn names the tool whose result it holds. What is learned is labelled per *piece* of an
assistant turn: its content (with the structural `part` the converter gave it: thought, answer, ... and,
once decompose has run, a `capability`), and each native call's name (retrieval) and arguments
(understanding), each with its own loss flag, so balancing can mask the tool-name tokens of a message and
keep its thought. Offered tools are structured data (`Tool`). The types are msgspec Structs: an earlier
stage's JSON line decodes straight into them, every field's type checked by msgspec (`decode_conversation`), and a
refused record's error names the field as `SchemaError` always has. Records serialise to one JSON object per
line in a fixed field order, so the same record always gives the same bytes; what the source wrote (a tool's
JSON schema, a call's arguments) keeps the source's key order, because the chat template shows it to the model
in that order and a client sends it in that order (sorting it would train on one order and serve another).

Imports nothing of ours but the prompt texts.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

import msgspec
import orjson

from agentflan.data.prompts import system_with_tool_lines, text_json, tool_call_text, tool_json

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


def _default_parameters() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


class Tool(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=_default_parameters)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def to_openai(self) -> dict[str, Any]:
        """The function-calling shape `tokenizer.apply_chat_template(tools=...)` expects."""
        return {"type": "function", "function": self.to_dict()}


class ToolCall(msgspec.Struct, frozen=True):
    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str = ""  # the id a tool message answers (OpenAI's tool_call_id); empty when the source gives none

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    def to_openai(self) -> dict[str, Any]:
        """An entry of an assistant message's `tool_calls`, as chat templates and the OpenAI API take it."""
        entry = {"type": "function", "function": self.to_dict()}
        return {"id": self.id, **entry} if self.id else entry

    def arguments_json(self) -> str:
        return text_json(self.arguments)


_PARAMETERS = msgspec.json.Encoder()


def tool_line(tool: Tool) -> str:
    """`prompts.tool_json(tool)`, remembered for a tool met again: a corpus offers few tools, each many times, and
    json.dumps of their schemas was a sixth of the negatives stage's per-record work (5 Dec 2026). The same `Tool` (a
    decoded record's: `decode_conversation` gives one per definition) is looked up by identity; another by its name,
    description and parameters as msgspec writes them, which tells every JSON value apart except non-finite floats
    from null (msgspec writes both as null, json.dumps not): parameters with a null in them are written afresh each
    time."""
    known = _LINES.get(id(tool))
    if known is not None and known[0] is tool:
        return known[1]
    line = _written_line(tool)
    if len(_LINES) >= 4096:
        _LINES.clear()
    _LINES[id(tool)] = (tool, line)  # the entry holds the tool: its id is no other object's while it is here
    return line


_LINES: dict[int, tuple[Tool, str]] = {}


def _written_line(tool: Tool) -> str:
    try:
        parameters = _PARAMETERS.encode(tool.parameters)
    except (TypeError, msgspec.EncodeError):  # what msgspec cannot write: json.dumps says what it makes of it
        return tool_json(tool)
    if b"null" in parameters:
        return tool_json(tool)
    return _tool_line(tool.name, tool.description, parameters)


@functools.lru_cache(maxsize=4096)
def _tool_line(name: str, description: str, parameters: bytes) -> str:
    """`tool_line` of the tool the key names, its parameters read back (msgspec reads back the values it wrote, in
    their order)."""
    return tool_json({"name": name, "description": description, "parameters": msgspec.json.decode(parameters)})


class _CallLoss(msgspec.Struct, forbid_unknown_fields=True):
    """A native call's labels as a record writes them: `{"name": learned, "arguments": learned}`."""

    name: bool = False
    arguments: bool = False


class _WrittenCall(ToolCall, frozen=True):
    """A native call as a record writes it: the call and its labels (`Turn` splits them into `tool_calls` and
    `call_loss`)."""

    loss: _CallLoss = msgspec.field(default_factory=_CallLoss)


class Piece(msgspec.Struct, frozen=True):
    """One learnable unit of an assistant turn: its content, or a native call's name or its arguments."""

    key: str  # "content", "name:<k>" or "arguments:<k>" (k: the call's index in the turn's tool_calls)
    text: str
    part: str | None
    capability: str | None
    loss: bool

    @property
    def call_index(self) -> int | None:
        return None if self.key == "content" else int(self.key.split(":", 1)[1])


class Turn(msgspec.Struct):
    role: Literal[ROLES]
    content: str
    loss: bool = False  # the content is learned
    part: Literal[PARTS] | None = None  # what the content is
    capability: Literal[CAPABILITIES] | None = None
    call: ToolCall | None = None  # the call this turn's *text* expresses (the elicited arguments, a ReAct step, ...)
    tool_calls: list[_WrittenCall] = msgspec.field(default_factory=list)  # native calls: the chat template renders them
    call_loss: list[dict[str, bool]] = msgspec.field(default_factory=list)  # per native call: {"name", "arguments"}
    name: str | None = None  # a tool turn: the tool whose result it is
    tool_call_id: str | None = None  # a tool turn: the id of the call it answers, when the source gives one

    def __post_init__(self) -> None:
        if not self.tool_calls:
            return
        if self.role != "assistant":
            raise ValueError(f"tool_calls: only an assistant turn makes calls, not a {self.role} turn")
        if type(self.tool_calls[0]) is _WrittenCall:  # decoded from a record: each call carries its labels
            written, self.tool_calls = self.tool_calls, []
            self.call_loss = [{"name": c.loss.name, "arguments": c.loss.arguments} for c in written]
            self.tool_calls = [ToolCall(c.name, c.arguments, c.id) for c in written]
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
        """Some piece of it is learned (an empty content beside calls is no piece: it teaches nothing); `pieces()`'s
        rule, without building them."""
        if self.role != "assistant":
            return False
        if self.loss and (not self.tool_calls or self.content.strip()):
            return True
        return any(loss["name"] or loss["arguments"] for _, loss in zip(self.tool_calls, self.call_loss))

    def to_message(self) -> dict[str, Any]:
        """The turn as `tokenizer.apply_chat_template` and the OpenAI API take a message."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            message.update({k: v for k, v in (("name", self.name), ("tool_call_id", self.tool_call_id)) if v})
        return message


def calls_of(turns: list[Any]) -> list[Any]:
    """Each turn's call its text expresses, then its native calls, in turn order (of `Turn`s, or of any records with
    `call` and `tool_calls`: the negatives stage's screen reads only their names)."""
    return [c for t in turns for c in ([t.call] if t.call is not None else []) + t.tool_calls]


class Conversation(msgspec.Struct):
    id: str
    source: str
    kind: Literal[KINDS]
    style: Literal[STYLES]
    turns: list[Turn]
    tools: list[Tool] | None = msgspec.field(default_factory=list)
    query: str | None = ""
    meta: dict[str, Any] | None = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:  # a record may write null for what it does not have
        if self.tools is None:
            self.tools = []
        if self.query is None:
            self.query = ""
        if self.meta is None:
            self.meta = {}

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

    def learned_pieces(self) -> list[Piece]:
        """Every piece the conversation teaches (its loss on), in the order it is written."""
        return [p for t in self.turns if t.role == "assistant" for p in t.pieces() if p.loss]

    @property
    def calls(self) -> list[ToolCall]:
        """Every call the conversation makes: native tool calls and the calls its text expresses."""
        return calls_of(self.turns)

    # --- exports -------------------------------------------------------------------------------
    def to_messages(self) -> list[dict[str, Any]]:
        """OpenAI/HF `messages` for `tokenizer.apply_chat_template` (assistant `tool_calls`, `tool` messages naming
        their tool); pass `self.tools_openai()` as tools."""
        return [t.to_message() for t in self.turns]

    def tools_openai(self) -> list[dict[str, Any]] | None:
        """Tools for `apply_chat_template(tools=...)`; None when the system text already lists them."""
        return [t.to_openai() for t in self.tools] if self.tools_apart() else None

    def tools_apart(self) -> bool:
        """Tools are offered, and not already in the system text (`tools_openai()` is not None)."""
        return bool(self.tools) and not self.meta.get("tools_in_prompt")

    def tool_lines(self) -> list[str]:
        """Each offered tool's JSON schema on one line (`prompts.tool_json`), as both exports write it."""
        return [tool_line(t) for t in self.tools]

    def exports(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """`to_agentflan()` and `to_hf()`, each tool's JSON written once for both."""
        lines = self.tool_lines()
        return self.to_agentflan(lines), self.to_hf(lines)

    def to_hf(self, tool_lines: list[str] | None = None) -> dict[str, Any]:
        """The HF conversational row TRL's `SFTTrainer`, axolotl and LLaMA-Factory's `openai` loader train on:
        `messages` (assistant `tool_calls`, `tool` messages) and `tools` as a JSON string (TRL's `SFTTrainer` reads it
        with `json.loads`; a string, because Arrow would merge every row's tool schemas into one struct). Loss masks
        have no place in this format: every assistant message is a training target there. `tool_lines`:
        `self.tool_lines()`, when the caller has them already."""
        if not self.tools_apart():
            return {"messages": self.to_messages(), "tools": "[]"}
        lines = self.tool_lines() if tool_lines is None else tool_lines
        # json.dumps(self.tools_openai(), ensure_ascii=False), from each tool's own json.dumps
        tools = ", ".join(f'{{"type": "function", "function": {line}}}' for line in lines)
        return {"messages": self.to_messages(), "tools": f"[{tools}]"}

    def to_agentflan(self, tool_lines: list[str] | None = None) -> dict[str, Any]:
        """The Agent-FLAN release schema: `{"id", "conversation": [{"role", "content", "loss"}]}`.

        The release knows only system/user/assistant and text: tool results become user turns, native calls are
        written after the content the way the chat template writes them (`<tool_call>` JSON), and the offered tools
        are written into the system turn (`tool_lines`: as for `to_hf`).
        """
        render_tools = self.tools_apart()  # the same rule the chat template follows
        lines = (self.tool_lines() if tool_lines is None else tool_lines) if render_tools else []
        conversation = []
        for t in self.turns:
            role = "user" if t.role == "tool" else t.role
            content = system_with_tool_lines(t.content, lines) if (t.role == "system" and render_tools) else t.content
            if t.tool_calls:
                content = "\n".join(
                    [content.strip()] * bool(content.strip()) + [tool_call_text(c) for c in t.tool_calls]
                )
            conversation.append({"role": role, "content": content, "loss": t.trainable})
        if render_tools and not any(t.role == "system" for t in self.turns):
            conversation.insert(0, {"role": "system", "content": system_with_tool_lines("", lines), "loss": False})
        return {"id": self.id, "conversation": conversation}


_CAPABILITY_KEY = b'"capability":'
_CAPABILITY_JSON = {None: b"null", **{c: b'"' + c.encode() + b'"' for c in CAPABILITIES}}


def with_capabilities(line: bytes, conv: Conversation) -> bytes | None:
    """`line`, the canonical JSON line `conv` was read from, with each turn's `capability` set to the turn's own (as
    `conv.to_json()` writes it after `decompose.label`, at 3.0 against its 5.2 us a record); None where that cannot
    be told from the line alone. The key `"capability":` stands only as a key in a JSON line (in a string its quotes
    are escaped) and every turn writes it once, so where the line holds it exactly once a turn, the n-th is the n-th
    turn's; anywhere else (a tool's schema, a call's arguments, the meta) it makes one too many, and the record is
    encoded instead."""
    parts = line.split(_CAPABILITY_KEY)
    if len(parts) != len(conv.turns) + 1:
        return None
    for i, turn in enumerate(conv.turns, 1):
        rest = parts[i]
        if rest[:4] == b"null":
            if turn.capability is not None:  # (a turn that had none and has none stays as it is)
                parts[i] = _CAPABILITY_JSON[turn.capability] + rest[4:]
        elif rest[:1] == b'"' and (end := rest.find(b'"', 1)) > 0:
            parts[i] = _CAPABILITY_JSON[turn.capability] + rest[end + 1 :]
        else:
            return None
    return _CAPABILITY_KEY.join(parts)


# --- parsing back (strict: msgspec checks every field; errors name the field) ----------------------------

_AT = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.S)
_ALLOWED = {"role": ROLES, "part": PARTS, "capability": CAPABILITIES, "kind": KINDS, "style": STYLES}
_DECODER = msgspec.json.Decoder(Conversation)


def _line_struct() -> type[msgspec.Struct]:
    """`Conversation`'s fields in its order, its tools left as their JSON text (`decode_conversation` reads each one
    through `_tool`)."""
    fields = []
    for f in msgspec.structs.fields(Conversation):
        kind = list[msgspec.Raw] | None if f.name == "tools" else f.type
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, kind, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, kind))
    return msgspec.defstruct("ConversationLine", fields)


_LINE_DECODER = msgspec.json.Decoder(_line_struct())
_TOOL_DECODER = msgspec.json.Decoder(Tool)


@functools.lru_cache(maxsize=4096)
def _tool(text: bytes) -> Tool:
    """A tool's definition from its JSON text, one `Tool` for a text met again (a corpus offers few tools, each in
    many records; a `Tool` is frozen, and nothing changes its parameters). Decoding the demo's records at 500k
    trajectories: 6.5 -> 6.2 us a record where each is dropped once read (a stage's pass), 12.5 -> 8.6 us where they are
    all held (building the schemas' dicts afresh each time; 6 Dec 2026); and `tool_line` finds a shared tool's line by
    identity."""
    return _TOOL_DECODER.decode(text)


def schema_error(error: msgspec.ValidationError, root: str = "record") -> SchemaError:
    """msgspec's "Expected `str`, got `int` - at `$.turns[0].content`" as `SchemaError("turns[0].content", "expected
    str, got int")`: the dotted field and the reason the hand-written checks gave before."""
    found = _AT.match(str(error))
    reason, path = (found["reason"], found["path"].lstrip(".")) if found else (str(error), "")
    if missing := re.fullmatch(r"Object missing required field `(\w+)`", reason):
        return SchemaError(f"{path}.{missing[1]}" if path else missing[1], "missing")
    if expected := re.fullmatch(r"Expected `(.+?)`, got `(.+?)`", reason):
        return SchemaError(path or root, f"expected {expected[1]}, got {expected[2]}")
    if enum := re.fullmatch(r"Invalid enum value (.+)", reason):
        name = path.rsplit(".", 1)[-1]
        allowed = f" (expected one of {', '.join(_ALLOWED[name])})" if name in _ALLOWED else ""
        return SchemaError(path or root, f"unknown {name} {enum[1]}{allowed}")
    if inner := re.fullmatch(r"(\w+): (.+)", reason, re.S):  # raised by a __post_init__, naming its own field
        return SchemaError(f"{path}.{inner[1]}" if path else inner[1], inner[2])
    return SchemaError(path or root, reason[:1].lower() + reason[1:])


def decode_conversation(line: bytes) -> Conversation:
    """One JSON line of a canonical file, decoded and type-checked by msgspec (no dict in between), each tool's
    definition once a text (`_tool`). A record that does not check is decoded again in one pass, for the error's
    field path from the record's root."""
    try:
        r = _LINE_DECODER.decode(line)
        tools = None if r.tools is None else [_tool(bytes(t)) for t in r.tools]
        return Conversation(r.id, r.source, r.kind, r.style, r.turns, tools, r.query, r.meta)
    except msgspec.DecodeError:  # a malformed line raises its error again below
        pass
    try:
        return _DECODER.decode(line)
    except msgspec.ValidationError as e:
        raise schema_error(e) from None


def conversation_from_dict(d: Any) -> Conversation:
    """A canonical record already parsed to Python objects (a JSON array's element), checked as `decode_conversation`
    checks a line."""
    if not isinstance(d, dict):
        raise SchemaError("record", f"expected object, got {type(d).__name__}")
    try:
        return msgspec.convert(d, Conversation)
    except msgspec.ValidationError as e:
        raise schema_error(e) from None


def tool_from_dict(d: Any, where: str = "tool") -> Tool:
    """A tool as a hand-written file gives it (a benchmark's tool list): a null description or parameters is none."""
    if not isinstance(d, dict):
        raise SchemaError(where, f"expected object, got {type(d).__name__}")
    params = d.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(params, dict):
        raise SchemaError(f"{where}.parameters", "expected object")
    if not isinstance(d.get("name"), str):
        reason = "missing" if "name" not in d else f"expected str, got {type(d['name']).__name__}"
        raise SchemaError(f"{where}.name", reason)
    return Tool(name=d["name"], description=str(d.get("description") or ""), parameters=params)
