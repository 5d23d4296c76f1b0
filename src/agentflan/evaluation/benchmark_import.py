"""Third-party benchmarks into our benchmark schema: BFCL (v3/v4 JSON lines) and Agent-H JSONL files.

BFCL (the Berkeley Function Calling Leaderboard) lists one test per line: `id`, `question` (a list of
turns, each a list of `{role, content}` messages) and `function` (the functions offered, with BFCL's
parameter types: dict, float, tuple, any, ...). Its possible-answer files give, per id, the acceptable
values of each argument (`ground_truth: [{name: {arg: [values]}}]`). Imported here:
- `irrelevance`, `live_irrelevance`: a plain answer expected, with those functions offered;
- `simple*`, `multiple`, `live_simple`, `live_multiple`: a call expected, the tool and the acceptable
  argument values from the possible answer;
- `parallel`, `parallel_multiple`, `live_parallel`, `live_parallel_multiple`: several calls expected in one turn
  (`tool_needed_parallel`), every call of the possible answer with its acceptable values, matched in any order.
Other categories (multi-turn, ...) and malformed lines are rejected with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentflan.data.formats.calls import PYTHON_TYPES
from agentflan.data.jsonio import InputError, iter_raw
from agentflan.data.schema import SchemaError, Tool
from agentflan.evaluation.benchmark import PARALLEL, Sample, acceptable_values

_FILE_NAME = re.compile(r"^BFCL_v\d+_(?P<category>[a-z_]+)\.jsonl?$")
PLAIN_CATEGORIES = {"irrelevance", "live_irrelevance"}
CALL_CATEGORIES = {
    "simple",
    "simple_python",
    "simple_java",
    "simple_javascript",
    "java",
    "javascript",
    "multiple",
    "live_simple",
    "live_multiple",
}
PARALLEL_CATEGORIES = {"parallel", "parallel_multiple", "live_parallel", "live_parallel_multiple"}


@dataclass
class Rejected:
    """One line that could not be imported: which file and line, which field, and why."""

    file: str
    line: int
    id: str
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "id": self.id, "field": self.field, "reason": self.reason}


class Skip(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def json_schema(bfcl: Any) -> dict[str, Any]:
    """A BFCL parameter description as JSON Schema (`dict` -> object, `float` -> number, `any` -> no type)."""
    if not isinstance(bfcl, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in bfcl.items():
        if key == "type":
            mapped = PYTHON_TYPES.get(str(value).lower())
            if mapped:
                out["type"] = mapped
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: json_schema(v) for k, v in value.items()}
        elif key == "items":
            out["items"] = json_schema(value)
        elif key in ("required", "enum", "description", "default"):
            out[key] = value
    return out


def category_of(test_id: str, path: str = "") -> str:
    """BFCL's category: from the file name as BFCL names its files (`BFCL_v3_simple.json` -> `simple`; v1's
    irrelevance file numbers its tests `relevance_N`), else from the id (`live_simple_0-0-0` -> `live_simple`)."""
    named = _FILE_NAME.match(Path(path).name)
    if named:
        return named["category"]
    return test_id.rsplit("_", 1)[0] if "_" in test_id else test_id


def _tool(fn: Any, where: str) -> Tool:
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise Skip(where, "a function needs a name")
    schema = json_schema(fn.get("parameters") or {})
    schema.setdefault("type", "object")
    return Tool(fn["name"], str(fn.get("description", "")), schema)


def _query(question: Any) -> str:
    if not isinstance(question, list) or not question:
        raise Skip("question", "expected a list of turns")
    if len(question) > 1:
        raise Skip("question", "multi-turn tests are not imported")
    turn = question[0] if isinstance(question[0], list) else question  # v1 files hold one flat list
    users = [m.get("content") for m in turn if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1], str) or not users[-1].strip():
        raise Skip("question", "no user message")
    return users[-1]


def bfcl_sample(record: Any, answers: dict[str, Any], path: str = "") -> Sample:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise Skip("id", "missing or not text")
    category = category_of(record["id"], path)
    if category not in PLAIN_CATEGORIES | CALL_CATEGORIES | PARALLEL_CATEGORIES:
        raise Skip("id", f"BFCL category {category!r} is not imported (irrelevance, simple, multiple and parallel are)")
    query = _query(record.get("question"))
    functions = record.get("function")
    functions = [functions] if isinstance(functions, dict) else functions
    if not isinstance(functions, list) or not functions:
        raise Skip("function", "expected a list of functions")
    tools = [_tool(fn, f"function[{i}]") for i, fn in enumerate(functions)]
    if category in PLAIN_CATEGORIES:
        return Sample(record["id"], "plain_tools_offered", "action", query, tools, "plain")
    truth = answers.get(record["id"])
    if truth is None:
        raise Skip("id", "no possible answer for this id (give the possible-answer file with --answers)")
    calls = expected_calls(truth.get("ground_truth") if isinstance(truth, dict) else None, tools)
    if category in PARALLEL_CATEGORIES:
        return Sample(record["id"], PARALLEL, "action", query, tools, "call", expected_calls=calls)
    if len(calls) != 1:
        raise Skip("ground_truth", f"expected exactly one call, the possible answer has {len(calls)}")
    name, arguments = calls[0]["name"], calls[0]["arguments"]
    return Sample(record["id"], "tool_needed_offered_unseen", "action", query, tools, "call", name, arguments)


def expected_calls(ground: Any, tools: list[Tool]) -> list[dict[str, Any]]:
    """A possible answer's `ground_truth` (`[{name: {argument: [acceptable values]}}, ...]`) as our expected calls."""
    if not isinstance(ground, list) or not ground:
        raise Skip("ground_truth", "expected a list of calls")
    offered = {t.name for t in tools}
    calls = []
    for i, call in enumerate(ground):
        if not isinstance(call, dict) or len(call) != 1:
            raise Skip(f"ground_truth[{i}]", "expected one function name mapped to its arguments")
        ((name, arguments),) = call.items()
        if not acceptable_values(arguments):
            raise Skip(f"ground_truth[{i}]", "expected each argument's acceptable values as a list")
        if name not in offered:
            raise Skip(f"ground_truth[{i}]", f"the answer calls {name!r}, which the test does not offer")
        calls.append({"name": name, "arguments": arguments})
    return calls


