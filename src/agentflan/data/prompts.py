"""The prompt texts that training data and evaluation share: system prompts, eliciting turns, tool listings.

One module, so the converter, the negatives and the benchmark ask in exactly the same words, and the
system text with tools is rendered the same way in exports, in training and in the chat template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

NATURAL_SYSTEM = "You are a helpful assistant. You can call tools to look things up or act for the user."
ELICIT = {
    "tool": ("Which tool will you call?", "What function do you need for that?", "Which API fits this step?"),
    "arguments": ("What arguments do you pass to it?", "Give the arguments as JSON.", "What input does the call need?"),
    "answer": ("So what is the answer?", "What is your final answer?", "Please give me the result."),
}

# `json.dumps(value, ensure_ascii=False)` (how the templates' `tojson` and our prompt texts write JSON) by one encoder
# made once, without the cycle check (a decoded JSON value cannot hold a cycle): json.dumps makes an encoder per call,
# and that and the check took a third of its time on a tool's schema (5 Dec 2026). Where CPython's C encoder is there,
# the one `JSONEncoder.encode` makes for each value is made once too (the same arguments): 0.4 instead of 1.0 us for
# a call's arguments `{"city": "Oslo"}` (6 Dec 2026).
_TEXT = json.JSONEncoder(ensure_ascii=False, check_circular=False)
# (markers: none, no cycle check; default; the string encoder of ensure_ascii=False; indent; separators; sort_keys,
# skipkeys, allow_nan as JSONEncoder's defaults)
_C_ARGS = (None, _TEXT.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
try:
    _C_TEXT = json.encoder.c_make_encoder(*_C_ARGS) if json.encoder.c_make_encoder else None
except TypeError:  # a Python whose C encoder takes other arguments: JSONEncoder.encode, as before
    _C_TEXT = None


def text_json(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False)`."""
    return "".join(_C_TEXT(value, 0)) if _C_TEXT else _TEXT.encode(value)


FORMAT_PROMPTS = {
    "react": "If a tool is needed, answer in the ReAct format, exactly:\nThought: <your reasoning>\nAction: <tool "
    "name>\nAction Input: <the arguments as a JSON object>",
    "json": 'If a tool is needed, answer with one JSON object and nothing else: {"thought": <your reasoning>, '
    '"name": <tool name>, "arguments": <the arguments object>}',
}

# response-format requests a user appends to an ordinary query (general chat data and the benchmark)
FORMAT_REQUESTS = (
    "Answer in one sentence.",
    "Reply as a bulleted list.",
    'Answer in JSON with a single key "answer".',
    "Keep it under ten words.",
)


def format_system(fmt: str) -> str:
    """The system prompt that asks for tool calls in `fmt` (format samples, negatives, Agent-H)."""
    return f"{NATURAL_SYSTEM}\n\n{FORMAT_PROMPTS[fmt]}"


# How the offered tools are written into the system turn when a template does not take `tools` itself, the Agent-FLAN
# export and the tiny model's ChatML template: Hermes/Qwen2.5 style, a `<tools>` block of JSON schemas (as `tojson`
# writes them) and the `<tool_call>` syntax a call is made in, which `transformers serve` and vLLM's hermes parser read.
TOOLS_HEADER = "# Tools\n\nYou may call one or more of these functions:\n<tools>"
TOOLS_FOOTER = (
    '</tools>\n\nTo call a function, write <tool_call>\n{"name": <function name>, "arguments": <arguments object>}\n'
    "</tool_call>"
)


def tool_json(tool: Any) -> str:
    """One tool's JSON schema on one line, as the chat template's `tojson` filter writes it."""
    d = tool.to_dict() if hasattr(tool, "to_dict") else tool
    return text_json(d.get("function", d))


def render_system(system: str, tools: Iterable[Any]) -> str:
    """System text with the offered tools appended (`TOOLS_HEADER`, one `tool_json` a line, `TOOLS_FOOTER`)."""
    return system_with_tool_lines(system, [tool_json(t) for t in tools])


def system_with_tool_lines(system: str, lines: list[str]) -> str:
    """`render_system` of tools already written by `tool_json` (one line each)."""
    block = "\n".join([TOOLS_HEADER, *lines, TOOLS_FOOTER])
    return f"{system}\n\n{block}" if system else block


def tool_call_text(call: Any) -> str:
    """A native call as the Hermes/Qwen2.5 templates write it:
    `<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`."""
    d = call.to_dict() if hasattr(call, "to_dict") else call
    arguments = text_json(d["arguments"])
    return f'<tool_call>\n{{"name": "{d["name"]}", "arguments": {arguments}}}\n</tool_call>'


def tool_response_text(content: str) -> str:
    """A tool's result as the Hermes template writes it."""
    return f"<tool_response>\n{content}\n</tool_response>"


def react_step_text(thought: str, calls: Iterable[Any], answer: str | None = None) -> str:
    """A step in ReAct text: its Thought (when it has one), then Action / Action Input per call, or the Final Answer
    (the converter writes sources without ReAct text this way; the benchmark writes a multi-step history so)."""
    calls = [c.to_dict() if hasattr(c, "to_dict") else c for c in calls]
    lines = [f"Thought: {thought}"] if thought else []
    for c in calls:
        lines += [f"Action: {c['name']}", f"Action Input: {text_json(c['arguments'])}"]
    if not calls:
        lines.append(f"Final Answer: {answer or ''}")
    return "\n".join(lines)


def json_step_text(thought: str, call: Any) -> str:
    """A call in the JSON output format `FORMAT_PROMPTS["json"]` asks for: one object with thought, name, arguments."""
    d = call.to_dict() if hasattr(call, "to_dict") else call
    return text_json({"thought": thought, "name": d["name"], "arguments": d["arguments"]})
