"""AgentInstruct (THUDM/AgentInstruct): `{"id": "os_0", "conversations": [{"from": "human"|"gpt",
"loss": bool|null, "value": str}]}`.

The first human turn carries the task instructions; the 1-shot example's gpt turns have
`loss: false` and stay unlearned. Each split speaks its own action dialect:
- OS: "Think: ...\\n\\nAct: bash\\n\\n```bash\\n...\\n```", "Act: finish", "Act: answer(...)";
- DB: free text, then "Action: Operation\\n```sql\\n...\\n```" or "Action: Answer\\nFinal Answer: [...]";
- the others (alfworld, webshop, kg, mind2web): "Thought: ...\\nAction: name(args)" and variants.
"""

from __future__ import annotations

import re
from typing import Any

from agentflan.data.formats.base import (
    Dropped,
    Message,
    RecordError,
    Step,
    Trajectory,
    conversations_list,
    record_id,
    text_field,
)
from agentflan.data.schema import Tool, ToolCall

ROLE_MAP = {"human": "user", "gpt": "assistant"}
SPLITS = ("os", "db", "alfworld", "webshop", "kg", "mind2web")

_STRING = {"type": "string"}
OS_TOOLS = [
    Tool(
        "bash",
        "Run a bash script in the Linux (Ubuntu) machine and return its output.",
        {
            "type": "object",
            "properties": {"script": {**_STRING, "description": "The bash code to run."}},
            "required": ["script"],
        },
    ),
    Tool("finish", "Declare that the operation the user asked for is complete.", {"type": "object", "properties": {}}),
]
DB_TOOLS = [
    Tool(
        "execute_sql",
        "Execute one SQL statement on the MySQL database and return the raw result.",
        {
            "type": "object",
            "properties": {"sql": {**_STRING, "description": "One SQL statement, on one line."}},
            "required": ["sql"],
        },
    ),
]

_OS = re.compile(r"^\s*Think:(?P<thought>.*?)\n\s*Act:\s*(?P<act>.*?)\s*$", re.S)
_CODE = re.compile(r"```[a-zA-Z]*\n(?P<code>.*?)\n?```", re.S)
_DB = re.compile(r"^(?P<thought>.*?)\s*Action:\s*(?P<act>Operation|Answer)\s*\n(?P<body>.*?)\s*$", re.S)
_FINAL = re.compile(r"Final Answer:\s*(?P<answer>.*)$", re.S)
_GENERIC = re.compile(r"^\s*thought:\s*(?P<thought>.*?)\n+\s*action:\s*(?P<act>.*?)\s*$", re.S | re.I)
_CALL = re.compile(r"^(?P<name>[A-Za-z_][\w.\- ]*?)\s*[(\[](?P<args>.*)[)\]]$", re.S)
_OS_PROBLEM = "Now, my problem is:"
_MY_PROBLEM = "My problem is:"


def looks_like(record: Any) -> bool:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        return False
    dict_turns = [t for t in turns if isinstance(t, dict)]
    return (
        bool(dict_turns) and all(t.get("from") in ROLE_MAP for t in dict_turns) and any("loss" in t for t in dict_turns)
    )


def split_of(rid: str, turns: list[dict]) -> str:
    prefix = rid.split("_", 1)[0].lower()
    if prefix in SPLITS:
        return prefix
    texts = " ".join(str(t.get("value", "")) for t in turns if t.get("from") == "gpt")
    if "Act: " in texts and "Think:" in texts:
        return "os"
    if "Action: Operation" in texts or "Action: Answer" in texts:
        return "db"
    return "generic"


def _os_step(value: str, where: str) -> Step:
    m = _OS.match(value)
    if not m:
        raise Dropped("not_react", f"{where} is not in Think/Act form")
    thought, act = m["thought"].strip(), m["act"]
    if act.startswith("bash"):
        code = _CODE.search(act)
        if not code:
            raise RecordError(where, "bash action without a ```bash code block")
        return Step(value, thought, calls=[ToolCall("bash", {"script": code["code"]})])
    if act.startswith("answer(") and act.endswith(")"):
        return Step(value, thought, answer=act[len("answer(") : -1].strip())
    if act.strip() == "finish":
        return Step(value, thought, calls=[ToolCall("finish", {})])
    raise RecordError(where, f"unknown OS action {act.splitlines()[0][:40]!r} (expected bash, finish or answer(...))")


