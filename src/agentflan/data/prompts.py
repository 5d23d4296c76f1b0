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
FORMAT_PROMPTS = {
    "react": "If a tool is needed, answer in the ReAct format, exactly:\nThought: <your reasoning>\nAction: <tool name>\nAction Input: <the arguments as a JSON object>",
    "json": 'If a tool is needed, answer with one JSON object and nothing else: {"thought": <your reasoning>, "name": <tool name>, "arguments": <the arguments object>}',
}


def format_system(fmt: str) -> str:
    """The system prompt that asks for tool calls in `fmt` (format samples, negatives, Agent-H)."""
    return f"{NATURAL_SYSTEM}\n\n{FORMAT_PROMPTS[fmt]}"


TOOLS_HEADER = "You can use the following tools. Each line is a tool's JSON description:"


def render_system(system: str, tools: Iterable[Any]) -> str:
    """System text with the offered tools appended, one JSON object a line.

    Mirrors the tokenizer's chat template (`tojson` of each tool), so exports and training agree.
    """
    lines = [json.dumps(t.to_dict(), ensure_ascii=False) for t in tools]
    block = TOOLS_HEADER + "\n" + "\n".join(lines)
    return f"{system}\n\n{block}" if system else block
