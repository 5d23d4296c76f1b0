"""Agent-H scoring: judge each response, then aggregate.

In the `native` protocol a call is what the response parser (or an OpenAI-compatible server) returned as
`tool_calls`, structured: no pattern reads the text to find one. A `<tool_call>` region that did not parse
(`parse_error`) is an attempted call: a hallucination where none was due, a malformed call where one was.

For samples whose truth is a plain answer: H_ReAct (share with ReAct keywords or a ReAct step), H_General
(share with any other call or a general tool-call phrase; the two partition, see `judges`) and
HScore = 0.5 * ((1 - H_ReAct) + (1 - H_General)); over-refusal: the share of answerable ones (every
plain-expected category but "tool needed, none offered", where declining is right) answered with a refusal,
so a model that refuses everything cannot look good; fabrication: the share of "tool needed, none offered"
answered with the needed fact made up; plain quality: chrF against the sample's reference answer times the share of
the question's subject the answer names (0-1, 0 for degenerate text), so a model that answers nothing, gibberish, or
the reference's template about another subject, cannot look good either.
For samples whose truth is a tool call: call-format validity, tool-name accuracy, hallucinated tool
names (calls to tools not offered), argument validity (against the tool's JSON schema when it is
known, else "a JSON object") and, where the benchmark lists acceptable values (`expected_arguments`,
as BFCL does), argument accuracy by BFCL's rule. Tool-name accuracy comes with its chance level (one
offered tool picked at random). Everything is also broken down per category.
A sample that expects several calls in one turn (`expected_calls`, BFCL's parallel categories) is judged on every call
the answer makes, as BFCL's parallel checker judges it: the tools right when the calls name the expected tools as
many times each, the arguments right when each expected call is matched, in any order, by its own call with
acceptable arguments (as many calls as expected, no more).
Multi-step samples (the conversation already holds a call and its result) are scored by `multi_step_accuracy` alone:
the next turn is right when it makes the next needed call (`multi_step_next_call`: the right tool), or answers from
the results (`multi_step_answer`: no call, and every key value of the results stated; in the ReAct protocol its
`Final Answer:`); they are not in the single-turn rates above. A multi-step sample whose history is known is also
judged for fabrication (`multi_step_fabrication_rate`): a turn answered in text (no call) that states a number
neither the results, the calls nor the query hold, whether it was due to answer or to make the next call ("Hotel
Emperador, EUR 145 a night" in place of the hotel search).

Pure Python: works on any model's predictions file (`agentflan score`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agentflan.data.schema import SchemaError
from agentflan.evaluation.benchmark import MULTI_STEP, acceptable_values, expected_calls_from, history_from
from agentflan.evaluation.calls import find_calls, typed, whole_name_at
from agentflan.evaluation.judges import (
    declines,
    fabricates,
    first_json_value,
    names_a_tool,
    parse_call,
    plain_verdict,
    states,
)
from agentflan.evaluation.quality import plain_quality
from agentflan.evaluation.reasoning import answer
from agentflan.evaluation.sourced import unsourced_numbers

EXPECTED = ("plain", "call")
PROTOCOLS = ("native", "chat", "react", "json")  # the first one present is the primary
REFUSAL_EXPECTED = {"tool_needed_not_offered"}  # plain-expected categories where declining is the right answer


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
    expected_arguments: dict[str, list[Any]] | None = None  # per argument, its acceptable values
    protocol: str = "react"  # chat: `turns` holds the answers to the harness's turns; react/json: one answer
    turns: list[str] | None = None
    # native: the reply as parsed: its text, its calls ({"name", "arguments"}), or why a call region did not parse
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    parse_error: str | None = None
    query: str = ""  # what was asked (fabrication and plain quality read its subject)
    reference: str | None = None  # a plain sample's reference answer (plain quality: chrF against it, on subject)
    key_values: list[str] | None = None  # multi_step_answer: the results' values the answer must state
    expected_calls: list[dict[str, Any]] | None = None  # parallel: each call due, `{"name", "arguments"}`
    from_knowledge: bool = False  # tool_needed_not_offered answerable from knowledge: no fabrication judged
    # multi-step: the OpenAI messages after the query (the calls made, their results): what an answer may state
    history: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The predictions-file line: tools as full objects when their schemas are known."""
        tools = [{"name": n, "parameters": self.schemas[n]} if n in self.schemas else n for n in self.tools]
        row = {
            "id": self.id,
            "category": self.category,
            "tools": tools,
            "expected": self.expected,
            "expected_tool": self.expected_tool,
            "expected_arguments": self.expected_arguments,
            "response": self.response,
            "protocol": self.protocol,
            "query": self.query,
            "reference": self.reference,
        }
        if self.key_values is not None:
            row["key_values"] = self.key_values
        if self.expected_calls is not None:
            row["expected_calls"] = self.expected_calls
        if self.from_knowledge:
            row["from_knowledge"] = True
        if self.history is not None:
            row["history"] = self.history
        if self.protocol == "native":
            return {
                **row,
                "content": self.content if self.content is not None else self.response,
                "tool_calls": self.tool_calls or [],
                "parse_error": self.parse_error,
            }
        return {**row, "turns": self.turns or [self.response]}

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
        names, schemas = [], dict(d.get("schemas") or {})
        for i, t in enumerate(d["tools"]):
            if isinstance(t, str):
                names.append(t)
            elif isinstance(t, dict) and isinstance(t.get("name"), str):
                names.append(t["name"])
                if isinstance(t.get("parameters"), dict):
                    schemas[t["name"]] = t["parameters"]
            else:
                raise PredictionError(f"tools[{i}]", "expected a tool name or a tool object with a name")
        try:  # read as the benchmark reads its own samples
            expected_calls = expected_calls_from(d.get("expected_calls"), d["expected"])
            history = history_from(d.get("history"))
        except SchemaError as e:
            raise PredictionError(e.field, e.reason) from None
        if d["expected"] == "call" and not isinstance(d.get("expected_tool"), str) and expected_calls is None:
            raise PredictionError("expected_tool", "required (a tool name) when expected is 'call'")
        args = d.get("expected_arguments")
        if args is not None and not acceptable_values(args):
            raise PredictionError(
                "expected_arguments", "expected an object mapping each argument to a list of acceptable values"
            )
        # unnamed: native where the row logs structured calls (as an OpenAI-compatible API returns them), else text
        protocol = d.get("protocol", "native" if isinstance(d.get("tool_calls"), list) else "react")
        if protocol not in PROTOCOLS:
            raise PredictionError("protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
        turns = d.get("turns")
        if turns is not None and not (isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns)):
            raise PredictionError("turns", "expected a non-empty list of answers")
        calls = d.get("tool_calls")
        if protocol == "native":
            calls = calls or []
            if not isinstance(calls, list):
                raise PredictionError("tool_calls", "expected a list of calls")
            calls = [native_call(c, f"tool_calls[{i}]") for i, c in enumerate(calls)]
        for key in ("content", "parse_error", "query", "reference"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise PredictionError(key, f"expected str, got {type(d[key]).__name__}")
        keys = d.get("key_values")
        if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise PredictionError("key_values", "expected a list of texts")
        if not isinstance(d.get("from_knowledge", False), bool):
            raise PredictionError("from_knowledge", "expected true or false")
        return cls(
            d["id"],
            d["category"],
            names,
            d["expected"],
            d["response"],
            d.get("expected_tool"),
            schemas,
            args,
            protocol,
            turns,
            d.get("content"),
            calls if protocol == "native" else None,
            d.get("parse_error"),
            d.get("query") or "",
            d.get("reference"),
            keys,
            expected_calls,
            d.get("from_knowledge", False),
            history,
        )


def native_call(c: Any, where: str) -> dict[str, Any]:
    """A call as a predictions file or an OpenAI-compatible server gives it: `{"name", "arguments"}`, or the OpenAI
    shape `{"type": "function", "function": {...}}`; arguments as an object or a JSON string (kept as given when not
    JSON)."""
    if not isinstance(c, dict):
        raise PredictionError(where, "expected a call object")
    c = c.get("function", c) if isinstance(c.get("function"), dict) else c
    if not isinstance(c.get("name"), str):
        raise PredictionError(f"{where}.name", "missing or not text")
    args = c.get("arguments")
    if isinstance(args, str):
        args, ok = first_json_value(args) if args.strip() else ({}, True)
        args = args if ok else c["arguments"]
    return {"name": c["name"], "arguments": args}


_NO_TOOL = frozenset({"none", "no", "nothing", "null"})
_FINAL_ANSWER = re.compile(r"(?:^|\n)[ \t]*Final\s+Answer\s*:[ \t]*(.*)", re.S | re.I)  # a ReAct run's last step
_NEGATES = re.compile(r"\b(?:no|none|not|nothing|neither|never|without)\b|n't\b", re.I)
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.\-]*")


