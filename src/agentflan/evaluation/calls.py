"""Tool calls found in an answer's text, in the syntaxes models emit, by parsing (never `eval`).

- ReAct: `Action: name` then `Action Input: {...}`, on their own lines or on one line, Markdown bold or not;
  the arguments end where their first complete JSON value (or Python literal) ends;
- JSON objects anywhere in the text (`json.JSONDecoder.raw_decode`, else `ast.literal_eval` for Python-literal
  dicts): `{"name", "arguments"}` and its spellings (`parameters` as Llama 3.1 writes it, `tool`/`function`/`args`),
  the OpenAI shape `{"type": "function", "function": {...}}` with arguments as a JSON string, `{"tool_calls": [...]}`;
  so Hermes/Qwen `<tool_call>` tags, fenced JSON, Mistral's `[TOOL_CALLS] [...]` and glaive's `<functioncall>`
  (arguments as a single-quoted string) all read;
- Mistral's newer `[TOOL_CALLS]name[ARGS]{...}`; Llama 3.1's custom-tool form `<function=name>{...}</function>`, and
  Qwen3-Coder's `<function=name><parameter=key>value</parameter>...</function>` (each value text, typed by the tool's
  schema: `TextParameters`, `typed`);
- Qwen-Agent's function-call prompt (Qwen 1.5 and 2): `✿FUNCTION✿: name` then `✿ARGS✿: {...}`, the pair repeated for
  parallel calls;
- gpt-oss's harmony messages addressed `to=functions.name` (their arguments after `<|message|>`), Kimi K2's
  `<|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{...}`, Kimi K3's `<|open|>call tool="name"` blocks,
  GLM-4.5's `<tool_call>name` and its `<arg_key>k</arg_key><arg_value>v</arg_value>` pairs (text, typed as
  Qwen3-Coder's; Hy3's with `<tool_sep>` after the name, K2-Horizon's in its `ifm|` namespace);
- Gemma 4's `<|tool_call>call:name{key:<|"|>text<|"|>,n:3}` and FunctionGemma's (`<escape>` marks), keys bare;
- Apertus's `[{"name": {...}}]`, an offered tool's name keying its arguments;
- Functionary's recipients: v3.2's `>>>name` and v2's `<|recipient|>name`, each then `{...}` on the next line (v3.2's
  `>>>all` opens text, no call); GLM-4's (glm-4-9b-chat) whole answer an offered tool's name on its line and `{...}`;
- MiniMax-M2's and Anthropic's XML `<invoke name="name">` with `<parameter name="key">value</parameter>` (text, typed
  as Qwen3-Coder's), and the same in DeepSeek V3.2's and V4's DSML and Step-3's `steptml:` namespaces, MiniCPM5's
  `<function name=...>` with `<param name=...>`, MiniMax-M3's with a tag per argument;
- DeepSeek's call tokens: V3 and R1 `<｜tool▁call▁begin｜>function<｜tool▁sep｜>name` and the arguments in a JSON
  fence, V3.1 `<｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}`, each call closed by `<｜tool▁call▁end｜>`;
- a Python call, `find_flights(origin="OSL")` or BFCL's `[f(a=1), g(b=2)]`, read with `ast.parse` and
  `ast.literal_eval` of each argument: the whole answer, or a line that calls an offered tool.
Text is normalised first (`normalise`): Unicode quotes and dashes, Markdown emphasis.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agentflan.data.formats.calls import balanced, json_or_python

_DECODER = json.JSONDecoder()
NAME_KEYS = ("name", "tool", "function", "tool_name", "action", "api_name")
ARG_KEYS = ("arguments", "parameters", "args", "action_input", "input", "kwargs")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2026": "...",
        "\u200b": "",
    }
)
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")
_FENCE = re.compile(r"```[^\n`]*\n?(?P<body>.*?)```", re.S)
_ACTION = re.compile(r"(?<![\w])Action\s*:[ \t]*(?P<name>.*?)[ \t]*(?=(?:Action\s+Input\s*:)|\n|$)", re.S)
_ACTION_INPUT = re.compile(r"(?<![\w])Action\s+Input\s*:[ \t]*")
_REACT_KEYWORD = re.compile(
    r"(?:^|\n)[ \t>#]*(?:Thought|Action|Action Input)\s*:|(?<![\w])Action\s*:.*?(?<![\w])Action\s+Input\s*:", re.S
)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(?P<name>[A-Za-z_][\w.\-]*)\s*\[ARGS\]\s*")
_FUNCTION_TAG = re.compile(r"<function=(?P<name>[A-Za-z_][\w.\-]*)>\s*")  # Llama 3.1's custom tools
_PARAMETER = re.compile(r"<parameter=(?P<name>[^>\n]+)>\n?(?P<value>.*?)\n?</parameter>", re.S)  # Qwen3-Coder's
_HARMONY = re.compile(r"to=functions\.(?P<name>[A-Za-z_][\w\-]*)[^\n]*?<\|message\|>")  # gpt-oss's recipient
_KIMI = re.compile(
    r"<\|tool_call_begin\|>\s*(?:functions\.)?(?P<name>[A-Za-z_][\w.\-]*?)(?::\d+)?\s*<\|tool_call_argument_begin\|>\s*"
)
# GLM-4.5's call, its pairs next (Hy3's with `<tool_sep>` after the name, K2-Horizon's tags in its `ifm|` namespace)
_GLM = re.compile(r"<(?:ifm\|)?tool_call>\s*(?P<name>[A-Za-z_][\w.\-]*)\s*(?:<tool_sep>\s*)?(?=<(?:ifm\|)?arg_key>)")
_GLM_ARGUMENT = re.compile(
    r"<(?P<ns>(?:ifm\|)?)arg_key>(?P<name>.*?)</(?P=ns)arg_key>\s*(?:<(?P=ns)arg_type>.*?</(?P=ns)arg_type>\s*)?"
    r"<(?P=ns)arg_value>\n?(?P<value>.*?)\n?</(?P=ns)arg_value>",
    re.S,
)
_GLM_END = re.compile(r"</(?:ifm\|)?tool_call>")
_FUNCTIONARY = re.compile(r"(?:>>>|<\|recipient\|>)[ \t]*(?P<name>[A-Za-z_][\w.\-]*)[ \t]*\n(?:<\|content\|>)?")
# Step-3's namespace and DeepSeek V3.2's and V4's (DSML, its bars as `normalise` leaves them)
_NAMESPACE = r"(?:steptml:|\|DSML\|)?"
# MiniMax-M2's and Anthropic's XML, Step-3's and DeepSeek's in their namespaces, MiniCPM5's `<function name=...>`
_INVOKE = re.compile(rf'<(?P<ns>{_NAMESPACE})(?P<tag>invoke|function)\s+name\s*=\s*["\'](?P<name>[^"\'\n]+)["\'][^>]*>')
_INVOKE_PARAMETER = re.compile(
    rf'<{_NAMESPACE}(?:parameter|param)\s+name\s*=\s*["\'](?P<name>[^"\'\n]+)["\'][^>]*>\n?(?P<value>.*?)\n?'
    rf"</{_NAMESPACE}(?:parameter|param)>",
    re.S,
)
_ELEMENT = re.compile(r"<(?P<name>[A-Za-z_][\w\-]*)>(?P<value>.*?)</(?P=name)>", re.S)  # MiniMax-M3's argument tags
MAX_DEPTH = 32  # nesting read in an argument's value before the rest is kept as text (a degenerate answer nests on)
_MINIMAX_M3 = "]<]minimax[>["  # the namespace MiniMax-M3 writes before each tag of its calls
# Gemma 4's `<|tool_call>call:name{...}` and FunctionGemma's `<start_function_call>call:name{...}` (or a line opening
# with the call, the special tokens left out of the text)
_GEMMA = re.compile(r"(?:<\|tool_call>|<start_function_call>|(?<![^\n]))[ \t]*call:(?P<name>[A-Za-z_][\w.\-]*)\{")
_GEMMA_QUOTES = ('<|"|>', "<escape>")  # Gemma 4's string delimiter, FunctionGemma's
_KIMI3 = re.compile(r"<\|open\|>call(?P<attrs>[^<]*?)<\|sep\|>(?P<body>.*?)<\|close\|>call<\|sep\|>", re.S)  # Kimi K3's
_KIMI3_ARGUMENT = re.compile(
    r"<\|open\|>argument(?P<attrs>[^<]*?)<\|sep\|>(?P<value>.*?)<\|close\|>argument<\|sep\|>", re.S
)
_KIMI3_JSON = re.compile(r"<\|open\|>json[^<]*?<\|sep\|>(?P<value>.*?)<\|close\|>json<\|sep\|>", re.S)
_ATTRIBUTE = re.compile(r'(?P<key>\w+)="(?P<value>[^"]*)"')
_NAME_LINE = re.compile(r"\s*(?P<name>[A-Za-z_][\w.\-]*)[ \t]*\n\s*(?=\{)")  # GLM-4's call: the name, its arguments
_QWEN_NAME = re.compile(r"✿FUNCTION✿[ \t]*:?[ \t]*(?P<name>[^\n✿]*)")  # Qwen-Agent's FN_NAME
_QWEN_ARGS = re.compile(r"\s*✿ARGS✿[ \t]*:?[ \t]*")  # its FN_ARGS
# DeepSeek's call, as `normalise` leaves it (NFKC: its fullwidth bars are ASCII ones; `▁` or `_` between the words)
_DEEPSEEK = re.compile(r"<\|tool[▁_]call[▁_]begin\|>(?P<body>.*?)(?:<\|tool[▁_]call[▁_]end\|>|$)", re.S)
_DEEPSEEK_SEP = re.compile(r"<\|tool[▁_]sep\|>")
_EXAMPLE = re.compile(
    r"\b(?:examples?|format|template|like\s+this|looks\s+like|e\.g\.|for\s+instance|syntax)\b"
    r"|\bhow\s+[^.?!\n]{0,40}\blooks?\b",
    re.I,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.\-]*")


@dataclass(frozen=True)
class Call:
    name: str
    arguments: Any  # an object when it parsed, else the text as given
    style: str  # react | qwen | deepseek | json | python | mistral | function_tag | harmony | kimi | glm | functionary
    # | invoke | glm4 | gemma | kimi3 | keyed
    start: int  # where in the normalised text it begins


def normalise(text: str) -> str:
    """Unicode quotes, dashes and spaces as ASCII; Markdown bold/italic markers dropped (identifiers keep their `_`)."""
    if not text.isascii():  # NFKC and the quotes' table leave ASCII as it is
        text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if _MINIMAX_M3 in text:
        text = text.replace(_MINIMAX_M3, "")
    return _EMPHASIS.sub("", text) if "*" in text or "__" in text else text  # the markers are made of these


def literal(text: str, start: int = 0) -> tuple[Any, int] | None:
    """The JSON value (or Python literal) at `start`, and where it ends; None when none parses there."""
    try:
        return _DECODER.raw_decode(text, start)
    except ValueError:
        pass
    if start < len(text) and text[start] in "{[":
        end = balanced(text, start)
        if end is not None:
            try:
                return json_or_python(text[start:end]), end
            except ValueError:
                return None
    return None


def arguments_of(value: Any) -> Any:
    """Arguments as an object where they are one, a JSON string or a Python-literal string; else as given."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        found = literal(value.strip())
        return found[0] if found else value
    if isinstance(value, str) and not value.strip():
        return {}
    return value


