"""The numbers an answer states after tool results that none of its sources holds: the multi-step fabrication judge.

A multi-step turn's sources are what the model was given before it answered: the tool results, the calls that fetched
them and the user's query. A number the answer states is held where a source gives it as people write it (the same rules
`judges.states` reads a key value by): rounded to the decimals the answer writes ("876.5" or "876" of 876.48, not "877"
or "5" of 4.6: a rounding keeps two significant digits or a decimal, "0.8" of 0.84), without leading zeros ("5" of
"2024-03-05"), a time on a 12-hour clock ("2:30" or "2 PM" of 14:30), a count of the items a result lists, named as its
items or results ("3 hotels", "2 options"; not "serves 2"); or computed from two values of the sources (a total of a
price and nights, a difference) or converted as people convert without a tool (Celsius and Fahrenheit, kilometres and
miles, kilograms and pounds). Every other number is made up: "It is 15:35 in Toronto" after a result of 10:20 in Delhi,
"rated 4.6" where no result gave a rating. A list's own numbering ("1. ", "2) " opening a line), a place in a result's
list ("the 2nd"), a rating's scale ("7.9/10"), "24/7" and code fences are no statements. Time arithmetic (a time in
another zone) and durations in other units (hours of minutes) are not followed: such an answer is judged made up.
"""

from __future__ import annotations

import decimal
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from agentflan.evaluation.judges import _DIGITS, _outside

_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # its parts are held, but are no operands
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*][ \t]+)?\d{1,2}[.)][ \t]", re.M)
_SCALE = re.compile(r"(?<=\d)\s*(?:/|out of)\s*(?:5|10|100)\b")  # "7.9/10", "4.5 out of 5": a rating's scale
_IDIOM = re.compile(r"\b24/7\b")  # "open 24/7": always, no figure
_ORDINAL = re.compile(r"(?:st|nd|rd|th)\b")  # after digits: "the 2nd hotel", a place in a result's list
_KM_MI, _KG_LB, _NINE_FIFTHS = decimal.Decimal("0.621371"), decimal.Decimal("2.20462"), decimal.Decimal("1.8")
# conversions people make without a tool, each held only for a number the answer writes in its unit: Celsius and
# Fahrenheit, kilometres and miles, kilograms and pounds (any of them for any number would hold too many numbers)
CONVERSIONS = (
    (re.compile(r"\s*(?:°\s*F\b|F\b|degrees? f|fahrenheit)", re.I), lambda v: v * _NINE_FIFTHS + 32),
    (re.compile(r"\s*(?:°\s*C\b|C\b|degrees? c|celsius)", re.I), lambda v: (v - 32) / _NINE_FIFTHS),
    (re.compile(r"\s*(?:mi\b|miles?\b)", re.I), lambda v: v * _KM_MI),
    (re.compile(r"\s*(?:km\b|kilomet)", re.I), lambda v: v / _KM_MI),
    (re.compile(r"\s*(?:lbs?\b|pounds?\b)", re.I), lambda v: v * _KG_LB),
    (re.compile(r"\s*(?:kg\b|kilo)", re.I), lambda v: v / _KG_LB),
)
# what a count of listed items is called beside the list's own key: "2 options", "3 results"
ITEMS = frozenset(
    "result option item one choice match entry pick place spot story article headline listing hit suggestion".split()
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z-]*")
OPERANDS = 40  # above this many values in the sources, nothing computed from two of them is held (the pairs would
# hold almost any number)


def unsourced_numbers(text: str, sources: Iterable[str]) -> list[str]:
    """The numbers `text` states that none of `sources` holds (see the module's rules), as the answer writes them."""
    held = Held(sources)
    body = _IDIOM.sub(" ", _SCALE.sub(" ", _LIST_MARKER.sub(" ", _outside(text))))
    return [m[0] for m in _DIGITS.finditer(body) if not held.holds(m[0], body[m.end() : m.end() + 40])]


