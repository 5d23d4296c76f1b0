"""Agent-H scoring: judge each response, then aggregate.

For samples whose truth is a plain answer: H_ReAct (share with ReAct keywords), H_General (share
with general tool-call phrases or a JSON tool call) and HScore = 0.5 * ((1 - H_ReAct) + (1 - H_General)).
For samples whose truth is a tool call: call-format validity, tool-name accuracy, hallucinated tool
names (calls to tools not offered) and argument validity (against the tool's JSON schema when it is
known, else "a JSON object"). Everything is also broken down per category.

Pure Python: works on any model's predictions file (`agentflan score`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from agentflan.evaluation.judges import has_general_call, has_react_keywords, json_tool_call, strip_code

EXPECTED = ("plain", "call")
_REACT_CALL = re.compile(r"^\s*Action:\s*(?P<name>[^\n]+?)\s*\n\s*Action Input:\s*(?P<args>.*)$", re.M | re.S)


class PredictionError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass
class Prediction:
    id: str
    category: str
    tools: list[str]
    expected: str
    response: str
    expected_tool: str | None = None
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # tool name -> JSON schema, when known

    @classmethod
    def from_dict(cls, d: Any) -> Prediction:
        if not isinstance(d, dict):
            raise PredictionError("line", "expected a JSON object")
        for key, typ in (("id", str), ("category", str), ("expected", str), ("response", str), ("tools", list)):
            if key not in d:
                raise PredictionError(key, "missing")
            if not isinstance(d[key], typ):
                raise PredictionError(key, f"expected {typ.__name__}, got {type(d[key]).__name__}")
        if d["expected"] not in EXPECTED:
            raise PredictionError("expected", f"{d['expected']!r} is not 'plain' or 'call'")
        if not all(isinstance(t, str) for t in d["tools"]):
            raise PredictionError("tools", "expected a list of tool names")
        if d["expected"] == "call" and not isinstance(d.get("expected_tool"), str):
            raise PredictionError("expected_tool", "required (a tool name) when expected is 'call'")
        return cls(d["id"], d["category"], d["tools"], d["expected"], d["response"], d.get("expected_tool"), d.get("schemas") or {})


def parse_call(text: str) -> tuple[str, Any] | None:
    """(tool name, arguments) from a ReAct step or a JSON tool call; arguments may fail to be an object."""
    body = strip_code(text)
    m = _REACT_CALL.search(body)
    if m:
        raw = m["args"].strip()
        try:
            args = json.loads(raw)
        except ValueError:
            args = raw
        return m["name"].strip(), args
    obj = json_tool_call(text)
    if obj is not None:
        name = obj.get("name") or obj.get("tool") or obj.get("function")
        args = obj.get("arguments", obj.get("parameters", obj.get("args")))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                pass
        return str(name), args
    return None


def arguments_valid(args: Any, schema: dict[str, Any] | None) -> bool:
    if not isinstance(args, dict):
        return False
    if not schema:
        return True
    import jsonschema

    try:
        jsonschema.validate(args, schema)
    except jsonschema.ValidationError:
        return False
    except jsonschema.SchemaError:
        return True  # a tool with a broken schema: only the object shape can be judged
    return True


def judge(p: Prediction) -> dict[str, Any]:
    """Per-sample verdicts."""
    if p.expected == "plain":
        return {"react": has_react_keywords(p.response), "general": has_general_call(p.response)}
    call = parse_call(p.response)
    if call is None:
        return {"format_valid": False, "tool_correct": False, "hallucinated": False, "args_valid": False}
    name, args = call
    return {
        "format_valid": True,
        "tool_correct": name == p.expected_tool,
        "hallucinated": name not in p.tools,
        "args_valid": name in p.tools and arguments_valid(args, p.schemas.get(name)),  # no schema for a hallucinated tool
        "called": name,
    }


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def aggregate(preds: list[Prediction], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    plain = [v for p, v in zip(preds, verdicts) if p.expected == "plain"]
    calls = [v for p, v in zip(preds, verdicts) if p.expected == "call"]
    h_react = _rate([v["react"] for v in plain])
    h_general = _rate([v["general"] for v in plain])
    out: dict[str, Any] = {
        "samples": len(preds),
        "plain_samples": len(plain),
        "call_samples": len(calls),
        "h_react": h_react,
        "h_general": h_general,
        "hscore": round(0.5 * ((1 - h_react) + (1 - h_general)), 4) if plain else None,
        "call_format_validity": _rate([v["format_valid"] for v in calls]),
        "tool_name_accuracy": _rate([v["tool_correct"] for v in calls]),
        "hallucinated_tool_rate": _rate([v["hallucinated"] for v in calls]),
        "argument_validity": _rate([v["args_valid"] for v in calls]),
    }
    return out


def score(preds: list[Prediction]) -> dict[str, Any]:
    verdicts = [judge(p) for p in preds]
    overall = aggregate(preds, verdicts)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(preds):
        groups[p.category].append(i)
    overall["per_category"] = {
        cat: {k: v for k, v in aggregate([preds[i] for i in idx], [verdicts[i] for i in idx]).items() if v is not None}
        for cat, idx in sorted(groups.items())
    }
    return overall
