"""OpenAI / Hugging Face messages:
`{"messages": [{"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}], "tools"?}`,
the conversational format TRL's `SFTTrainer`, axolotl's `chat_template` datasets and LLaMA-Factory's `openai` loader
train on, and OpenAI's fine-tuning files.

An assistant message's `tool_calls` (`{"id", "type": "function", "function": {"name", "arguments"}}`, arguments as a
JSON string or an object; several are parallel calls) or its legacy `function_call`; a `tool` (or legacy `function`)
message holds a result, naming its call by `tool_call_id` or its tool by `name`. Content may be a string, null, or a
list of `{"type": "text", "text"}` parts. OpenAI's fine-tuning `weight: 0` on an assistant message keeps it unlearned.
The offered tools are `tools`, or in the legacy fine-tuning files (Azure OpenAI's still) `functions`, a list of
`{"name", "description", "parameters"}`. Messages under `conversations` (ShareGPT's field name) read the same.
Anthropic's Messages rows read the same: content as a list of blocks, an assistant's `tool_use` blocks (`{"id",
"name", "input"}`) its calls, a user message's `tool_result` blocks (`{"tool_use_id", "content"}`) the results, named by
their call, `thinking` blocks left out; the offered tools with their `input_schema`, `system` a text or text blocks.
A source in `data.sources` may rename the fields (`columns: {messages, tools, system}`) and the roles (`tags: {role,
content, user, assistant, system, tool}`), as LLaMA-Factory's `dataset_info.json` does.
"""

from __future__ import annotations

from typing import Any

from agentflan.data.formats.base import RecordError, record_id
from agentflan.data.formats.calls import call_from_any, parse_tools
from agentflan.data.formats.messages import Msg, build

COLUMNS = {"messages": "messages", "tools": "tools", "system": "system"}
TAGS = {
    "role": "role",
    "content": "content",
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
}
ALIASES = {"function": "tool", "ipython": "tool", "developer": "system"}  # the legacy and vendor names of those roles


def messages_key(record: Any, cols: dict, tg: dict) -> str:
    """The field holding the messages: `messages` (or the source's own name), else `conversations` where a file
    writes OpenAI's `role`/`content` messages under ShareGPT's field name."""
    if not isinstance(record, dict) or cols["messages"] in record or cols["messages"] != COLUMNS["messages"]:
        return cols["messages"]
    turns = record.get("conversations")
    by_role = isinstance(turns, list) and any(
        isinstance(t, dict) and tg["role"] in t and "from" not in t for t in turns
    )
    return "conversations" if by_role else cols["messages"]


def looks_like(record: Any, columns: dict | None = None, tags: dict | None = None) -> bool:
    cols, tg = {**COLUMNS, **(columns or {})}, {**TAGS, **(tags or {})}
    messages = record.get(messages_key(record, cols, tg)) if isinstance(record, dict) else None
    return isinstance(messages, list) and any(isinstance(m, dict) and tg["role"] in m for m in messages)


THINKING = frozenset({"thinking", "redacted_thinking"})  # Anthropic's reasoning blocks: not the message's text
CALL_BLOCKS = frozenset({"tool_use", "tool_result"})  # read as calls and results, not as text


def text(content: Any, where: str) -> str:
    """A message's text: a string, nothing, or a list of text parts (blocks of other kinds left out)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p.get("text", "") if isinstance(p, dict) else p
            for p in content
            if not (isinstance(p, dict) and p.get("type") in THINKING | CALL_BLOCKS)
        ]
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)
    raise RecordError(where, f"expected text or a list of text parts, got {type(content).__name__}")


def blocks(content: Any, kind: str) -> list[tuple[int, dict]]:
    """Anthropic's content blocks of one kind (`tool_use`, `tool_result`), with their places in the list."""
    return [
        (k, b)
        for k, b in enumerate(content if isinstance(content, list) else [])
        if isinstance(b, dict) and b.get("type") == kind
    ]


def parse(record: Any, source: str, index: int, columns: dict | None = None, tags: dict | None = None):
    cols, tg = {**COLUMNS, **(columns or {})}, {**TAGS, **(tags or {})}
    if not isinstance(record, dict):
        raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
    cols = {**cols, "messages": messages_key(record, cols, tg)}
    raw = record.get(cols["messages"])
    if not isinstance(raw, list) or not raw:
        raise RecordError(cols["messages"], "missing" if raw is None else "expected a non-empty list of messages")
    roles = {tg["user"]: "user", tg["assistant"]: "assistant", tg["system"]: "system", tg["tool"]: "tool"}
    tools_at = cols["tools"] if cols["tools"] in record or "functions" not in record else "functions"  # legacy name
    tools = parse_tools(record.get(tools_at), tools_at)
    msgs: list[Msg] = []
    system = text(record.get(cols["system"]), cols["system"]) if record.get(cols["system"]) is not None else ""
    if system.strip():
        msgs.append(Msg("system", system))
    names_by_id: dict[str, str] = {}
    for i, m in enumerate(raw):
        where = f"{cols['messages']}[{i}]"
        if not isinstance(m, dict):
            raise RecordError(where, "expected an object")
        role = roles.get(m.get(tg["role"])) or ALIASES.get(m.get(tg["role"]))
        if role is None:
            raise RecordError(
                f"{where}.{tg['role']}", f"unknown role {m.get(tg['role'])!r} (expected {', '.join(roles)})"
            )
        raw_content = m.get(tg["content"])
        content = text(raw_content, f"{where}.{tg['content']}")
        calls = []
        if role == "assistant":
            given = m.get("tool_calls") or ([m["function_call"]] if isinstance(m.get("function_call"), dict) else [])
            if not isinstance(given, list):
                raise RecordError(f"{where}.tool_calls", "expected a list of calls")
            calls = [call_from_any(c, f"{where}.tool_calls[{k}]") for k, c in enumerate(given)]
            calls += [  # Anthropic's
                call_from_any(
                    {"id": b.get("id"), "name": b.get("name"), "arguments": b.get("input")},
                    f"{where}.{tg['content']}[{k}]",
                )
                for k, b in blocks(raw_content, "tool_use")
            ]
            names_by_id.update({c.id: c.name for c in calls if c.id})
        results = blocks(raw_content, "tool_result") if role == "user" else []
        if results:  # Anthropic's results come in a user message; any text beside them follows them
            for k, b in results:
                result = text(b.get("content"), f"{where}.{tg['content']}[{k}].content")
                msgs.append(Msg("tool", result, name=names_by_id.get(str(b.get("tool_use_id") or ""))))
            if content.strip():
                msgs.append(Msg("user", content))
            continue
        name = None
        if role == "tool":
            name = m.get("name") or names_by_id.get(str(m.get("tool_call_id") or ""))
        msgs.append(Msg(role, content, calls, name, loss=m.get("weight", 1) != 0))
    return build(record_id(record, f"{source}_{index}"), source, msgs, tools, cols["messages"])
