"""LLaMA-Factory's ShareGPT format with tools (its `data/README.md`; `glaive_toolcall_en_demo.json`):
`{"conversations": [{"from": "human"|"gpt"|"function_call"|"observation", "value"}], "system"?, "tools"?}`.

A `function_call` turn is the assistant's call, its value the JSON of `{"name", "arguments"}` (a list of them: parallel
calls); an `observation` turn is the tool's result; `tools` is a JSON string of the offered functions ("[]" or absent:
none), `system` the system prompt. Plain rows (human/gpt only) are read too, keeping their tools. The field and role
names follow LLaMA-Factory's `dataset_info.json` and can be remapped per source (`columns: {messages, system, tools}`,
`tags: {role, content, user, assistant, function, observation, system}`).
"""

from __future__ import annotations

from typing import Any

from agentflan.data.formats.base import RecordError, record_id
from agentflan.data.formats.calls import call_from_any, literal, parse_tools
from agentflan.data.formats.messages import Msg, build

COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools"}
TAGS = {
    "role": "from",
    "content": "value",
    "user": "human",
    "assistant": "gpt",
    "function": "function_call",
    "observation": "observation",
    "system": "system",
}


def looks_like(record: Any, columns: dict | None = None, tags: dict | None = None) -> bool:
    """A ShareGPT record with a tool role or a `tools` field (plain ShareGPT files are `sharegpt`'s)."""
    cols, tg = {**COLUMNS, **(columns or {})}, {**TAGS, **(tags or {})}
    turns = record.get(cols["messages"]) if isinstance(record, dict) else None
    if not isinstance(turns, list):
        return False
    roles = {t.get(tg["role"]) for t in turns if isinstance(t, dict)}
    return bool(roles & {tg["function"], tg["observation"]}) or (
        cols["tools"] in record and roles <= {tg["user"], tg["assistant"], tg["system"]}
    )


def parse(record: Any, source: str, index: int, columns: dict | None = None, tags: dict | None = None):
    cols, tg = {**COLUMNS, **(columns or {})}, {**TAGS, **(tags or {})}
    if not isinstance(record, dict):
        raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
    turns = record.get(cols["messages"])
    if not isinstance(turns, list) or not turns:
        raise RecordError(cols["messages"], "missing" if turns is None else "expected a non-empty list of turns")
    tools = parse_tools(record.get(cols["tools"]), cols["tools"])
    msgs: list[Msg] = []
    if isinstance(record.get(cols["system"]), str) and record[cols["system"]].strip():
        msgs.append(Msg("system", record[cols["system"]]))
    roles = {tg["user"]: "user", tg["assistant"]: "assistant", tg["system"]: "system", tg["observation"]: "tool"}
    last_calls: list = []
    for i, t in enumerate(turns):
        where = f"{cols['messages']}[{i}]"
        if not isinstance(t, dict):
            raise RecordError(where, "expected an object")
        role, value = t.get(tg["role"]), t.get(tg["content"])
        if not isinstance(value, str):
            raise RecordError(
                f"{where}.{tg['content']}", "missing" if value is None else f"expected text, got {type(value).__name__}"
            )
        if role == tg["function"]:
            given = literal(value, f"{where}.{tg['content']}", "function call")
            given = given if isinstance(given, list) else [given]
            last_calls = [call_from_any(c, f"{where}.{tg['content']}") for c in given]
            msgs.append(Msg("assistant", "", last_calls))
        elif role in roles:
            name = last_calls[0].name if roles[role] == "tool" and len(last_calls) == 1 else None
            msgs.append(Msg(roles[role], value, name=name))
        else:
            known = ", ".join(repr(r) for r in (*roles, tg["function"]))
            raise RecordError(f"{where}.{tg['role']}", f"unknown role {role!r} (expected {known})")
    return build(record_id(record, f"{source}_{index}"), source, msgs, tools, cols["messages"])
