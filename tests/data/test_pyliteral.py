"""`python_literal` gives what `ast.literal_eval` gives (value, types, key order, errors), and reads ToolBench's API
lists through JSON rather than falling back."""

import ast
import random
from pathlib import Path

import orjson
import pytest

from agentflan.data.formats.pyliteral import as_json, python_literal
from agentflan.data.formats.toolbench import API_MARKER

FIXTURES = Path(__file__).parents[1] / "fixtures"
PIECES = [
    "a",
    "B",
    "'",
    '"',
    "\\",
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x1f",
    "é",
    "日本",
    "\U0001f600",
    "True",
    "None",
    " ",
    "e",
    ":",
    ",",
]


def _string(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return _string(rng)
    if kind == 1:
        return rng.randint(-(10**20), 10**20) if rng.random() < 0.2 else rng.randint(-5, 5)
    if kind == 2:
        return rng.choice([0.5, -0.0, 1e300, 1.5e-7, 3.0, float(rng.randint(-9, 9)) / 7])
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return None
    if kind == 5:
        return _string(rng)
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_string(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _outcome(read, text: str) -> str:
    """The value as repr writes it (it tells True from 1 and 1.0, and keeps key order), or the exception's type."""
    try:
        return repr(read(text))
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e).__name__


def test_random_python_reprs_read_as_literal_eval_reads_them():
    rng = random.Random(0)
    texts = [repr(_value(rng)) for _ in range(3000)]
    translated = 0
    for text in texts:
        assert _outcome(python_literal, text) == _outcome(ast.literal_eval, text), text
        translated += as_json(text) is not None
    assert translated > 1500  # most go through JSON; the rest (e.g. numbers past 64 bits) fall back


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2,]",  # trailing comma: Python takes it, JSON does not
        "{'a': 1, 'a': 2, 'b': 3}",  # a repeated key: the last value, at the first key's place
        "('a', 1)",
        "{1, 2}",
        "{1: 'x'}",
        "'a' 'b'",
        "'''a'''",
        "u'x'",
        "b'x'",
        "r'\\n'",
        "[.5, 5., 1_000, 0x10, 1e5, -0, -0.0, +1, - 1, 1e999, 01]",
        "[True, False, None, Truex]",
        "['\\x41\\u00e9\\N{BULLET}', '\\q']",
        "['\\ud800']",
        "['a\rb']",
        "['a\\\nb']",
        "{'k': [None, {'x': 'True None False'}]}",
        "[1 2]",
        "['unterminated]",
        "[nan, inf, true, null]",
        "",
        "   ",
        "\n[1]",
        "[\n1,\t2\n]",
        "[" * 2000 + "]" * 2000,
        "[1e5, 1E-5, -3.25e+2]",
    ],
)
def test_edge_literals_read_or_fail_as_literal_eval_does(text):
    assert _outcome(python_literal, text) == _outcome(ast.literal_eval, text)


def test_a_toolbench_api_list_is_read_through_json():
    records = orjson.loads((FIXTURES / "toolbench_toolllama.json").read_bytes())
    system = next(t["value"] for r in records for t in r["conversations"] if t["from"] == "system")
    text = system[system.rfind(API_MARKER) + len(API_MARKER) :].strip()
    json_text = as_json(text)
    assert json_text is not None, "the translation fell back to ast.literal_eval"
    assert repr(orjson.loads(json_text)) == repr(ast.literal_eval(text))