def read_answers(paths: Iterable[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for path in paths:
        for raw in iter_raw(path):
            if raw.error:
                raise InputError(f"{path}: {raw.error}")
            if isinstance(raw.data, dict) and isinstance(raw.data.get("id"), str):
                answers[raw.data["id"]] = raw.data
    return answers


def import_files(paths: Iterable[str], fmt: str, answers: dict[str, Any], rejected: list[Rejected]) -> Iterator[Sample]:
    """Samples of every importable line; the others go to `rejected` with file, line, field and reason."""
    ids: set[str] = set()
    for path in paths:
        records = shaped = multi_turn = 0  # lines read, those with BFCL's fields, those of its multi-turn files
        for raw in iter_raw(path):
            rid = str(raw.data.get("id", "")) if isinstance(raw.data, dict) else ""
            records += 1
            shaped += isinstance(raw.data, dict) and {"question", "function"} <= raw.data.keys()
            multi_turn += isinstance(raw.data, dict) and bool({"involved_classes", "initial_config"} & raw.data.keys())
            if raw.error:
                rejected.append(Rejected(str(path), raw.index + 1, rid, "line", raw.error))
                continue
            try:
                sample = bfcl_sample(raw.data, answers, str(path)) if fmt == "bfcl" else Sample.from_dict(raw.data)
                if sample.id in ids:
                    raise Skip("id", "duplicate id")
            except Skip as e:
                rejected.append(Rejected(str(path), raw.index + 1, rid, e.field, e.reason))
                continue
            except SchemaError as e:
                rejected.append(Rejected(str(path), raw.index + 1, rid, e.field, e.reason))
                continue
            ids.add(sample.id)
            yield sample
        if fmt == "bfcl" and records and not shaped and multi_turn:
            raise InputError(
                f"{path}: a BFCL multi-turn file ('involved_classes', 'initial_config'): not imported, its functions "
                "run in BFCL's own Python classes, which this benchmark does not execute; import the single-turn "
                "categories (simple, multiple, parallel, parallel_multiple, irrelevance, live_*)"
            )
        if fmt == "bfcl" and records and not shaped:
            raise InputError(
                f"{path}: not a BFCL file: none of its {records} lines has BFCL's 'question' and 'function'"
            )
