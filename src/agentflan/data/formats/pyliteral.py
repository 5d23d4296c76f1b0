"""Python literals (ToolBench's API lists are Python reprs) read at JSON speed, with `ast.literal_eval`'s value.

A literal made only of dicts, lists, strings, numbers, True, False and None is translated token by token into JSON
and read by orjson: each string becomes a JSON string (one with a backslash escape is read by `ast.literal_eval`
alone, then written as JSON), the keywords become `true`/`false`/`null`, and whatever lies between strings must be
brackets, separators, numbers, whitespace or those keywords. Anything else (tuples, sets, prefixes such as `u''`,
implicit concatenation, trailing commas, a number orjson does not read or one of 16 digits or more) is read by
`ast.literal_eval` itself, so the value is always the one `ast.literal_eval` gives, and its errors are its own. On
ToolBench API lists it takes half of `ast.literal_eval`'s time (CPython compiles the text to an AST and walks it in
Python; `tests/data/test_pyliteral.py` checks the values agree).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import orjson

# a string literal with no prefix, on one line; backslash escapes allowed (the unrolled loop keeps `re` linear)
STRING = re.compile(r"""('[^'\\\n\r]*(?:\\.[^'\\\n\r]*)*'|"[^"\\\n\r]*(?:\\.[^"\\\n\r]*)*")""", re.S)
_BETWEEN = re.compile(r"(?:[ \t\n\r\[\]{}:,0-9.eE+\-]|True|False|None)*")  # what may lie between strings
_LONG_NUMBER = re.compile(r"\d{16,}")  # past 64 bits orjson reads an integer as a float; Python keeps it exact
_CARE = re.compile(r"[\\\x00-\x1f\ud800-\udfff]")  # what a string must not hold to be copied into JSON as it is


def python_literal(text: str) -> Any:
    """`ast.literal_eval(text)`, through JSON when the literal allows (the module docstring)."""
    return read(text)[0]


def read(text: str) -> tuple[Any, bool]:
    """`python_literal(text)`, and whether it came through JSON (then it holds JSON's types only: no tuples, no keys
    other than strings)."""
    translated = as_json(text)
    if translated is not None:
        try:
            return orjson.loads(translated), True
        except orjson.JSONDecodeError:
            pass
    return ast.literal_eval(text), False


def as_json(text: str) -> str | None:
    """The literal written as JSON text, or None when it holds a token the translation does not take."""
    parts = STRING.split(text)
    betweens, strings = parts[0::2], parts[1::2]
    joined = " ".join(betweens)  # checked at once: a space cannot join two pieces into a keyword or a long number
    if not _BETWEEN.fullmatch(joined) or _LONG_NUMBER.search(joined):
        return None
    if "True" in joined or "False" in joined or "None" in joined:
        parts[0::2] = [b.replace("True", "true").replace("False", "false").replace("None", "null") for b in betweens]
    if _CARE.search("".join(strings)):  # an escape, a control character or a surrogate somewhere: string by string
        for i, literal in enumerate(strings):
            translated = _string_as_json(literal)
            if translated is None:
                return None
            parts[2 * i + 1] = translated
    else:  # a double-quoted string is JSON already; a single-quoted one is unless it holds a double quote
        parts[1::2] = [
            s if s[0] == '"' else f'"{s[1:-1]}"' if '"' not in s else orjson.dumps(s[1:-1]).decode() for s in strings
        ]
    return "".join(parts)


def _string_as_json(literal: str) -> str | None:
    """One string literal as a JSON string; None when it has a bad escape or a lone surrogate."""
    if "\\" in literal:
        try:
            value = ast.literal_eval(literal)  # its escapes as Python reads them
        except (ValueError, SyntaxError):  # a bad escape: the whole text's own error, from ast.literal_eval
            return None
    else:
        value = literal[1:-1]
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: not JSON
        return None
