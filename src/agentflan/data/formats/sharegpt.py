"""ShareGPT general chat: `{"id", "conversations": [{"from": "human"|"gpt"|"system", "value"}]}` (also "user",
"assistant" and "chatgpt", as some ShareGPT files write the roles)."""

from __future__ import annotations

from typing import Any

from agentflan.data.formats.base import Dialogue, Message, RecordError, conversations_list, record_id, text_field

ROLE_MAP = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


def looks_like(record: Any) -> bool:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        return False
    dict_turns = [t for t in turns if isinstance(t, dict)]
    return (
        bool(dict_turns)
        and {t.get("from") for t in dict_turns} <= ROLE_MAP.keys()
        and not any("loss" in t for t in dict_turns)
    )


def parse(record: Any, source: str, index: int) -> Dialogue:
    turns = conversations_list(record)
    messages = []
    for i, t in enumerate(turns):
        where = f"conversations[{i}]"
        role = ROLE_MAP.get(t.get("from"))
        if role is None:
            raise RecordError(f"{where}.from", f"unknown role {t.get('from')!r} (expected {', '.join(ROLE_MAP)})")
        messages.append(Message(role, text_field(t, "value", where), loss=role == "assistant"))
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("conversations", "no gpt turn")
    return Dialogue(record_id(record, f"{source}_{index}"), source, "general", "plain", messages)
