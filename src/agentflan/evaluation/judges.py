"""Judges of a plain-text answer: hallucinated tool use (Agent-H style) and refusal.

- ReAct keywords: "Thought:", "Action:", "Action Input:" at the start of a line;
- general tool-call phrases: "I will use", "I need to call", ... or a JSON object with a tool name
  and arguments;
- refusal: the answer declines ("I can't ...", "I have no tool for ...", "I'm unable to ..."), which is
  right when a needed tool is missing and over-refusal when the query could have been answered.
Text inside fenced code blocks is ignored, so an answer that *shows* a ReAct example the user asked
for is not counted.
"""

from __future__ import annotations

import json
import re

from agentflan.data.schema import Conversation

_FENCE = re.compile(r"```.*?(```|$)", re.S)
_REACT = re.compile(r"^\s*(Thought|Action|Action Input)\s*:", re.M)
_GENERAL = re.compile(r"\b(I will use|I'll use|I need to call|I will call|I'll call|let me call|I am going to use|I'm going to use)\b", re.I)
_JSON_CANDIDATE = re.compile(r"\{.*\}", re.S)
_REFUSAL = re.compile(
    r"\bI\s*(?:can(?:no|')t|am\s+(?:unable|not\s+able)\s+to|'m\s+(?:unable|not\s+able)\s+to|won't\s+be\s+able\s+to)\s+"
    r"(?:do|help|get|answer|provide|access|look|check|find|tell|assist|complete|perform|fetch|retrieve|give|have)\b"
    r"|\bI\s+(?:don't|do\s+not)\s+have\s+(?:access|a\s+tool|the\s+tool|any\s+tools?|tools|a\s+way|the\s+ability)"
    r"|\bI\s+have\s+no\s+(?:tool|access|way)"
    r"|\bno\s+(?:such\s+|suitable\s+|relevant\s+)?tools?\s+(?:is\s+|are\s+)?available", re.I)


def strip_code(text: str) -> str:
    return _FENCE.sub(" ", text)


def has_react_keywords(text: str) -> bool:
    return bool(_REACT.search(strip_code(text)))


def json_tool_call(text: str) -> dict | None:
    """A JSON object naming a tool (`name`/`tool`/`function` plus `arguments`/`parameters`), if the text holds one."""
    match = _JSON_CANDIDATE.search(strip_code(text))
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except ValueError:
        return None
    if isinstance(obj, dict) and any(k in obj for k in ("name", "tool", "function")) and any(k in obj for k in ("arguments", "parameters", "args")):
        return obj
    return None


def has_general_call(text: str) -> bool:
    return bool(_GENERAL.search(strip_code(text))) or json_tool_call(text) is not None


def is_refusal(text: str) -> bool:
    """The answer declines to help (outside code blocks)."""
    return bool(_REFUSAL.search(strip_code(text)))


def negative_calls(conv: Conversation) -> int:
    """Answers of a hallucination negative that call a tool anyway (the `final` suite wants 0)."""
    if conv.kind != "negative":
        return 0
    return sum(1 for t in conv.assistant_turns if t.call is not None or has_react_keywords(t.content) or has_general_call(t.content))
