"""NousResearch hermes-function-calling (v1): ShareGPT turns `{"from": "system"|"human"|"gpt"|"tool", "value"}`.

The system turn lists the functions between `<tools>` and `</tools>` (a Python-literal or JSON list, or one JSON object
a line) with Hermes' calling instructions; a gpt turn writes its calls as `<tool_call>\\n{'arguments': {...}, 'name':
...}\\n</tool_call>` regions (Python-literal dicts or JSON; several: parallel calls) around its text; a tool turn holds
`<tool_response>\\n{"name": ..., "content": ...}\\n</tool_response>` regions. The system text of a row with tools is
Hermes' format instructions and is not kept (the chat template writes the tools its own way); JSON-mode and plain rows
are chat with their system prompt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentflan.data.formats.base import RecordError, conversations_list, record_id, text_field
from agentflan.data.formats.calls import call_from_any, parse_tools, values_in
from agentflan.data.formats.messages import Msg, build

ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "tool": "tool",
}
_TOOLS = re.compile(r"<tools>(?P<body>.*?)</tools>", re.S)
_CALL = re.compile(r"<tool_call>(?P<body>.*?)(?:</tool_call>|$)", re.S)
_RESPONSE = re.compile(r"<tool_response>(?P<body>.*?)(?:</tool_response>|$)", re.S)


def looks_like(record: Any) -> bool:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        return False
    turns = [t for t in turns if isinstance(t, dict)]
    return any(t.get("from") == "tool" for t in turns) or any(
        isinstance(t.get("value"), str) and ("<tool_call>" in t["value"] or "<tools>" in t["value"]) for t in turns
    )


def results(value: str, where: str) -> list[Msg]:
    """A tool turn's results: each `<tool_response>` region, its content and the tool it names (all, when untagged)."""
    bodies = [m["body"].strip() for m in _RESPONSE.finditer(value)] or [value.strip()]
    out = []
    for body in bodies:
        try:
            data = values_in(body, where, "tool response")
        except RecordError:
            data = []
        first = data[0] if len(data) == 1 and isinstance(data[0], dict) else None
        if first is not None and "content" in first:
            content = (
                first["content"]
                if isinstance(first["content"], str)
                else json.dumps(first["content"], ensure_ascii=False)
            )
            out.append(Msg("tool", content, name=str(first.get("name") or "") or None))
        else:
            out.append(Msg("tool", body))
    return out


def parse(record: Any, source: str, index: int):
    turns = conversations_list(record)
    msgs: list[Msg] = []
    tools = []
    for i, t in enumerate(turns):
        where = f"conversations[{i}]"
        role = ROLES.get(t.get("from"))
        if role is None:
            raise RecordError(f"{where}.from", f"unknown role {t.get('from')!r} (expected system, human, gpt or tool)")
        value = text_field(t, "value", where)
        blocks = [
            m["body"] for m in _TOOLS.finditer(value) if m["body"].strip()
        ]  # not the "<tools> </tools>" it mentions
        if role == "system" and blocks:
            listed = values_in(blocks[-1], f"{where}.value", "tool list")
            tools += parse_tools(
                listed[0] if len(listed) == 1 and isinstance(listed[0], list) else listed, f"{where}.value.tools"
            )
            continue  # Hermes' own calling instructions: the chat template writes the tools its way
        if role == "assistant":
            calls = [
                call_from_any(m["body"], f"{where}.value.tool_call[{k}]") for k, m in enumerate(_CALL.finditer(value))
            ]
            msgs.append(Msg("assistant", _CALL.sub("", value).strip() if calls else value, calls))
        elif role == "tool":
            msgs += results(value, f"{where}.value")
        else:
            msgs.append(Msg(role, value))
    return build(record_id(record, f"{source}_{index}"), source, msgs, tools, "conversations")