def _choice(turns: list[str], tools: list[str]) -> tuple[str | None, str]:
    """The chat protocol's tool choice and the answer that gives its arguments: an offered tool named as the whole
    first answer (the next answer gives them), else the first line of the answer to "Which tool will you call?"
    (the one after it gives them): a name (offered or made up), or a sentence's first offered tool; None when that
    line names no tool ("None", a refusal sentence); (None, "") when the harness asked nothing more."""
    first = names_a_tool(turns[0], tools) if turns else None
    if first:
        return first, turns[1] if len(turns) > 1 else ""
    if len(turns) < 2:
        return None, ""
    line = turns[1].strip().split("\n", 1)[0].strip()
    name = line.strip("`'\".:").removesuffix("()")
    if not (_IDENTIFIER.fullmatch(name) and name.lower() not in _NO_TOOL):  # not "None": a sentence
        name = _sentence_choice(line, tools)
    return name, turns[2] if len(turns) > 2 else ""


def _sentence_choice(line: str, tools: list[str]) -> str | None:
    """The offered tool a sentence answering "Which tool will you call?" names first ("I'll use get_weather.",
    "Tool: `get_weather`"); none where it negates ("I don't need get_weather", "None of them fits") or declines."""
    if _NEGATES.search(line) or declines(line):
        return None
    named = [(at, t) for t in tools if (at := whole_name_at(t, line)) is not None]
    return min(named)[1] if named else None