def _db_step(value: str, where: str) -> Step:
    m = _DB.match(value)
    if not m:
        raise Dropped("not_react", f"{where} has no 'Action: Operation|Answer'")
    thought = m["thought"].strip()
    if m["act"] == "Operation":
        code = _CODE.search(m["body"])
        if not code:
            raise RecordError(where, "Operation without a ```sql code block")
        return Step(value, thought, calls=[ToolCall("execute_sql", {"sql": code["code"].strip()})])
    final = _FINAL.search(m["body"])
    if not final:
        raise RecordError(where, "Answer without 'Final Answer: [...]'")
    return Step(value, thought, answer=final["answer"].strip())


def _generic_step(value: str, where: str) -> Step:
    m = _GENERIC.match(value)
    if not m:
        raise Dropped("not_react", f"{where} is not in Thought/Action form")
    act = m["act"].strip()
    call = _CALL.match(act)
    tool_call = (
        ToolCall(call["name"].strip(), {"input": call["args"].strip()}) if call else ToolCall("act", {"command": act})
    )
    return Step(value, m["thought"].strip(), calls=[tool_call])


PARSERS = {"os": _os_step, "db": _db_step, "generic": _generic_step}


def _split_instructions(split: str, first_user: str) -> tuple[str, str] | None:
    """Separate the format instructions of the first human turn from the problem it poses."""
    if split == "os" and _OS_PROBLEM in first_user:
        head, problem = first_user.split(_OS_PROBLEM, 1)
        return head.strip(), problem.strip()
    if split == "db":  # the DB prompt is instructions only; the question comes in the next human turn
        return first_user.strip(), ""
    return None


def parse(record: Any, source: str, index: int) -> Trajectory:
    turns = conversations_list(record)
    rid = record_id(record, f"{source}_{index}")
    split = split_of(rid, turns)
    parse_step = PARSERS.get(split, _generic_step)
    events: list[Step | Message] = []
    for i, t in enumerate(turns):
        where = f"conversations[{i}]"
        role = t.get("from")
        if role not in ROLE_MAP:
            raise RecordError(f"{where}.from", f"unknown role {role!r} (expected human or gpt)")
        value = text_field(t, "value", where)
        loss = t.get("loss")
        if loss is not None and not isinstance(loss, bool):
            raise RecordError(f"{where}.loss", f"expected true, false or null, got {loss!r}")
        if role == "human":
            observation = bool(events) and isinstance(events[-1], Step) and events[-1].call is not None
            events.append(Message("tool" if observation else "user", value))
            continue
        learn = loss is not False
        try:
            step = parse_step(value, f"{where}.value")
        except Dropped:
            if learn:  # a trained turn must be an action; unlearned chatter ("Ok.") is kept verbatim
                raise
            events.append(Message("assistant", value, loss=False))
            continue
        step.loss = learn
        events.append(step)
    steps = [e for e in events if isinstance(e, Step)]
    if not any(s.loss for s in steps):
        raise Dropped("not_react", "no trained action turn")
    if not any(s.answer is not None or (s.call and s.call.name == "finish") for s in steps if s.loss):
        if split in ("os", "db"):
            raise Dropped("no_final_answer", "trajectory never answers or finishes")
    first_learned = next(i for i, e in enumerate(events) if isinstance(e, Step) and e.loss)
    query = next(
        (e.content for e in reversed(events[:first_learned]) if isinstance(e, Message) and e.role == "user"), ""
    )
    first_split = _split_instructions(split, events[0].content) if isinstance(events[0], Message) else None
    if first_split and query == events[0].content:
        query = first_split[1]
    elif _MY_PROBLEM in query:  # "Now, I will start a new problem in a new OS. My problem is:\n\n..."
        query = query.rsplit(_MY_PROBLEM, 1)[1]
    tools = {"os": OS_TOOLS, "db": DB_TOOLS}.get(split)
    if tools is None:
        seen: dict[str, Tool] = {}
        for s in steps:
            if s.call and s.call.name not in seen:
                props = {k: dict(_STRING) for k in s.call.arguments}
                seen[s.call.name] = Tool(
                    s.call.name,
                    f"The {s.call.name} action of the environment.",
                    {"type": "object", "properties": props},
                )
        tools = list(seen.values())
    # the task instructions describe the actions (bash, SQL, answer), so a ReAct rendering needs no tool listing
    return Trajectory(
        rid, f"{source}/{split}", query.strip(), list(tools), events, tools_in_prompt=True, first_user_split=first_split
    )