class Held:
    """What a multi-step answer's sources hold: times, values (as given), the lengths of the lists they hold (and what
    their items are called) and what is computed or converted from their values."""

    def __init__(self, sources: Iterable[str]):
        self.times: set[tuple[int, tuple[str, ...]]] = set()
        self.texts: set[str] = set()
        self.given: set[decimal.Decimal] = set()
        operands: set[decimal.Decimal] = set()
        self.counts: dict[int, set[str]] = {}  # a list's length -> what its items may be called ("3 hotels")
        for source in sources:
            for length, key in _counts(source):
                self.counts.setdefault(length, set(ITEMS)).update([_singular(key)] if key else [])
            dates = " ".join(m[0] for m in _DATE.finditer(source))
            for part, operand in ((_DATE.sub(" ", source), True), (dates, False)):
                for token in _DIGITS.findall(part):
                    for kind, key in _read(token):
                        if kind == "time":
                            self.times.add(key)
                        elif kind == "text":
                            self.texts.add(key)
                        else:
                            self.given.add(key[0])
                            if operand and ":" not in token:
                                operands.add(key[0])
        self.operands = operands
        self.computed: set[decimal.Decimal] = set()
        if len(operands) <= OPERANDS:
            for a, b in itertools.combinations(operands, 2):
                self.computed.update((a + b, a - b, b - a, a * b))
                self.computed.update(x / y for x, y in ((a, b), (b, a)) if y)

    def holds(self, token: str, after: str = "") -> bool:
        """The answer's run of digits (`after`: the text that follows it, where a unit would be) is held: a time as
        the whole time, else each number it holds."""
        # "the 2nd": a place in the longest list a result holds
        if _ORDINAL.match(after) and token.isdigit() and 1 <= int(token) <= max(self.counts, default=0):
            return True
        if token.isdigit() and int(token) in self.counts:  # a count of what a result lists, named as such
            if any(_singular(w) in self.counts[int(token)] for w in _WORDS.findall(after)[:4]):
                return True
        forms = _read(token)
        times = [key for kind, key in forms if kind == "time"]
        if times:
            return times[-1] in self.times
        converted = {convert(v) for unit, convert in CONVERSIONS if unit.match(after) for v in self.operands}
        return all(self._number(*key, converted) if kind == "number" else key in self.texts for kind, key in forms)

    def _number(self, value: decimal.Decimal, places: int, converted: set[decimal.Decimal]) -> bool:
        if value in self.given or value in self.computed:
            return True
        digits = len(value.as_tuple().digits)  # significant: "5" of 4.6 or "2" of 1.6 would round too many values
        quantum = decimal.Decimal(1).scaleb(-places)

        def rounded(values: set[decimal.Decimal], down: bool = False) -> bool:
            return any(
                v.quantize(quantum, decimal.ROUND_HALF_UP) == value
                or (down and v.quantize(quantum, decimal.ROUND_DOWN) == value)
                for v in values
            )

        # a value given, rounded or cut to two digits or more, or to one decimal ("0.8" of 0.84); one converted or
        # computed from two values, rounded so
        return (digits >= 2 or places >= 1) and (
            rounded(self.given, down=True) or rounded(converted) or rounded(self.computed)
        )


def _read(token: str) -> list[tuple[str, Any]]:
    """What a run of digits (`judges._DIGITS`) says: a time as ("time", (hour on a 12-hour clock, the rest)), each of
    its shorter forms too ("16:00" of "16:00:00"), and its hour as a number, both ways ("18" and "6" of "18:00");
    else each number it holds as ("number", (value, decimals)): "1,234.50" is one, "1,2,3" three; what is no number
    ("1.2.3") as ("text", itself)."""
    if ":" in token:
        parts = token.split(":")
        hour = int(parts[0])
        times = [("time", (hour % 12, tuple(parts[1:i]))) for i in range(2, len(parts) + 1)]
        return times + [("number", (decimal.Decimal(h), 0)) for h in {hour, hour % 12 or 12}]
    pieces = [token.replace(",", "")] if _THOUSANDS.fullmatch(token) else token.split(",")
    out: list[tuple[str, Any]] = []
    for piece in pieces:
        try:
            value = decimal.Decimal(piece)
        except decimal.InvalidOperation:  # "494.8.8.7": held only where a source writes it so
            out.append(("text", piece))
        else:
            out.append(("number", (value, -value.as_tuple().exponent if "." in piece else 0)))
    return out


def _counts(source: str, depth: int = 3) -> Iterator[tuple[int, str]]:
    """How many items each list of a JSON source holds, with the key that holds it ("" for none; a JSON text inside
    it read too, as ToolBench wraps a result: `{"error": "", "response": "{...}"}`)."""
    try:
        value = json.loads(source)
    except ValueError:
        return
    stack = [(value, depth, "")]
    while stack:
        value, left, key = stack.pop()
        if isinstance(value, list):
            yield len(value), key
            stack.extend((v, left, key) for v in value)
        elif isinstance(value, dict):
            stack.extend((v, left, k) for k, v in value.items())
        elif isinstance(value, str) and left and value.lstrip()[:1] in ("{", "["):
            yield from _counts(value, left - 1)


def _singular(word: str) -> str:
    word = word.lower()
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") else word
