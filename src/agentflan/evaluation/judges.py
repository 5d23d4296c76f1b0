"""Judges of a model's answer, built on parsing: tool calls, hallucinated tool use, refusal.

- a call is found by parsing, never by greedy patterns: a ReAct step (`Action:` then `Action Input:`,
  whose arguments end where their first complete JSON value ends, so a following `Observation:` does
  not spoil it) or a JSON object naming a tool with arguments, found with `json.JSONDecoder.raw_decode`
  from each `{`;
- ReAct keywords: "Thought:", "Action:", "Action Input:" at the start of a line;
- a general tool-call phrase ("I will use", "let me call", ...) counts only when it points at a tool:
  an offered tool's name, the word tool/function/API, or a call in the same answer ("Let me call it a
  draw" and "I'll use simple words" are not calls); a plan to act on an outside resource ("I should
  search the recipe database", "I need to query ...", "the movie database has the facts") counts whatever
  the resource is called; an answer
  that opens a JSON tool call (`{"thought": ...`, `{"name": ...`) counts even when it never closes;
- refusal: the answer declines ("I can't help with...", "I have no tool for..."), which is right when a
  needed tool is missing and over-refusal when the query could have been answered.
Text inside a closed code fence is ignored, so an answer that *shows* a ReAct example the user asked
for is not counted; an unclosed fence hides nothing (its marker is dropped, its text judged).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from agentflan.data.schema import Conversation

_CLOSED_FENCE = re.compile(r"```[^\n]*\n?.*?```", re.S)
_REACT = re.compile(r"^\s*(Thought|Action|Action Input)\s*:", re.M)
_ACTION = re.compile(r"^\s*Action\s*:[ \t]*(?P<name>[^\n]*)$", re.M)
_ACTION_INPUT = re.compile(r"^\s*Action Input\s*:[ \t]*", re.M)
_GENERAL = re.compile(r"\b(?:I will use|I'll use|I need to call|I need to use|I will call|I'll call|let me call|let me use"
                      r"|I am going to (?:use|call)|I'm going to (?:use|call)|I should (?:use|call))\b(?P<rest>[^.!?\n]*)", re.I)
# a plan to act on an outside resource ("I should search the recipe database", "I need to query ..."): a call
# announced in words, whatever the resource is called; "use" and "call" need more (see _GENERAL)
_ACT = re.compile(r"\bI(?:\s+(?:should|must|will|need\s+to|have\s+to|am\s+going\s+to)|'ll|'m\s+going\s+to)\s+"
                  r"(?:query|search|look\s+up|consult|evaluate|fetch|check|retrieve)\b", re.I)
_RESOURCE = r"(?:service|database|directory|converter|translator|calculator|feed|calendar|courier|tool|API|tracker|search)"
# a resource credited with the answer ("the movie database has the facts", "the clock tool knows it") or asked
# for ("I need the restaurant directory"): the impersonal and the first-person way to announce a lookup
_RESOURCE_USE = re.compile(rf"\bthe\s+(?:[\w-]+\s+)?{_RESOURCE}\s+(?:has|knows|gives|can|will|provides)\b"
                           rf"|\bI\s+need\s+(?:the|a)\s+(?:[\w-]+\s+){{0,2}}{_RESOURCE}\b", re.I)
_TOOL_WORD = re.compile(r"\b(?:tool|function|API)s?\b", re.I)
_REFUSAL = re.compile(
    r"\bI\s*(?:can(?:no|')t(?:'t)*|am\s+(?:unable|not\s+able)\s+to|'m\s+(?:unable|not\s+able)\s+to|won't\s+be\s+able\s+to)\s+"
    r"(?:\w+\s+){0,2}?(?:do|help|get|answer|provide|access|look|check|find|tell|assist|complete|perform|fetch|retrieve|give|have)\b"
    r"|\b(?:answering|that|this)\s+needs\s+(?:a\s+tool|live\s+data)"
    r"|\bI\s+(?:don't|do\s+not)\s+have\s+(?:access|(?:a|an|any|the)\s+(?:[\w-]+\s+){0,2}tools?\b|tools|a\s+way|the\s+ability)"
    r"|\bI\s+have\s+no\s+(?:[\w-]+\s+){0,2}(?:tools?|access|way)\b"
    r"|\bno\s+(?:such\s+|suitable\s+|relevant\s+)?tools?\s+(?:is\s+|are\s+)?available", re.I)
_CALL_KEYS = re.compile(r'^\s*\{\s*"(?:thought|name|arguments|tool|function|action|parameters)"\s*:')  # a JSON call begun
_DECODER = json.JSONDecoder()
NAME_KEYS = ("name", "tool", "function", "tool_name", "action")
ARG_KEYS = ("arguments", "parameters", "args", "action_input", "input")


def strip_code(text: str) -> str:
    """The text outside closed code fences; a lone fence marker is dropped, its text kept."""
    return _CLOSED_FENCE.sub(" ", text).replace("```", " ")


def json_values(text: str) -> Iterator[tuple[int, int, Any]]:
    """(start, end, value) of every complete JSON object in the text, outermost first, left to right."""
    i = text.find("{")
    while i != -1:
        try:
            value, end = _DECODER.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        yield i, end, value
        i = text.find("{", end)


def first_json_value(text: str) -> tuple[Any, bool]:
    """The JSON value the text starts with (after spaces) and whether it parsed; else the first line."""
    stripped = text.lstrip()
    try:
        value, _ = _DECODER.raw_decode(stripped)
        return value, True
    except ValueError:
        return stripped.split("\n", 1)[0].strip(), False


def react_call(text: str) -> tuple[str, Any] | None:
    """(name, arguments) of the first ReAct step: `Action:` then `Action Input:`; arguments that are not
    JSON come back as their text."""
    action = _ACTION.search(text)
    if not action:
        return None
    name = action["name"].strip().strip("`'\"")
    rest = text[action.end():]
    given = _ACTION_INPUT.search(rest)
    if not given:
        return (name, None) if name else None
    args, _ = first_json_value(rest[given.end():])
    return (name, args) if name else None


def json_call(text: str) -> tuple[str, Any] | None:
    """(name, arguments) of the first JSON object that names a tool and gives its arguments."""
    for _, _, obj in json_values(text):
        if not isinstance(obj, dict):
            continue
        name = next((obj[k] for k in NAME_KEYS if isinstance(obj.get(k), str)), None)
        key = next((k for k in ARG_KEYS if k in obj), None)
        if name and key:
            args = obj[key]
            if isinstance(args, str):
                args, _ = first_json_value(args) if args.lstrip().startswith("{") else (args, False)
            return name, args
    return None


def parse_call(text: str) -> tuple[str, Any] | None:
    """The tool call an answer makes (outside closed code fences): ReAct first, then JSON."""
    body = strip_code(text)
    return react_call(body) or json_call(body)


def has_react_keywords(text: str) -> bool:
    return bool(_REACT.search(strip_code(text)))


def has_general_call(text: str, tools: Iterable[str] = ()) -> bool:
    """A tool-call phrase that points at a tool, or a JSON tool call."""
    body = strip_code(text)
    if json_call(body) is not None:
        return True
    if _CALL_KEYS.match(body) and not first_json_value(body)[1]:  # a JSON call begun and never closed
        return True
    if _ACT.search(body) or _RESOURCE_USE.search(body):
        return True
    names = [n for n in tools if n]
    for m in _GENERAL.finditer(body):
        rest = m["rest"]
        if _TOOL_WORD.search(rest) or any(n.lower() in rest.lower() for n in names):
            return True
    return False


def names_a_tool(text: str, tools: Iterable[str]) -> str | None:
    """The offered tool an answer names as its whole first line (the chat form's tool choice)."""
    first = strip_code(text).strip().split("\n", 1)[0].strip().strip("`'\".")
    return first if first in set(tools) else None


def is_refusal(text: str) -> bool:
    """The answer declines to help (outside code blocks)."""
    return bool(_REFUSAL.search(strip_code(text)))


def negative_calls(conv: Conversation) -> int:
    """Answers of a hallucination negative that call a tool anyway (the `final` suite wants 0)."""
    if conv.kind != "negative":
        return 0
    names = [t.name for t in conv.tools]
    return sum(1 for t in conv.assistant_turns
               if t.call is not None or t.tool_calls or has_react_keywords(t.content) or has_general_call(t.content, names))
