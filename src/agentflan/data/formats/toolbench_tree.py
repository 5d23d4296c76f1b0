"""ToolBench answer files (`data/answer/G*_answer/<id>_DFS_woFilter_w2.json`), what `preprocess_toolllama_data.py`
reads: `{"answer_generation": {"valid_data", "query", "function", "final_answer", "train_messages": [[message, ...],
...]}, "compare_candidates"?, "tree"?, ...}`.

`train_messages` holds the messages of the path the depth-first search took to its answer (OpenAI messages:
system, user, assistant with its thought as content and its call as `function_call` `{"name", "arguments": JSON
string}`, or `tool_calls`; `function`/`tool` results naming the tool), one growing list per step; the longest is the
whole path. The path is the trajectory, its `Finish` call with `give_answer` the final answer. The search's other
branches (dead ends, given-up tries, other finished candidates) are not trained on, as ToolBench's own preprocessing
does not; how many finished candidates were left aside is kept in the record's meta (`unused_branches`, summed in
`metrics/convert.json`). `valid_data: false` (no path reached an answer) is dropped as `no_valid_path`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from agentflan.data.formats.base import Dropped, RecordError
from agentflan.data.formats.calls import call_from_any, parse_tools
from agentflan.data.formats.messages import Msg, build
from agentflan.data.formats.openai import text
from agentflan.data.formats.toolbench import _QUERY_TAIL, FINISH, clean_description
from agentflan.data.schema import Tool

ROLES = {"system": "system", "user": "user", "assistant": "assistant", "function": "tool", "tool": "tool"}


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("answer_generation"), dict)


def parse(record: Any, source: str, index: int):
    if not looks_like(record):
        raise RecordError("answer_generation", "missing")
    answer = record["answer_generation"]
    if not answer.get("valid_data"):
        raise Dropped("no_valid_path", "the search reached no answer (valid_data false)")
    paths = answer.get("train_messages")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, list) for p in paths):
        raise RecordError("answer_generation.train_messages", "expected a non-empty list of message lists")
    path = max(paths, key=len)
    where_path = f"answer_generation.train_messages[{paths.index(path)}]"
    tools = [t for t in parse_tools(answer.get("function"), "answer_generation.function") if t.name != FINISH]
    # as the ToolLLaMA reader does: RapidAPI's boilerplate off the descriptions, ToolBench's "optional" list off the
    # schema
    tools = [
        Tool(t.name, clean_description(t.description), {k: v for k, v in t.parameters.items() if k != "optional"})
        for t in tools
    ]
    msgs: list[Msg] = []
    thought = ""
    for i, m in enumerate(path):
        where = f"{where_path}[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise RecordError(f"{where}.role", f"unknown role {m.get('role') if isinstance(m, dict) else m!r}")
        role, content = ROLES[m["role"]], text(m.get("content"), f"{where}.content")
        given = m.get("tool_calls") or ([m["function_call"]] if isinstance(m.get("function_call"), dict) else [])
        if role == "system":
            continue  # ToolBench's AutoGPT prompt: the chat template writes the tools its own way
        if role == "assistant" and not given:
            thought = f"{thought} {content}".strip()  # a thought message before the call it leads to
            continue
        if role == "assistant":
            calls = [call_from_any(c, f"{where}.function_call") for c in given]
            finish = next((c for c in calls if c.name == FINISH), None)
            if finish is not None:
                if finish.arguments.get("return_type") == "give_up_and_restart":
                    raise Dropped("gave_up", "the path ends with give_up_and_restart")
                final = finish.arguments.get("final_answer") or answer.get("final_answer")
                if not isinstance(final, str) or not final.strip():
                    raise RecordError(f"{where}.function_call.arguments", "Finish without a final_answer")
                msgs.append(Msg("assistant", final))
                break
            msgs.append(Msg("assistant", (thought + " " + content).strip(), calls))
            thought = ""
        else:
            content = _QUERY_TAIL.sub("", content).strip() if role == "user" else content  # "...\nBegin!\n"
            msgs.append(Msg(role, content, name=m.get("name") if role == "tool" else None))
    query = answer.get("query")
    if isinstance(query, str) and query.strip() and not any(x.role == "user" for x in msgs):
        msgs.insert(0, Msg("user", query))
    query = query if isinstance(query, str) else ""
    rid = str(
        record.get("id") or f"{source}_{hashlib.sha1(query.encode()).hexdigest()[:12]}"
    )  # one file a query, no id
    parsed = build(rid, source, msgs, tools, where_path)
    parsed.meta["unused_branches"] = max(0, len(record.get("compare_candidates") or []) - 1)
    return parsed
