"""glaive-function-calling-v2 (the source of the paper's Agent-H): `{"system": "SYSTEM: ...", "chat": "USER: ...
ASSISTANT: ... <|endoftext|> ..."}`.

The system text offers functions after "with access to the following functions. Use them if required -", as JSON
objects one after another, or says "no access to external functions"; the chat is turns marked `USER:`,
`ASSISTANT:` and `FUNCTION RESPONSE:`, assistant turns ending in `<|endoftext|>`; a call is `<functioncall> {"name":
..., "arguments": '{...}'}` (its arguments a quoted JSON string, so the whole is a Python literal, not JSON).
glaive-function-calling (v1) writes both in one text, `{"sample": "SYSTEM: ...\n\n\nUSER: ..."}`: the system part is
what comes before the first `USER:`.
"""

from __future__ import annotations

import re
from typing import Any

from agentflan.data.formats.base import RecordError, record_id
from agentflan.data.formats.calls import call_from_any, parse_tools, values_in
from agentflan.data.formats.messages import Msg, build

_TURN = re.compile(r"(?:^|\n)\s*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):[ \t]?", re.M)
_FUNCTIONS = re.compile(r"Use them if required\s*-?\s*", re.I)
_CALL = re.compile(r"<functioncall>\s*(?P<body>.*?)\s*(?:<\|endoftext\|>|$)", re.S)
_END = "<|endoftext|>"
ROLES = {"USER": "user", "ASSISTANT": "assistant", "FUNCTION RESPONSE": "tool", "SYSTEM": "system"}


_FIRST_USER = re.compile(r"(?:^|\n)\s*USER:", re.M)


def looks_like(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    if isinstance(record.get("sample"), str):  # v1
        return record["sample"].lstrip().startswith("SYSTEM:") and _FIRST_USER.search(record["sample"]) is not None
    return isinstance(record.get("chat"), str) and isinstance(record.get("system"), str)


def system_and_chat(record: dict) -> tuple[str, str]:
    """v2's two fields, or v1's `sample` cut before its first `USER:` turn."""
    if "sample" in record and "chat" not in record:
        first = _FIRST_USER.search(record["sample"])
        return record["sample"][: first.start()], record["sample"][first.start() :]
    return record["system"], record["chat"]


def functions(system: str, where: str):
    """The functions the system text offers (none when it has no access to any)."""
    found = _FUNCTIONS.search(system)
    if not found:
        return []
    return parse_tools(values_in(system[found.end() :], where, "function list"), where)


def parse(record: Any, source: str, index: int):
    if not looks_like(record):
        raise RecordError("chat", "expected the text fields 'system' and 'chat' (v2), or 'sample' (v1)")
    system, chat = system_and_chat(record)
    tools = functions(system, "system")
    marks = list(_TURN.finditer(chat))
    if not marks:
        raise RecordError("chat", "no USER:/ASSISTANT: turns")
    msgs: list[Msg] = []
    last_call = None
    for k, m in enumerate(marks):
        body = chat[m.end() : marks[k + 1].start() if k + 1 < len(marks) else len(chat)].strip()
        role = ROLES[m.group(1)]
        if role == "assistant":
            call = _CALL.search(body)
            if call:
                last_call = call_from_any(call["body"], f"chat.turn[{k}].functioncall")
                msgs.append(Msg("assistant", body[: call.start()].replace(_END, "").strip(), [last_call]))
                continue
            msgs.append(Msg("assistant", body.replace(_END, "").strip()))
        elif role == "tool":
            msgs.append(Msg("tool", body, name=last_call.name if last_call else None))
        else:
            msgs.append(Msg(role, body.replace(_END, "").strip()))
    return build(record_id(record, f"{source}_{index}"), source, msgs, tools, "chat")
