"""The prompt texts that training data and evaluation share: system prompts, eliciting turns, tool listings.

One module, so the converter, the negatives and the benchmark ask in exactly the same words, and the
system text with tools is rendered the same way in exports, in training and in the chat template.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NATURAL_SYSTEM = "You are a helpful assistant. You can call tools to look things up or act for the user."
ELICIT = {
    "tool": ("Which tool will you call?", "What function do you need for that?", "Which API fits this step?"),
    "arguments": ("What arguments do you pass to it?", "Give the arguments as JSON.", "What input does the call need?"),
    "answer": ("So what is the answer?", "What is your final answer?", "Please give me the result."),
}
FORMAT_PROMPTS = {
    "react": "If a tool is needed, answer in the ReAct format, exactly:\nThought: <your reasoning>\nAction: <tool name>\nAction Input: <the arguments as a JSON object>",
    "json": 'If a tool is needed, answer with one JSON object and nothing else: {"thought": <your reasoning>, "name": <tool name>, "arguments": <the arguments object>}',
}

# response-format requests a user appends to an ordinary query (general chat data and the benchmark)
FORMAT_REQUESTS = (
    "Answer in one sentence.", "Reply as a bulleted list.", 'Answer in JSON with a single key "answer".', "Keep it under ten words.",
)


def format_system(fmt: str) -> str:
    """The system prompt that asks for tool calls in `fmt` (format samples, negatives, Agent-H)."""
    return f"{NATURAL_SYSTEM}\n\n{FORMAT_PROMPTS[fmt]}"


TOOLS_HEADER = "You can use the following tools, one a line: name(arguments; ? marks an optional one): what it does."


def tool_line(tool: Any) -> str:
    """One tool, compactly: `get_weather(city: string, unit?: string): Current weather for a city.`

    A JSON-schema dump costs about four times the tokens for what a model needs to pick the tool and
    fill its arguments; the chat template writes the same line, so exports and training agree."""
    d = tool.to_dict() if hasattr(tool, "to_dict") else tool
    params = d.get("parameters") or {}
    props = params.get("properties") or {}
    required = params.get("required") or []
    args = ", ".join(f"{name}{'' if name in required else '?'}: {spec.get('type') if isinstance(spec, dict) and isinstance(spec.get('type'), str) else 'any'}"
                     for name, spec in props.items())
    return f"{d['name']}({args}): {d.get('description', '')}"


def render_system(system: str, tools: Iterable[Any]) -> str:
    """System text with the offered tools appended, one compact line each (`tool_line`)."""
    block = TOOLS_HEADER + "\n" + "\n".join(tool_line(t) for t in tools)
    return f"{system}\n\n{block}" if system else block
