"""The Agent-FLAN release (internlm/Agent-FLAN): `{"id": "<file-stem>_<index>", "conversation":
[{"role": "system"|"user"|"assistant", "content": str, "loss": bool}]}`.

An assistant turn without `loss` is trained on; other roles never are. The records carry no
structure beyond roles, so their turns reach decompose without a `part` and are labelled there.
"""

from __future__ import annotations

from typing import Any

from agentflan.data.formats.base import Dialogue, Message, RecordError, conversations_list, record_id, text_field

ROLES = ("system", "user", "assistant", "tool")


def looks_like(record: Any) -> bool:
    turns = record.get("conversation") if isinstance(record, dict) else None
    return isinstance(turns, list) and any(isinstance(t, dict) and "role" in t for t in turns)


def parse(record: Any, source: str, index: int) -> Dialogue:
    turns = conversations_list(record, key="conversation")
    rid = record_id(record, f"{source}_{index}")
    messages = []
    for i, t in enumerate(turns):
        where = f"conversation[{i}]"
        role = t.get("role")
        if role not in ROLES:
            raise RecordError(f"{where}.role", f"unknown role {role!r} (expected system, user or assistant)")
        loss = t.get("loss", True if role == "assistant" else False)
        if not isinstance(loss, bool):
            raise RecordError(f"{where}.loss", f"expected true or false, got {loss!r}")
        messages.append(Message(role, text_field(t, "content", where), loss=loss and role == "assistant"))
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("conversation", "no assistant turn")
    lowered = rid.lower()
    kind = (
        "negative" if "negative" in lowered else ("agent" if any(m.role == "system" for m in messages) else "general")
    )
    style = "react" if "react" in lowered else ("chat" if kind == "agent" else "plain")
    return Dialogue(rid, f"{source}/{rid.rsplit('_', 1)[0]}", kind, style, messages)
