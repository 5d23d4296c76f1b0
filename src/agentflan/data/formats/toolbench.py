"""ToolBench / ToolLLaMA training format (OpenBMB/ToolBench `preprocess_toolllama_data.py`).

`{"id": "Step N: <query>", "conversations": [{"from": "system"|"user"|"assistant"|"function",
"value": str}]}`. The system prompt ends with "Specifically, you have access to the following APIs: "
and a *Python repr* of the function list, parsed here with `pyliteral.python_literal` (`ast.literal_eval`'s value,
faster; never eval), once per distinct prompt. Assistant turns are
"\\nThought: ...\\nAction: <api>\\nAction Input: <json>"; a trajectory ends with `Finish` (give_answer /
give_up_and_restart). The preprocessing script writes one record per step (prefixes of the same trajectory); only
the one that reaches a final answer is kept.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

from agentflan.data.formats import pyliteral
from agentflan.data.formats.base import (
    Dropped,
    Message,
    RecordError,
    Step,
    Trajectory,
    conversations_list,
    record_id,
    text_field,
)
from agentflan.data.schema import Tool, ToolCall

API_MARKER = "Specifically, you have access to the following APIs: "
FINISH = "Finish"
ROLE_MAP = {"system": "system", "user": "user", "assistant": "assistant", "function": "tool"}
_REACT = re.compile(r"^\s*Thought:(?P<thought>.*?)\nAction:(?P<action>[^\n]*)\nAction Input:(?P<input>.*)$", re.S)
_QUERY_TAIL = re.compile(r"\s*Begin!\s*$")
# RapidAPI boilerplate around every description: 'This is the subfunction for tool "x", you can use
# this tool.The description of this function is: "<the description>"'
_BOILERPLATE = re.compile(
    r'^This is the subfunction for tool "[^"]*", you can use this tool\.\s*'
    r'(?:The description of this function is: "(?P<inner>.*)")?\s*$',
    re.S,
)


def clean_description(text: str) -> str:
    """The tool's own description without ToolBench's RapidAPI boilerplate."""
    m = _BOILERPLATE.match(text.strip())
    return (m["inner"] or "").strip() if m else text.strip()


def looks_like(record: Any) -> bool:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        return False
    turns = [t for t in turns if isinstance(t, dict)]
    roles = {t.get("from") for t in turns}
    if "gpt" in roles or not roles & {"function", "system", "assistant"}:
        return False
    # ToolBench's own marks, not just its role names (a ShareGPT chat may say "user"/"assistant" too): a function
    # turn, the system prompt's API list, or a ReAct step
    return "function" in roles or any(
        isinstance(t.get("value"), str)
        and (API_MARKER.strip() in t["value"] if t.get("from") == "system" else "Action:" in t["value"])
        for t in turns
        if t.get("from") in ("system", "assistant")
    )


def _json_safe(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise RecordError(where, f"unsupported value of type {type(value).__name__} in the API list")


_ELEMENT_START, _BETWEEN_ELEMENTS = "{'name': ", "}, {'name': "  # as Python's repr writes a list of API dicts
_NOT_A_TOOL = Tool(FINISH, "", {})  # what `_tool_of` gives for the Finish entry (no tool of the list)


@functools.lru_cache(maxsize=4096)
def parse_api_list(system: str) -> tuple[Tool, ...]:
    """The tools listed in a ToolLLaMA system prompt (cached: every step record repeats the prompt)."""
    at = system.rfind(API_MARKER)
    if at < 0:
        raise RecordError(
            "conversations[0].value", "system prompt has no API list ('Specifically, you have access ...')"
        )
    text = system[at + len(API_MARKER) :].strip()
    by_element = _tools_by_element(text)
    if by_element is not None:
        return by_element
    try:
        apis, as_json = pyliteral.read(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise RecordError("conversations[0].value", f"API list is not a Python literal ({type(e).__name__})") from None
    if not isinstance(apis, list):
        raise RecordError("conversations[0].value", "API list is not a list")
    tools = [_tool_of(api, as_json, f"conversations[0].value.apis[{i}]") for i, api in enumerate(apis)]
    return tuple(t for t in tools if t is not _NOT_A_TOOL)


def _tool_of(api: Any, as_json: bool, where: str) -> Tool:
    """One entry of an API list as its tool (`_NOT_A_TOOL` for Finish); `as_json`: read through JSON."""
    if not isinstance(api, dict) or not isinstance(api.get("name"), str):
        raise RecordError(where, "API entry without a name")
    if api["name"] == FINISH:
        return _NOT_A_TOOL
    params = api.get("parameters") or {"type": "object", "properties": {}}
    if not as_json:  # ast.literal_eval's value: tuples, keys other than strings, values JSON cannot hold
        params = _json_safe(params, f"{where}.parameters")
    params.pop("optional", None)  # ToolBench's list of non-required keys; JSON schema says it with "required"
    return Tool(api["name"], clean_description(str(api.get("description") or "")), params)


def _tools_by_element(text: str) -> tuple[Tool, ...] | None:
    """The API list read an element at a time, each element's tool cached (`_api_tool`): a corpus lists the same API in
    many prompts, each prompt a different choice of them (the demo at 500k trajectories: 6,086 prompts in 26,762
    records, read at 72 us a prompt whole, 22% of convert's work a record; 6 Dec 2026). None where the list is not laid
    out as Python's repr writes a list of dicts or an element does not read on its own: the whole list is read then,
    with its own errors. Cutting the text at a separator that stands inside a string leaves a piece with a string
    that never closes, which does not read (None), so a list read by element holds the values of the whole."""
    if not (text.startswith("[" + _ELEMENT_START) and text.endswith("}]")):
        return None
    pieces = text[1:-1].split(_BETWEEN_ELEMENTS)
    if len(pieces) > 1:
        pieces = [pieces[0] + "}", *(_ELEMENT_START + p + "}" for p in pieces[1:-1]), _ELEMENT_START + pieces[-1]]
    tools = [_api_tool(piece) for piece in pieces]
    if None in tools:
        return None
    return tuple(t for t in tools if t is not _NOT_A_TOOL)


@functools.lru_cache(maxsize=1 << 14)
def _api_tool(element: str) -> Tool | None:
    """One element of an API list as its tool (`_NOT_A_TOOL` for Finish); None where it does not read as an API
    entry on its own."""
    try:
        return _tool_of(*pyliteral.read(element), "")
    except (ValueError, SyntaxError, MemoryError, RecursionError, RecordError):
        return None


def parse_step(value: str, where: str) -> Step:
    m = _REACT.match(value)
    if not m:
        raise Dropped("not_react", f"{where} is not in Thought/Action/Action Input form")
    thought = " ".join(part.strip() for part in m["thought"].split("\nThought:")).strip()
    action = m["action"].strip()
    if not action:
        raise RecordError(where, "empty Action")
    raw_input = m["input"].strip()
    try:
        arguments = orjson.loads(raw_input) if raw_input else {}
    except orjson.JSONDecodeError:
        raise RecordError(where, f"Action Input is not JSON: {raw_input[:60]!r}") from None
    if not isinstance(arguments, dict):
        raise RecordError(where, "Action Input is not a JSON object")
    return Step(raw=value, thought=thought, calls=[ToolCall(action, arguments)])


def _finish(step: Step, where: str) -> Step:
    """Turn a trailing Finish call into a final answer, or drop a trajectory that gave up."""
    args = step.call.arguments
    if args.get("return_type") == "give_up_and_restart":
        raise Dropped("gave_up", "trajectory ends with give_up_and_restart")
    if args.get("return_type") != "give_answer" or not isinstance(args.get("final_answer"), str):
        raise RecordError(where, "Finish needs return_type give_answer and a final_answer string")
    return Step(raw=step.raw, thought=step.thought, answer=args["final_answer"])


def parse(record: Any, source: str, index: int) -> Trajectory:
    turns = conversations_list(record)
    rid = record_id(record, f"{source}_{index}")
    system, query, tools, events = "", "", [], []
    for i, t in enumerate(turns):
        where = f"conversations[{i}]"
        role = t.get("from")
        if role not in ROLE_MAP:
            raise RecordError(f"{where}.from", f"unknown role {role!r} (expected system, user, assistant or function)")
        value = text_field(t, "value", where)
        if role == "system":
            system, tools = value, list(parse_api_list(value))
        elif role == "assistant":
            events.append(parse_step(value, f"{where}.value"))
        else:
            if role == "user" and not query:
                query = _QUERY_TAIL.sub("", value).strip()
            events.append(Message(ROLE_MAP[role], value))
    steps = [e for e in events if isinstance(e, Step)]
    if not steps:
        raise Dropped("not_react", "no assistant step")
    last = steps[-1]
    if last.call.name != FINISH:
        raise Dropped("no_final_answer", "last action is not Finish")
    at = max(i for i, e in enumerate(events) if isinstance(e, Step))
    events[at] = _finish(last, f"conversations[{len(turns) - 1}].value")
    if not system:
        raise RecordError("conversations", "no system turn with the API list")
    first = ("", query) if events and isinstance(events[0], Message) and events[0].role == "user" else None
    return Trajectory(rid, source, query, tools, events, system=system, tools_in_prompt=True, first_user_split=first)