def chat_call(turns: list[str], tools: list[str]) -> tuple[str, Any] | None:
    """(name, arguments) from the chat protocol's answers: the tool choice, then the answer to "Give the arguments
    as JSON."; a lone first answer (the harness asked nothing more) counts only when it is itself a call, and a
    choice that names no tool (a refusal sentence, "None") is no call."""
    if len(turns) < 2:
        return parse_call(turns[0], tools) if turns else None
    name, given = _choice(turns, tools)
    if not name:
        return None
    args, ok = first_json_value(given)
    return name, args if ok else given.strip()


def chat_choice(turns: list[str], tools: list[str]) -> str | None:
    """The tool a chat-protocol answer chose, offered or not (a made-up tool is still a call); None when it chose
    none (no such question asked, or "None" answered)."""
    return _choice(turns, tools)[0]


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


def judge_native(p: Prediction) -> dict[str, Any]:
    """Verdicts from the structured reply: the first call decides, a parse error is an attempted call."""
    calls = p.tool_calls or []
    attempted = bool(calls) or p.parse_error is not None
    content = p.content if p.content is not None else p.response
    if p.expected == "plain":
        verdict = plain_verdict(content, p.tools)
        return plain_extras(
            p, content, {**verdict, "general": not verdict["react"] and (attempted or verdict["general"])}
        )
    if p.expected_calls is not None:
        return {
            **calls_verdict(p, [(c["name"], c["arguments"]) for c in calls]),
            "malformed": p.parse_error is not None,
        }
    if not calls:
        return {**missed(p), "malformed": p.parse_error is not None}
    return call_verdict(p, calls[0]["name"], calls[0]["arguments"])


