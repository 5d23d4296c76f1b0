"""Tools and calls as the function-calling formats write them, read tolerantly into `Tool` and `ToolCall`.

What real files hold, all accepted: a tool list as a list or as a JSON string or a Python-literal string; a tool as
the OpenAI wrapper (`{"type": "function", "function": {...}}`) or the bare function; its parameters as a JSON schema,
or as xLAM's mapping of parameter -> `{"type": "str", "description", "default"}` (converted to a JSON schema);
a call as `{"name", "arguments"}`, the OpenAI shape, or Llama 3.1's `{"name", "parameters"}`, or in ToolACE's and
BFCL's Python syntax (`[get_weather(city="Oslo")]`, read with `ast.parse`); arguments as an object, a JSON string, a
Python-literal dict (`ast.literal_eval`, never `eval`), or empty; the Python type names BFCL and ToolACE write in a
JSON schema (`dict`, `float`) as JSON Schema's. Anything else raises `RecordError` naming the field.
"""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any

import orjson

from agentflan.data.formats.base import RecordError
from agentflan.data.formats.pyliteral import STRING, python_literal
from agentflan.data.schema import Tool, ToolCall

# xLAM / APIGen, BFCL and ToolACE write Python type names; JSON Schema has its own
PYTHON_TYPES = {
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
_JSON_SCHEMA_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_CALL_NAME = re.compile(r"\s*(?P<name>[^\s(),\[\]{}'\"=][^(),\[\]{}'\"=\n]*?)\s*\(")  # up to its parenthesis
_JSON_NAMES = {"true": True, "false": False, "null": None}  # JSON's literals, as models write them in a Python call
# a parameter named like a Python keyword (`from=`, `class=`): renamed to parse, its name given back after
_RESERVED = re.compile(rf"(?<![\w.])({'|'.join(keyword.kwlist)})(?=\s*=(?!=))")
_RENAMED = "__agentflan_keyword"


def balanced(text: str, start: int) -> int | None:
    """The end of the bracketed value opening at `start` ({, [ or a call's `(`), quotes of either kind respected; None
    if unclosed."""
    pairs, stack, quote, i = {"{": "}", "[": "]", "(": ")"}, [], None, start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in "}])":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i + 1
        i += 1
    return None


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
        return standard_types(parameters)
    properties, required = {}, []
    for name, spec in parameters.items():
        spec = dict(spec) if isinstance(spec, dict) else {"description": str(spec)}
        declared = str(spec.pop("type", "") or "")
        optional = bool(_OPTIONAL.search(declared)) or "default" in spec
        base = _OPTIONAL.sub("", declared).strip().lower()
        inner = base.split("[", 1)[1].rsplit("]", 1)[0].strip() if "[" in base else ""
        base = base.split("[", 1)[0].split("|", 1)[0].strip()  # List[int] -> list, Union spelled with | -> its first
        if base in PYTHON_TYPES:
            spec["type"] = PYTHON_TYPES[base]
        if spec.get("type") == "array" and inner in PYTHON_TYPES and "items" not in spec:
            spec["items"] = {"type": PYTHON_TYPES[inner]}  # List[int]: an array of integers
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
    key = "parameters" if "parameters" in d or "input_schema" not in d else "input_schema"  # Anthropic's name for it
    return Tool(name.strip(), str(d.get("description") or ""), json_schema(d.get(key), f"{where}.{key}"))


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


def standard_types(schema: Any) -> Any:
    """A JSON schema with the Python type names BFCL and ToolACE write (`dict`, `float`, `tuple`; `any`: no type) as
    JSON Schema's, at every depth (`properties`, `items`); a schema that is standard already comes back as it was."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str) and kind not in _JSON_SCHEMA_TYPES:
        if kind.lower() in PYTHON_TYPES:
            out["type"] = PYTHON_TYPES[kind.lower()]
        elif kind.lower() == "any":
            del out["type"]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: standard_types(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = standard_types(out["items"])
    return out if out != schema else schema


def pythonic_calls(text: str, where: str) -> list[ToolCall] | None:
    """The calls of ToolACE's and BFCL's Python syntax, `[get_weather(city="Oslo"), Stock Price API(symbol="AAPL")]`:
    each name as written up to its parenthesis (ToolACE's API names hold spaces), its arguments given by name, each a
    Python literal (JSON's `true`, `false` and `null` too). None when the text is no such list; `RecordError` when it
    is one whose arguments do not read."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        return None
    calls: list[ToolCall] = []
    i, last = 1, len(body) - 1
    while True:
        while i < last and body[i] in " \t\r\n,":
            i += 1
        if i >= last:
            return calls or None
        named = _CALL_NAME.match(body, i)
        close = balanced(body, named.end() - 1) if named else None
        if close is None or close > last:
            return None
        calls.append(
            ToolCall(named["name"].strip(), _keywords(body[named.end() - 1 : close], f"{where}[{len(calls)}]"))
        )
        i = close


def _keywords(arguments: str, where: str) -> dict[str, Any]:
    """A Python call's `(name=value, ...)` as a dict, each value a literal."""
    parts = STRING.split(arguments)  # outside the strings, a keyword used as a parameter's name is renamed
    parts[0::2] = [_RESERVED.sub(rf"\1{_RENAMED}", p) for p in parts[0::2]]
    try:
        node = ast.parse(f"f{''.join(parts)}", mode="eval").body
        if not isinstance(node, ast.Call) or node.args or any(k.arg is None for k in node.keywords):
            raise RecordError(where, f"arguments must be given by name (name=value): {arguments[:60]!r}")
        return {k.arg.removesuffix(_RENAMED): _value(k.value) for k in node.keywords}
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise RecordError(where, f"the call's arguments are no Python literals: {arguments[:60]!r}") from None


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    return ast.literal_eval(node)
