"""Render one conversation for the terminal: what the model sees, and what it learns."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from agentflan.jsonio import read_conversations
from agentflan.schema import Conversation

ROLE_STYLE = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}


def find_conversation(path: str | Path, conv_id: str | None = None) -> Conversation | None:
    for conv in read_conversations(path):
        if conv_id is None or conv.id == conv_id:
            return conv
    return None


def render(conv: Conversation) -> Group:
    header = Text.assemble((conv.id, "bold"), f"  source={conv.source} kind={conv.kind} style={conv.style}")
    items = [header]
    if conv.tools:
        items.append(Text("tools: " + ", ".join(t.name for t in conv.tools), style="dim"))
    for turn in conv.turns:
        labels = [turn.role]
        if turn.role == "assistant":
            labels.append("LEARN" if turn.loss else "no loss")
            labels += [x for x in (turn.part, turn.capability) if x]
        if turn.call:
            labels.append(f"call={turn.call.name}")
        border = ROLE_STYLE.get(turn.role, "white") if (turn.loss or turn.role != "assistant") else "dim"
        items.append(Panel(Text(turn.content), title=" | ".join(labels), title_align="left", border_style=border))
    return Group(*items)
