"""Tools and calls as the function-calling formats write them, read tolerantly into `Tool` and `ToolCall`.

What real files hold, all accepted: a tool list as a list or as a JSON string or a Python-literal string; a tool as
the OpenAI wrapper (`{"type": "function", "function": {...}}`) or the bare function; its parameters as a JSON schema,
or as xLAM's mapping of parameter -> `{"type": "str", "description", "default"}` (converted to a JSON schema);
a call as `{"name", "arguments"}`, the OpenAI shape, or Llama 3.1's `{"name", "parameters"}`; arguments as an object,
a JSON string, a Python-literal dict (`ast.literal_eval`, never `eval`), or empty. Anything else raises `RecordError`
naming the field.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from agentflan.data.formats.base import RecordError
from agentflan.data.formats.pyliteral import python_literal
from agentflan.data.schema import Tool, ToolCall

# xLAM / APIGen write Python type names; JSON Schema has its own
_PY_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "set": "array",
}
_OPTIONAL = re.compile(r",?\s*optional\s*$", re.I)


def json_or_python(text: str) -> Any:
    """The value a text holds whole, as JSON or else as a Python literal (`ast.literal_eval`, never `eval`); ValueError
    when it is neither. The one reader of both that records (here) and model answers (`evaluation.calls`) use."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return python_literal(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"neither JSON nor a Python literal: {text[:60]!r}") from None


def literal(value: Any, where: str, what: str) -> Any:
    """A JSON or Python-literal string as data (other values as they are)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return json_or_python(text)
    except ValueError:
        raise RecordError(where, f"{what} is neither JSON nor a Python literal: {text[:60]!r}") from None


def parse_arguments(value: Any, where: str) -> dict[str, Any]:
    """A call's arguments: an object, a JSON string, a Python-literal dict, or nothing ({})."""
    args = literal(value, where, "arguments")
    if args is None:
        return {}
    if isinstance(args, str):  # a JSON string holding a JSON string (glaive quotes its arguments): unwrap once more
        args = literal(args, where, "arguments")
    if not isinstance(args, dict):
        raise RecordError(where, f"arguments are not an object (got {type(args).__name__})")
    return args


def json_schema(parameters: Any, where: str) -> dict[str, Any]:
    """A tool's parameters as a JSON schema; xLAM's {name: {"type": "str", ...}} mapping is converted."""
    if parameters in (None, "", {}):
        return {"type": "object", "properties": {}}
    parameters = literal(parameters, where, "parameters")
    if not isinstance(parameters, dict):
        raise RecordError(where, f"parameters are not an object (got {type(parameters).__name__})")
    if parameters.get("type") == "object" or "properties" in parameters:
        return parameters
    properties, required = {}, []
    for name, spec in parameters.items():
        spec = dict(spec) if isinstance(spec, dict) else {"description": str(spec)}
        declared = str(spec.pop("type", "") or "")
        optional = bool(_OPTIONAL.search(declared)) or "default" in spec
        base = _OPTIONAL.sub("", declared).strip().lower()
        inner = base.split("[", 1)[1].rsplit("]", 1)[0].strip() if "[" in base else ""
        base = base.split("[", 1)[0].split("|", 1)[0].strip()  # List[int] -> list, Union spelled with | -> its first
        if base in _PY_TYPES:
            spec["type"] = _PY_TYPES[base]
        if spec.get("type") == "array" and inner in _PY_TYPES and "items" not in spec:
            spec["items"] = {"type": _PY_TYPES[inner]}  # List[int]: an array of integers
        properties[str(name)] = spec
        if not optional:
            required.append(str(name))
    return {"type": "object", "properties": properties, "required": required}


def tool_from_any(value: Any, where: str) -> Tool:
    d = literal(value, where, "tool")
    if not isinstance(d, dict):
        raise RecordError(where, f"expected a tool object, got {type(d).__name__}")
    if isinstance(d.get("function"), dict):
        d = d["function"]
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(f"{where}.name", "missing")
    return Tool(name.strip(), str(d.get("description") or ""), json_schema(d.get("parameters"), f"{where}.parameters"))


def values_in(text: str, where: str, what: str) -> list[Any]:
    """The JSON values written one after another in `text` (one tool a line, say), or the one Python literal in it."""
    import json

    decoder, out, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            return [literal(text, where, what)]
        out.append(value)
        at = end
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
    return out


def parse_tools(value: Any, where: str) -> list[Tool]:
    """A tool list: a list, a JSON string or a Python-literal string of tools; nothing or "[]" is no tools."""
    tools = literal(value, where, "tools")
    if tools is None:
        return []
    if isinstance(tools, dict):  # one tool given alone
        tools = [tools]
    if not isinstance(tools, list):
        raise RecordError(where, f"expected a list of tools, got {type(tools).__name__}")
    return [tool_from_any(t, f"{where}[{i}]") for i, t in enumerate(tools)]


def call_from_any(value: Any, where: str, call_id: str = "") -> ToolCall:
    """A call: `{"name", "arguments"}`, the OpenAI shape, or `{"name", "parameters"}`, the object or its JSON text."""
    d = literal(value, where, "call")
    if not isinstance(d, dict):
        raise RecordError(where, f"expected a call object, got {type(d).__name__}")
    call_id = str(d.get("id") or call_id or "")
    if isinstance(d.get("function"), dict):
        d = d["function"]
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(f"{where}.name", "missing")
    key = "arguments" if "arguments" in d else "parameters"
    return ToolCall(name.strip(), parse_arguments(d.get(key), f"{where}.{key}"), call_id)