def missed(p: Prediction) -> dict[str, Any]:
    """The verdicts on an answer that made no call where one was due."""
    verdict = {"format_valid": False, "tool_correct": False, "hallucinated": False, "args_valid": False}
    return verdict if p.expected_arguments is None and p.expected_calls is None else {**verdict, "args_correct": False}


def call_verdict(p: Prediction, name: str, args: Any) -> dict[str, Any]:
    """The verdicts on the call an answer made, whichever protocol found it."""
    verdict = {
        "format_valid": isinstance(args, dict),  # a tool named and its arguments a JSON object
        "tool_correct": name == p.expected_tool,
        "hallucinated": name not in p.tools,
        "args_valid": name in p.tools
        and arguments_valid(args, p.schemas.get(name)),  # no schema for a hallucinated tool
        "called": name,
    }
    if p.expected_arguments is not None:
        verdict["args_correct"] = name == p.expected_tool and arguments_correct(args, p.expected_arguments)
    return verdict


def calls_verdict(p: Prediction, calls: list[tuple[str, Any]]) -> dict[str, Any]:
    """The verdicts on every call an answer made where several were due (`expected_calls`): each verdict holds for
    all the calls; the tools right when they are the expected ones, as many times each; the arguments right when the
    expected calls and the calls match one to one (BFCL's parallel checker, in any order)."""
    if not calls:
        return missed(p)
    names = [name for name, _ in calls]
    return {
        "format_valid": all(isinstance(args, dict) for _, args in calls),
        "tool_correct": sorted(names) == sorted(c["name"] for c in p.expected_calls or ()),
        "hallucinated": any(name not in p.tools for name in names),
        "args_valid": all(name in p.tools and arguments_valid(args, p.schemas.get(name)) for name, args in calls),
        "called": names,
        "args_correct": calls_match(calls, p.expected_calls or []),
    }


