"""One summary row per record, the frames the Great Expectations suites run on."""

from __future__ import annotations

from typing import Any

from agentflan.data.schema import Conversation

SPECIAL_CALLS = {"Finish"}  # pseudo-tools the upstream formats use without listing them


def raw_row(fmt: str, index: int, record: Any) -> dict[str, Any]:
    """A raw upstream record: id, turn count, roles (for `expectations/raw_<format>.json`)."""
    rec = record if isinstance(record, dict) else {}
    turns = rec.get("conversations", rec.get("conversation"))
    turns = turns if isinstance(turns, list) else []
    roles = [t.get("from", t.get("role")) if isinstance(t, dict) else None for t in turns]
    return {
        "id": str(rec.get("id", "")),
        "index": index,
        "n_turns": len(turns),
        "first_role": roles[0] if roles else None,
        "last_role": roles[-1] if roles else None,
        "roles": ",".join(sorted({str(r) for r in roles})),
        "empty_values": sum(1 for t in turns if isinstance(t, dict) and not str(t.get("value", t.get("content", ""))).strip()),
    }


def conversation_row(conv: Conversation) -> dict[str, Any]:
    """A canonical conversation (for `expectations/converted.json` and later boundaries)."""
    offered = {t.name for t in conv.tools}
    assistant = conv.assistant_turns
    return {
        "id": conv.id,
        "source": conv.source,
        "kind": conv.kind,
        "style": conv.style,
        "n_turns": len(conv.turns),
        "n_assistant": len(assistant),
        "n_trainable": len(conv.trainable_turns),
        "first_role": conv.turns[0].role if conv.turns else None,
        "last_role": conv.turns[-1].role if conv.turns else None,
        "query_chars": len(conv.query),
        "n_tools": len(conv.tools),
        "n_calls": len(conv.calls),
        "unknown_calls": sum(1 for c in conv.calls if c.name not in offered and c.name not in SPECIAL_CALLS),
        "empty_trainable": sum(1 for t in conv.trainable_turns if not t.content.strip()),
        "unlabelled": sum(1 for t in assistant if t.capability is None),
        "trainable_chars": sum(len(t.content) for t in conv.trainable_turns),
    }


def query_split_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct (query_key, split) pairs: a query in both splits shows up as a duplicate query_key."""
    return [{"query_key": q, "split": s} for q, s in sorted({(r["query_key"], r["split"]) for r in rows})]


def raw_frame(path: str, fmt: str):
    """The raw-boundary frame of one upstream file (unreadable lines become rows without an id)."""
    import pandas as pd

    from agentflan.data.jsonio import iter_raw

    return pd.DataFrame([raw_row(fmt, r.index, r.data) for r in iter_raw(path)])
