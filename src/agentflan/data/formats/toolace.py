"""ToolACE (Team-ACE/ToolACE): `{"system", "conversations": [{"from": "user"|"assistant"|"tool", "value"}]}`.

The system text is ToolACE's calling instructions with the offered functions as a JSON list inside it (after "Here is a
list of functions in JSON format that you can invoke:"), their parameters typed the BFCL way (`dict`, `float`); an
assistant turn that calls writes only `[Func Name(param=value, ...), other(...)]` (API names may hold spaces; several:
parallel calls), else it answers in text; a tool turn holds the results as a JSON list of `{"name", "results"}`, one a
call. The system text is instructions for that syntax and is not kept: the chat template writes the tools its way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentflan.data.formats.base import RecordError, conversations_list, record_id, text_field
from agentflan.data.formats.calls import balanced, literal, parse_tools, pythonic_calls
from agentflan.data.formats.messages import Msg, build

ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "tool": "tool"}
_LISTED = re.compile(r"functions in JSON format that you can invoke:?\s*", re.I)


def looks_like(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("system"), str)
        and isinstance(record.get("conversations"), list)
        and _LISTED.search(record["system"]) is not None
    )


def functions(system: str, where: str):
    """The functions the system text lists: the JSON list after ToolACE's "...that you can invoke:"."""
    listed = _LISTED.search(system)
    start = system.find("[", listed.end()) if listed else -1
    end = balanced(system, start) if start != -1 else None
    if end is None:
        raise RecordError(where, "no function list after 'functions in JSON format that you can invoke:'")
    return parse_tools(system[start:end], f"{where}.functions")


def results(value: str, where: str) -> list[Msg]:
    """A tool turn's results: one message a `{"name", "results"}` of its list (the turn as it is otherwise)."""
    try:
        data = literal(value, where, "tool results")
    except RecordError:
        data = None
    if not (isinstance(data, list) and data and all(isinstance(d, dict) and "name" in d for d in data)):
        return [Msg("tool", value)]
    return [Msg("tool", json.dumps(d.get("results", d), ensure_ascii=False), name=str(d["name"]) or None) for d in data]


def parse(record: Any, source: str, index: int):
    if not looks_like(record):
        raise RecordError("system", "expected ToolACE's system text listing its functions, and 'conversations'")
    tools = functions(record["system"], "system")
    msgs: list[Msg] = []
    for i, turn in enumerate(conversations_list(record)):
        where = f"conversations[{i}]"
        role = ROLES.get(turn.get("from"))
        if role is None:
            raise RecordError(f"{where}.from", f"unknown role {turn.get('from')!r} (expected user, assistant or tool)")
        value = text_field(turn, "value", where)
        if role == "assistant":
            calls = pythonic_calls(value, f"{where}.value")
            msgs.append(Msg("assistant", "", calls) if calls else Msg("assistant", value))
        elif role == "tool":
            msgs += results(value, f"{where}.value")
        else:
            msgs.append(Msg("user", value))
    return build(record_id(record, f"{source}_{index}"), source, msgs, tools, "conversations")