def calls_match(calls: list[tuple[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """As many calls as expected, and a one-to-one matching of the two in which each call names its expected call's
    tool with arguments its acceptable values allow (BFCL's parallel rule, order-free; a full matching, so a call that
    two expected calls would accept cannot hide the other's match)."""
    if len(calls) != len(expected):
        return False
    fits = [
        [j for j, (name, args) in enumerate(calls) if name == e["name"] and arguments_correct(args, e["arguments"])]
        for e in expected
    ]
    taken: dict[int, int] = {}  # call -> the expected call it serves

    def place(i: int, seen: set[int]) -> bool:  # Kuhn's augmenting path
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in taken or place(taken[j], seen):
                    taken[j] = i
                    return True
        return False

    return all(place(i, set()) for i in range(len(expected)))


def plain_extras(p: Prediction, answer: str, verdict: dict[str, Any]) -> dict[str, Any]:
    """A plain verdict with what only some samples have: fabrication where the needed tool is missing (and the fact
    is not one a model can know: `from_knowledge`), quality where a reference answer exists."""
    if p.category in REFUSAL_EXPECTED and not p.from_knowledge:
        verdict["fabricated"] = not (verdict["react"] or verdict["general"]) and fabricates(answer, p.query)
    if p.reference is not None:
        verdict["quality"] = plain_quality(answer, p.reference, p.query)
    return verdict


def next_turn(p: Prediction, verdict: dict[str, Any]) -> dict[str, Any]:
    """A multi-step sample's verdict with `next_turn_right`: the next needed call made (the right tool), or an answer
    from the results (no call, no ReAct, every key value stated; in the ReAct protocol its `Final Answer:`, the way a
    ReAct run ends); and where the history is known, `fabricated`: a turn that answers in text (no call, none
    attempted) and states a number neither the results, the calls nor the query hold (`unsourced_numbers`), whether
    the next turn was to answer or to make the next call."""
    answer = p.content if p.protocol == "native" and p.content is not None else (p.turns or [p.response])[0]
    final = _FINAL_ANSWER.search(answer) if p.protocol == "react" and "called" not in verdict else None
    if final and find_calls(answer[: final.start()], p.tools):
        final = None  # a step taken before it: a call, not the run's end
    if final:
        answer = final[1].strip()
    said = plain_verdict(answer, p.tools) if final or p.expected == "call" else verdict
    plain = "called" not in verdict and not verdict.get("malformed") and not (said["react"] or said["general"])
    if p.expected == "call":
        verdict = {**verdict, "next_turn_right": bool(verdict["tool_correct"])}
    else:
        verdict = {**verdict, "next_turn_right": plain and all(states(answer, v) for v in p.key_values or ())}
    if p.history is not None:
        verdict["fabricated"] = plain and bool(unsourced_numbers(answer, [p.query, *history_texts(p.history)]))
    return verdict


def history_texts(history: list[dict[str, Any]]) -> list[str]:
    """The texts of a multi-step history as `benchmark.history_from` reads it: each message's content and each call's
    arguments."""
    out = []
    for m in history:
        out += [m["content"]] if m["content"] else []
        out += [json.dumps(c["function"]["arguments"]) for c in m.get("tool_calls", [])]
    return out


def judge(p: Prediction) -> dict[str, Any]:
    """Per-sample verdicts, on what the model answered (a reasoning model's thinking set aside: `reasoning.answer`)."""
    p = dataclasses.replace(
        p,
        response=answer(p.response),
        turns=None if p.turns is None else [answer(t) for t in p.turns],
        content=None if p.content is None else answer(p.content),
    )
    verdict = _judge(p)
    return next_turn(p, verdict) if p.category in MULTI_STEP else verdict


def _judge(p: Prediction) -> dict[str, Any]:
    if p.protocol == "native":
        return judge_native(p)
    turns = p.turns or [p.response]
    if p.expected == "plain":
        answer = turns[0]
        verdict = plain_verdict(answer, p.tools)
        if p.protocol == "chat" and not verdict["react"]:
            verdict["general"] = verdict["general"] or chat_choice(turns, p.tools) is not None
        return plain_extras(p, answer, verdict)
    if p.protocol == "chat":  # the harness asks for one call
        call = chat_call(turns, p.tools)
        calls = [call] if call else []
    else:
        calls = [(c.name, c.arguments) for c in find_calls(p.response, p.tools)]
    calls = [(name, typed(args, p.schemas.get(name))) for name, args in calls]  # text parameters read by the schema
    if p.expected_calls is not None:
        return calls_verdict(p, calls)
    return call_verdict(p, *calls[0]) if calls else missed(p)


def _rate(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _flag(key: str) -> Callable[[dict[str, Any]], float]:
    return lambda v: float(bool(v[key]))


def _where_defined(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda v: float(v[key]) if key in v else None


def _plain(expected: str, category: str) -> bool:
    return expected == "plain" and category not in MULTI_STEP


def _call(expected: str, category: str) -> bool:
    return expected == "call" and category not in MULTI_STEP


def _call_in(wanted: str) -> Callable[[str, str], bool]:
    return lambda expected, category: expected == "call" and category == wanted


# metric -> (the samples it is defined on, by (expected, category); the value one sample's verdict gives it, None
# where undefined): every rate `aggregate` reports is the mean over its samples, so a difference of two models'
# rates is the mean of their paired per-sample differences (`per_sample`, `agentflan experiments table`)
SAMPLE_METRICS: dict[str, tuple[Callable[[str, str], bool], Callable[[dict[str, Any]], float | None]]] = {
    "h_react": (_plain, _flag("react")),
    "h_general": (_plain, _flag("general")),
    "hscore": (_plain, lambda v: 1 - 0.5 * (bool(v["react"]) + bool(v["general"]))),
    "over_refusal_rate": (lambda e, c: _plain(e, c) and c not in REFUSAL_EXPECTED, _flag("refusal")),
    "fabrication_rate": (_plain, _where_defined("fabricated")),
    "plain_quality": (_plain, _where_defined("quality")),
    "call_format_validity": (_call, _flag("format_valid")),
    "tool_name_accuracy": (_call, _flag("tool_correct")),
    "tool_name_accuracy_seen": (_call_in("tool_needed_offered_seen"), _flag("tool_correct")),
    "tool_name_accuracy_unseen": (_call_in("tool_needed_offered_unseen"), _flag("tool_correct")),
    "hallucinated_tool_rate": (_call, _flag("hallucinated")),
    "argument_validity": (_call, _flag("args_valid")),
    "argument_accuracy": (_call, _where_defined("args_correct")),
    "multi_step_accuracy": (lambda e, c: c in MULTI_STEP, _flag("next_turn_right")),
    "multi_step_fabrication_rate": (lambda e, c: c in MULTI_STEP, _where_defined("fabricated")),
}
_SCOPED = ("tool_name_accuracy_seen", "tool_name_accuracy_unseen")  # one category each: `per_category` has them


def sample_value(metric: str, expected: str, category: str, verdict: dict[str, Any]) -> float | None:
    """One sample's value of `metric` (None where the metric is not defined on it)."""
    where, value = SAMPLE_METRICS[metric]
    return value(verdict) if where(expected, category) else None


def per_sample(rows: Iterable[dict[str, Any]], metric: str, protocol: str) -> dict[str, float]:
    """Sample id -> its value of `metric` in `protocol`, from rows of predictions.jsonl (each with its verdict)."""
    out = {}
    for r in rows:
        if r.get("protocol", "react") == protocol:
            v = sample_value(metric, r.get("expected", ""), r.get("category", ""), r["verdict"])
            if v is not None:
                out[r["id"]] = v
    return out


def aggregate(preds: list[Prediction], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    offered = [len(p.tools) for p in preds if _call(p.expected, p.category)]
    rates = {
        m: _rate([x for p, v in zip(preds, verdicts) if (x := sample_value(m, p.expected, p.category, v)) is not None])
        for m in SAMPLE_METRICS
        if m not in _SCOPED
    }
    return {
        "samples": len(preds),
        "plain_samples": sum(_plain(p.expected, p.category) for p in preds),
        "call_samples": len(offered),
        **rates,
        "tool_name_accuracy_chance": _rate([1 / n if n else 0.0 for n in offered]),  # one offered tool at random
    }


def answer_rows(preds: list[Prediction], verdicts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every answer beside its verdicts, a row each (`mlflow.log_table`, the report): what each score was given for."""
    return [
        {
            "id": p.id,
            "protocol": p.protocol,
            "category": p.category,
            "expected": p.expected,
            "query": p.query,
            "answer": p.content
            if p.protocol == "native" and p.content is not None
            else "\n---\n".join(p.turns or [p.response]),
            "tool_calls": json.dumps(p.tool_calls or [], ensure_ascii=False),
            "expected_tool": p.expected_tool or ", ".join(c["name"] for c in p.expected_calls or ()),
            "reference": p.reference or "",
            "verdict": json.dumps(v, ensure_ascii=False, default=str),
        }
        for p, v in zip(preds, verdicts)
    ]


def _protocol_metrics(preds: list[Prediction], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    out = aggregate(preds, verdicts)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(preds):
        groups[p.category].append(i)
    out["per_category"] = {
        cat: {k: v for k, v in aggregate([preds[i] for i in idx], [verdicts[i] for i in idx]).items() if v is not None}
        for cat, idx in sorted(groups.items())
    }
    for scope in ("seen", "unseen"):
        for metric in ("tool_name_accuracy", "tool_name_accuracy_chance"):
            name = metric.replace("tool_name_accuracy", f"tool_name_accuracy_{scope}")
            out[name] = out["per_category"].get(f"tool_needed_offered_{scope}", {}).get(metric)
    return out


def score(preds: list[Prediction], verdicts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Metrics per protocol (`by_protocol`); the top level holds the primary's (the first of `PROTOCOLS` present).
    `verdicts`: each prediction's `judge`, where the caller has them already."""
    verdicts = verdicts if verdicts is not None else [judge(p) for p in preds]
    by_protocol = {}
    for protocol in PROTOCOLS:
        idx = [i for i, p in enumerate(preds) if p.protocol == protocol]
        if idx:
            by_protocol[protocol] = _protocol_metrics([preds[i] for i in idx], [verdicts[i] for i in idx])
    primary = next(iter(by_protocol), None)
    return {**(by_protocol[primary] if primary else {}), "protocol": primary, "by_protocol": by_protocol}


# --- argument accuracy: BFCL's rule ------------------------------------------------------------------
_PUNCT = re.compile(r"[ ,./\-_*^]")


def _standard(text: str) -> str:
    """Strings compared as BFCL compares them: no spaces or ,./-_*^, lower case, single quotes as double."""
    return _PUNCT.sub("", text).lower().replace("'", '"')


def value_matches(value: Any, acceptable: Any) -> bool:
    """One given value against one acceptable value (strings standardised, an int where a float is
    acceptable, lists element by element, objects key by key with BFCL's per-key lists)."""
    if isinstance(acceptable, bool) or isinstance(value, bool):
        return isinstance(acceptable, bool) and isinstance(value, bool) and value is acceptable
    if isinstance(acceptable, (int, float)):
        return isinstance(value, (int, float)) and value == acceptable
    if isinstance(acceptable, str):
        return isinstance(value, str) and _standard(value) == _standard(acceptable)
    if isinstance(acceptable, list):
        return isinstance(value, list) and len(value) == len(acceptable) and all(map(value_matches, value, acceptable))
    if isinstance(acceptable, dict):
        if not isinstance(value, dict) or set(value) - set(acceptable):
            return False
        return all(
            (k in value and any(value_matches(value[k], a) for a in options)) or (k not in value and "" in options)
            for k, options in acceptable.items()
            if isinstance(options, list)
        )
    return value == acceptable


def arguments_correct(args: Any, expected: dict[str, list[Any]]) -> bool:
    """BFCL's rule: every given argument is expected and among its acceptable values; one left out must
    list "" (optional) among them."""
    if not isinstance(args, dict) or set(args) - set(expected):
        return False
    for name, options in expected.items():
        if name in args:
            if not any(value_matches(args[name], o) for o in options if o != "" or args[name] == ""):
                return False
        elif "" not in options:
            return False
    return True


def bootstrap_mean(values: list[float], samples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """The mean of per-sample values and its 95% percentile-bootstrap interval (`scipy.stats.bootstrap`, seeded)."""
    import numpy as np
    from scipy.stats import bootstrap

    d = np.asarray(values, dtype=float)
    if d.size == 0:
        return 0.0, 0.0, 0.0
    if np.all(d == d[0]):  # every resample has the same mean (scipy would warn that the data are degenerate)
        return float(d[0]), float(d[0]), float(d[0])
    ci = bootstrap(
        (d,),
        np.mean,
        n_resamples=samples,
        confidence_level=0.95,
        method="percentile",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    return float(d.mean()), float(ci.low), float(ci.high)


def category_metric(category: str, expected: str) -> str:
    """The one figure a category is shown by: multi-step accuracy, HScore where a plain answer is expected, else
    tool-name accuracy."""
    if category in MULTI_STEP:
        return "multi_step_accuracy"
    return "hscore" if expected == "plain" else "tool_name_accuracy"


def category_intervals(
    preds: list[Prediction], verdicts: list[dict[str, Any]] | None = None, samples: int = 1000, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per category of the primary protocol: its figure (`category_metric`), with a 95% percentile-bootstrap interval
    over the category's samples (seeded). `verdicts`: each prediction's `judge`, where the caller has them."""
    verdicts = verdicts if verdicts is not None else [judge(p) for p in preds]
    primary = next((p for p in PROTOCOLS if any(x.protocol == p for x in preds)), None)
    groups: dict[str, list[tuple[Prediction, dict[str, Any]]]] = defaultdict(list)
    for p, v in zip(preds, verdicts):
        if p.protocol == primary:
            groups[p.category].append((p, v))
    out = {}
    for category, members in sorted(groups.items()):
        metric = category_metric(category, members[0][0].expected)
        values = [x for p, v in members if (x := sample_value(metric, p.expected, p.category, v)) is not None]
        mean, low, high = bootstrap_mean(values, samples, seed)
        out[category] = {
            "metric": metric,
            "value": round(mean, 4),
            "samples": len(members),
            "low": low,
            "high": high,
        }
    return out
