"""xLAM / APIGen function-calling rows (Salesforce/xlam-function-calling-60k): `{"id", "query", "answers", "tools"}`,
`answers` and `tools` as JSON strings.

`answers` is the list of calls that answers the query (several: parallel calls), with no thought, no tool result and
no final answer, so a row is a query and one assistant message of calls; `tools` lists the functions with xLAM's
parameter mapping (`{"name": {"type": "str", "description", "default"}}`, types like "List[int]" or "str, optional"),
converted to a JSON schema (a parameter with a default, or marked optional, is not required).
"""

from __future__ import annotations

from typing import Any

from agentflan.data.formats.base import RecordError, record_id
from agentflan.data.formats.calls import call_from_any, literal, parse_tools
from agentflan.data.formats.messages import Msg, build


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and "query" in record and "answers" in record and "tools" in record


def parse(record: Any, source: str, index: int):
    if not isinstance(record, dict):
        raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RecordError("query", "missing or empty")
    tools = parse_tools(record.get("tools"), "tools")
    answers = literal(record.get("answers"), "answers", "answers")
    if answers is None:
        answers = []
    if not isinstance(answers, list):
        raise RecordError("answers", f"expected a list of calls, got {type(answers).__name__}")
    if not answers:
        raise RecordError("answers", "no call and no answer text: nothing to learn")
    calls = [call_from_any(a, f"answers[{i}]") for i, a in enumerate(answers)]
    rid = record_id(record, str(index))
    rid = f"{source}_{rid}" if rid.isdigit() else rid  # xLAM numbers its rows from 0 in every file
    return build(rid, source, [Msg("user", query), Msg("assistant", "", calls)], tools, "answers")