def call_in(obj: Any) -> tuple[str, Any] | None:
    """(name, arguments) of a call object in any of its spellings, looking inside `function` and `tool_calls`."""
    if isinstance(obj, list):
        return next((c for c in map(call_in, obj) if c), None)
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        return call_in(obj["function"])
    for key in ("tool_calls", "calls", "function_call", "tool_call"):
        if isinstance(obj.get(key), (dict, list)):
            found = call_in(obj[key])
            if found:
                return found
    name = next((obj[k] for k in NAME_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
    key = next((k for k in ARG_KEYS if k in obj), None)
    return (name.strip(), arguments_of(obj[key])) if name and key else None


def json_calls(text: str) -> Iterator[Call]:
    """Every call object in the text, outermost first, left to right."""
    i = text.find("{")
    while i != -1:
        found = literal(text, i)
        if found is None:
            i = text.find("{", i + 1)
            continue
        value, end = found
        call = call_in(value)
        if call:
            yield Call(*call, "json", i)
            i = text.find("{", end)
        else:
            i = text.find("{", i + 1)  # a wrapper that is no call may hold one


def react_calls(text: str) -> Iterator[Call]:
    """`Action: name` (then `Action Input:`) steps, the name cleaned of quotes, brackets and a closing period."""
    for action in _ACTION.finditer(text):
        raw = action["name"].strip().strip("`'\"[]()").rstrip(".,;:!")
        named = _IDENTIFIER.match(raw)
        name = named.group(0).rstrip(".-") if named and named.end() == len(raw) else raw
        if not name:
            continue
        rest = text[action.end() :]
        given = _ACTION_INPUT.match(rest) or _ACTION_INPUT.search(rest.split("\nAction:", 1)[0])
        opens_line = not text[text.rfind("\n", 0, action.start()) + 1 : action.start()].strip()
        if not opens_line and not (given and name == raw.rstrip(".,;:!") and _IDENTIFIER.fullmatch(name)):
            continue  # mid-line, only a one-line ReAct step counts: "- Action: the film is full of action" is prose
        if not given:
            yield Call(name, None, "react", action.start())
            continue
        body = rest[given.end() :].lstrip()
        found = literal(body)
        yield Call(name, found[0] if found else body.split("\n", 1)[0].strip(), "react", action.start())


def tagged_calls(text: str) -> Iterator[Call]:
    """A name in a tag, then its arguments: Mistral's `[TOOL_CALLS]name[ARGS]{...}`, Llama 3.1's
    `<function=name>{...}</function>`, Qwen3-Coder's `<function=name><parameter=key>value</parameter>...`, gpt-oss's
    `to=functions.name ...<|message|>{...}`, Kimi K2's and K3's, GLM-4.5's (and Hy3's, K2-Horizon's), Functionary's
    recipients, the `<invoke name=...>` blocks (`invoke_calls`) and Gemma's `call:name{...}`."""
    tags = (("mistral", _MISTRAL), ("function_tag", _FUNCTION_TAG), ("harmony", _HARMONY), ("kimi", _KIMI))
    for style, tag in tags:
        for m in tag.finditer(text):
            rest = text[m.end() :]
            if style == "function_tag" and rest.startswith("<parameter="):  # Qwen3-Coder's: a tag a parameter
                pairs = _PARAMETER.finditer(rest.split("</function>", 1)[0])
                yield Call(m["name"], TextParameters((p["name"].strip(), p["value"]) for p in pairs), style, m.start())
                continue
            found = literal(text, m.end())
            given = rest.split("\n", 1)[0].split("</function>", 1)[0].strip()
            yield Call(m["name"], found[0] if found else given, style, m.start())
    for m in _GLM.finditer(text):
        pairs = _GLM_ARGUMENT.finditer(_GLM_END.split(text[m.end() :], 1)[0])
        yield Call(m["name"], TextParameters((p["name"].strip(), p["value"]) for p in pairs), "glm", m.start())
    yield from invoke_calls(text)
    for m in _GEMMA.finditer(text):
        yield Call(m["name"], _gemma(text, m.end(), "}")[0], "gemma", m.start())
    for m in _KIMI3.finditer(text):
        name = dict(_ATTRIBUTE.findall(m["attrs"])).get("tool", "").strip()
        if name:
            yield Call(name, _kimi3_arguments(m["body"]), "kimi3", m.start())
    for m in _FUNCTIONARY.finditer(text):
        found = literal(text, m.end())
        if m["name"] != "all" and found and isinstance(found[0], dict):  # `>>>all`: text follows
            yield Call(m["name"], found[0], "functionary", m.start())


def invoke_calls(text: str) -> Iterator[Call]:
    """`<invoke name=...>` blocks: MiniMax-M2's and Anthropic's, each argument a `<parameter name=...>`; Step-3's and
    DeepSeek V3.2's and V4's the same in their namespaces (`steptml:`, DSML); MiniCPM5's `<function name=...>` with
    `<param name=...>`; MiniMax-M3's with a tag per argument (`<city>Oslo</city>`, a list's values `<item>`s). Values
    are text, typed by the tool's schema (`typed`)."""
    for m in _INVOKE.finditer(text):
        following = _INVOKE.search(text, m.end())
        body = text[m.end() : following.start() if following else len(text)].split(f"</{m['ns']}{m['tag']}", 1)[0]
        pairs = [(p["name"].strip(), p["value"]) for p in _INVOKE_PARAMETER.finditer(body)]
        elements = [] if pairs else [(e["name"], _element_value(e["value"])) for e in _ELEMENT.finditer(body)]
        yield Call(m["name"].strip(), TextParameters(pairs or elements), "invoke", m.start())


def _element_value(text: str, depth: int = 0) -> Any:
    """A MiniMax-M3 argument's value: its text, or the values of the tags inside it (a list where they are `<item>`s,
    else an object); past `MAX_DEPTH` levels, the text."""
    inner = (
        []
        if depth >= MAX_DEPTH
        else [(e["name"], _element_value(e["value"], depth + 1)) for e in _ELEMENT.finditer(text)]
    )
    if not inner:
        return text.strip("\n")
    return [v for _, v in inner] if all(k == "item" for k, _ in inner) else dict(inner)


def _gemma(text: str, i: int, close: str, depth: int = 0) -> tuple[Any, int]:
    """Gemma's arguments from `i` (just after `{` or `[`) to `close` and where they end: `key:value` pairs (a list's
    values), a string between `<|"|>` (Gemma 4) or `<escape>` (FunctionGemma) marks, `{...}` and `[...]` nested (past
    `MAX_DEPTH` levels the rest is text), any other value JSON where it is one (`3`, `true`), else its text (a string
    whose marks the decoding left out)."""
    pairs: dict[str, Any] = {}
    items: list[Any] = []
    while i < len(text):
        while i < len(text) and text[i] in " \t\n,":
            i += 1
        if i >= len(text) or text[i] == close:
            break
        key = None
        if close == "}":
            colon = text.find(":", i)
            if colon == -1:
                break
            key = text[i:colon].strip()
            for quote in _GEMMA_QUOTES:
                key = key.removeprefix(quote).removesuffix(quote)
            i = colon + 1
            while i < len(text) and text[i] in " \t\n":
                i += 1
        quote = next((q for q in _GEMMA_QUOTES if text.startswith(q, i)), None)
        if quote:
            end = text.find(quote, i + len(quote))
            end = len(text) if end == -1 else end
            value, i = text[i + len(quote) : end], end + len(quote)
        elif i < len(text) and text[i] in "{[" and depth >= MAX_DEPTH:
            value, i = text[i:], len(text)
        elif i < len(text) and text[i] in "{[":
            value, i = _gemma(text, i + 1, "}" if text[i] == "{" else "]", depth + 1)
        else:
            end = i
            while end < len(text) and text[end] not in ",}]":
                end += 1
            raw = text[i:end].strip()
            stray = end == i and text[end : end + 1] not in ("", close)  # a bracket that closes nothing here
            i = end + 1 if stray else end
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        if key is None:
            items.append(value)
        else:
            pairs[key] = value
    return (pairs if close == "}" else items), i + 1


def _kimi3_arguments(body: str) -> dict[str, Any]:
    """Kimi K3's arguments: one JSON object block, or an `argument` block per key, typed by its `type` attribute."""
    block = _KIMI3_JSON.search(body)
    if block:
        found = literal(block["value"].strip())
        return found[0] if found and isinstance(found[0], dict) else {}
    arguments: dict[str, Any] = {}
    for m in _KIMI3_ARGUMENT.finditer(body):
        attributes = dict(_ATTRIBUTE.findall(m["attrs"]))
        value = m["value"]
        if attributes.get("type", "string") != "string":
            found = literal(value.strip())
            value = found[0] if found else value
        if "key" in attributes:
            arguments[attributes["key"]] = value
    return arguments


def keyed_calls(text: str, offered: list[str]) -> Iterator[Call]:
    """Apertus's calls: objects that map an offered tool's name to its arguments (`[{"get_weather": {...}}]`); a name
    not offered is not read (a JSON answer would be one)."""
    i = text.find("{")
    while i != -1:
        found = literal(text, i)
        value = found[0] if found else None
        if isinstance(value, dict) and len(value) == 1:
            ((name, arguments),) = value.items()
            if name in offered and (arguments is None or isinstance(arguments, dict)):
                yield Call(name, arguments or {}, "keyed", i)
                i = text.find("{", found[1])
                continue
        i = text.find("{", i + 1)


def name_line_call(text: str, offered: list[str]) -> Call | None:
    """GLM-4's call (and Functionary v3.2's first): the whole answer an offered tool's name on its own line and a JSON
    object of arguments (a name not offered is not read: "json" and a JSON answer would be one)."""
    m = _NAME_LINE.match(text)
    if not m or m["name"] not in offered:
        return None
    found = literal(text, m.end())
    if found and isinstance(found[0], dict) and not text[found[1] :].strip():
        return Call(m["name"], found[0], "glm4", m.start("name"))
    return None


class TextParameters(dict):
    """A call's arguments written as text, a value a parameter (Qwen3-Coder's `<parameter=key>value</parameter>`,
    GLM-4.5's `<arg_key>`/`<arg_value>` pairs): what each value is, the tool's schema says (`typed`)."""


def typed(arguments: Any, schema: dict[str, Any] | None) -> Any:
    """`TextParameters` read as the tool's schema types each parameter, as vLLM's and SGLang's Qwen3-Coder parsers
    read them: a string as written; an integer, a number, a boolean or null where the text is one; an object or an
    array (or a parameter the schema does not type) as JSON or a Python literal where the whole text is one; else the
    text. Any other arguments as they are."""
    if not isinstance(arguments, TextParameters):
        return arguments
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    return {key: _typed(v, properties.get(key)) if isinstance(v, str) else v for key, v in arguments.items()}


def _typed(text: str, spec: Any) -> Any:
    kinds = spec.get("type") if isinstance(spec, dict) else None
    kinds = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"] or [None]
    kind, value = kinds[0], text.strip()
    if kind == "string":
        return text
    if value.lower() == "null":
        return None
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", value):
        return int(value) if re.fullmatch(r"[+-]?\d+", value) else float(value)
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind in ("object", "array", None):
        found = literal(value)
        if found is not None and found[1] == len(value):
            return found[0]
    return text


def qwen_calls(text: str) -> Iterator[Call]:
    """Qwen-Agent's steps: `✿FUNCTION✿: name`, then `✿ARGS✿:` and its arguments (a name without them is a call with
    none given); what follows, `✿RESULT✿` and `✿RETURN✿`, is the tool's result and the answer."""
    for step in _QWEN_NAME.finditer(text):
        name = step["name"].strip().strip("`'\"[]()").rstrip(".,;:!")
        if not name:
            continue
        rest = text[step.end() :]
        given = _QWEN_ARGS.match(rest)
        if not given:
            yield Call(name, None, "qwen", step.start())
            continue
        body = rest[given.end() :]
        found = literal(body)
        yield Call(name, found[0] if found else body.split("\n", 1)[0].split("✿", 1)[0].strip(), "qwen", step.start())


def deepseek_calls(text: str) -> Iterator[Call]:
    """DeepSeek's calls: V3 and R1 write the call's type (`function`), the separator, the name on its line and the
    arguments in a JSON fence; V3.1 the name, the separator and the arguments."""
    for call in _DEEPSEEK.finditer(text):
        parts = _DEEPSEEK_SEP.split(call["body"], maxsplit=1)
        if len(parts) < 2:
            continue
        head, rest = parts
        if head.strip() == "function" and _INVOKE.match(rest.lstrip()):  # Step-3's: an invoke block in the call
            yield from (Call(c.name, c.arguments, c.style, call.start()) for c in invoke_calls(rest))
            continue
        if head.strip() == "function":  # V3, R1
            head, _, rest = rest.partition("\n")
        given = rest.strip()
        fence = _FENCE.match(given)
        given = (fence["body"] if fence else given).strip()
        found = literal(given)
        name = head.strip()
        if name:
            yield Call(name, found[0] if found else given or None, "deepseek", call.start())


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _python_call(node: ast.AST) -> tuple[str, Any] | None:
    if not isinstance(node, ast.Call) or not (name := _dotted(node.func)):
        return None
    try:
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        positional = [ast.literal_eval(a) for a in node.args]
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return name, ast.unparse(node)[len(name) :]  # arguments that are not literals: kept as their text
    return name, kwargs if not positional else [*positional, kwargs] if kwargs else positional


def python_calls(text: str, offered: Iterable[str] = ()) -> Iterator[Call]:
    """A Python call (or a list of them) that is the whole text, or a line calling an offered tool."""
    names = set(offered)
    candidates = [(0, text.strip(), True)] + [
        (m.start(), m.group(0).strip(), False) for m in re.finditer(r"[^\n]+", text)
    ]
    for start, candidate, is_whole in candidates:
        if not candidate or "(" not in candidate or len(candidate) > 4000:
            continue
        try:
            tree = ast.parse(candidate, mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        nodes = tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]
        calls = [c for c in map(_python_call, nodes) if c]
        whole = is_whole and len(calls) == len(nodes)
        for name, args in calls:
            if name in names or (whole and isinstance(args, dict) and args):
                yield Call(name, args, "python", start)
        if calls and (whole or any(n in names for n, _ in calls)):
            return
    yield from inline_python_calls(text, names)


def inline_python_calls(text: str, names: set[str]) -> Iterator[Call]:
    """An offered tool called with arguments inside a sentence ("Checking get_weather(city='Paris')..."): the call's
    text, from the name to its closing parenthesis, read as `python_calls` reads a line."""
    for name in names:
        for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(", text):
            end = balanced(text, m.end() - 1)
            if end is None:
                continue
            try:
                node = ast.parse(text[m.start() : end], mode="eval").body
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue
            call = _python_call(node)
            if call and call[1]:  # arguments given: "get_weather()" named in prose is no call
                yield Call(*call, "python", m.start())


def fenced(text: str) -> tuple[str, list[str]]:
    """(the text outside closed code fences, the fences' bodies); a lone fence marker is dropped."""
    bodies = [m["body"] for m in _FENCE.finditer(text)]
    return _FENCE.sub(" ", text).replace("```", " "), bodies


def find_calls(text: str, offered: Iterable[str] = ()) -> list[Call]:
    """Every call the answer makes, in order (DeepSeek's call blocks before the rest). A fenced block counts when it
    calls an offered tool or the answer is little more than the block ("Here is the call:" and a fence), and never when
    the text around it presents it as an example or a format; otherwise it is shown, not made."""
    offered = [n for n in offered if n]
    text = normalise(text)
    deepseek = list(deepseek_calls(text))  # first: their arguments are fenced, and the rest is read without them
    body, bodies = fenced(_DEEPSEEK.sub(" ", text) if deepseek else text)
    calls = deepseek + _calls(body, offered)
    if _EXAMPLE.search(body):
        return calls  # "the format is:", "for example": what the fences hold is shown, not done
    outside_is_short = len(body.split()) <= 12 and body.count("\n") <= 2
    for fence in bodies:
        inside = _calls(fence, offered)
        if inside and (outside_is_short or any(c.name in offered for c in inside)):
            calls += inside
    return calls


def _calls(text: str, offered: list[str]) -> list[Call]:
    # a JSON object after a ReAct or Qwen-Agent step is its input or its observation, not a call
    stepped = [*react_calls(text), *qwen_calls(text)]
    found = stepped + [c for c in json_calls(text) if not any(r.start <= c.start for r in stepped)]
    found += list(tagged_calls(text))
    if not found:
        found = list(keyed_calls(text, offered)) or list(python_calls(text, offered))
    if not found and (call := name_line_call(text, offered)):
        found = [call]
    return sorted(found, key=lambda c: c.start)


def parse_call(text: str, offered: Iterable[str] = ()) -> tuple[str, Any] | None:
    """(name, arguments) of the first call an answer makes."""
    calls = find_calls(text, offered)
    return (calls[0].name, calls[0].arguments) if calls else None


def has_react_keywords(text: str) -> bool:
    """ReAct's keywords ("Thought:", "Action:", "Action Input:") opening a line, or an inline Action/Action Input."""
    return bool(_REACT_KEYWORD.search(fenced(normalise(text))[0]))


def names_whole(name: str, text: str) -> bool:
    """`name` appears in the text as a whole identifier (not inside another word)."""
    return whole_name_at(name, text) is not None


def whole_name_at(name: str, text: str) -> int | None:
    """Where `name` first appears in the text as a whole identifier; None where it does not."""
    m = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text) if name else None
    return m.start() if m else None
