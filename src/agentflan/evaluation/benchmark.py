"""The Agent-H benchmark, built from the user's own corpus: held-out tools and queries, never trained on.

Two levels, as in the paper:
- action: query type x tools offered -> `tool_needed_offered_seen` / `tool_needed_offered_unseen`
  (expected: a call to the right tool with the record's arguments; unseen = a tool that no training
  conversation offers, held out by `benchmark.heldout_tools` or because all its conversations are),
  `tool_needed_not_offered`, `plain_tools_offered`, `plain_no_tools` (expected: a plain answer);
- format: `format_request`, a plain query that asks for a response format (one sentence, a list, JSON
  with an "answer" key), with tools offered to half of them (expected: a plain answer);
- parallel: `tool_needed_parallel`, a query that needs several calls in one turn (`expected_calls`, each a tool and
  its arguments' acceptable values, matched in any order as BFCL's parallel checker matches them); only imported
  benchmarks (BFCL's parallel categories) or the user's own files hold it, the corpus's benchmark does not build it;
- multi-step: the conversation already holds a call and its tool result (`history`, OpenAI messages after the
  query): `multi_step_next_call` expects the next needed call, `multi_step_answer` an answer from the results (no
  new call; the `key_values` of the results that the reference answer states, and the query does not, must appear).
Samples come from held-out records of the converted corpus (any mix of sources): the needed tool with
its real schema, distractors drawn from the corpus's other tools, plain queries from held-out general
chat, each with its conversation's answer as the `reference` (plain quality is scored against it). A category
the data cannot fill is built as far as it goes, and `counts` says how far.

Pure data: no torch, no MLflow.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agentflan.config import BenchmarkConfig
from agentflan.data.heldout import Guess, Heldout, query_key
from agentflan.data.prompts import ELICIT, FORMAT_REQUESTS
from agentflan.data.schema import PSEUDO_TOOLS, Conversation, SchemaError, Tool, ToolCall, tool_from_dict
from agentflan.evaluation.calls import literal, normalise
from agentflan.evaluation.judges import states_normalised

CATEGORIES = (
    "tool_needed_offered_seen",
    "tool_needed_offered_unseen",
    "tool_needed_not_offered",
    "plain_tools_offered",
    "plain_no_tools",
    "format_request",
    "multi_step_next_call",
    "multi_step_answer",
)
MULTI_STEP = frozenset(CATEGORIES[-2:])  # scored by `multi_step_accuracy` only, not in the single-turn rates
PARALLEL = "tool_needed_parallel"  # several calls due in one turn (imported or the user's own samples)


@dataclass
class Sample:
    id: str
    category: str
    level: str
    query: str
    tools: list[Tool]
    expected: str  # plain | call
    expected_tool: str | None = None
    expected_arguments: dict[str, list[Any]] | None = None  # per argument, its acceptable values (BFCL's rule)
    reference: str | None = None  # a plain sample's reference answer
    history: list[dict[str, Any]] | None = None  # multi-step: OpenAI messages after the query (calls, tool results)
    key_values: list[str] | None = None  # multi-step answer: what the results say that the answer must state
    expected_calls: list[dict[str, Any]] | None = None  # parallel: [{"name", "arguments": {arg: [acceptable]}}]
    # tool_needed_not_offered: its needed tools are all knowledge tools (`benchmark.knowledge_tools`), so an answer
    # from what the model knows is no fabrication
    from_knowledge: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "category": self.category,
            "level": self.level,
            "query": self.query,
            "tools": [t.to_dict() for t in self.tools],
            "expected": self.expected,
            "expected_tool": self.expected_tool,
            "expected_arguments": self.expected_arguments,
            "reference": self.reference,
        }
        if self.history is not None:
            d["history"] = self.history
        if self.key_values is not None:
            d["key_values"] = self.key_values
        if self.expected_calls is not None:
            d["expected_calls"] = self.expected_calls
        if self.from_knowledge:
            d["from_knowledge"] = True
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Sample:
        if not isinstance(d, dict):
            raise SchemaError("record", "expected an object")
        for key in ("id", "category", "query", "expected"):
            if not isinstance(d.get(key), str):
                raise SchemaError(key, "missing or not text")
        if d["expected"] not in ("plain", "call"):
            raise SchemaError("expected", f"{d['expected']!r} is not 'plain' or 'call'")
        tools = d.get("tools") or []
        if not isinstance(tools, list):
            raise SchemaError("tools", "expected a list of tool objects")
        tools = [tool_from_dict(t, f"tools[{i}]") for i, t in enumerate(tools)]
        expected_calls = expected_calls_from(d.get("expected_calls"), d["expected"])
        expected_tool = d.get("expected_tool")
        if d["expected"] == "call" and not isinstance(expected_tool, str) and expected_calls is None:
            raise SchemaError("expected_tool", "required (a tool name) when expected is 'call'")
        args = d.get("expected_arguments")
        if args is not None and not acceptable_values(args):
            raise SchemaError(
                "expected_arguments", "expected an object mapping each argument to a list of acceptable values"
            )
        reference = d.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise SchemaError("reference", f"expected text, got {type(reference).__name__}")
        key_values = d.get("key_values")
        if key_values is not None and not (
            isinstance(key_values, list) and all(isinstance(v, str) for v in key_values)
        ):
            raise SchemaError("key_values", "expected a list of texts")
        if not isinstance(d.get("from_knowledge", False), bool):
            raise SchemaError("from_knowledge", "expected true or false")
        return cls(
            d["id"],
            d["category"],
            d.get("level", "action"),
            d["query"],
            tools,
            d["expected"],
            expected_tool,
            args,
            reference,
            history_from(d.get("history")),
            key_values,
            expected_calls,
            d.get("from_knowledge", False),
        )


def acceptable_values(args: Any) -> bool:
    """Each argument's acceptable values as a list (BFCL's possible answers)."""
    return isinstance(args, dict) and all(isinstance(v, list) for v in args.values())


def expected_calls_from(calls: Any, expected: str) -> list[dict[str, Any]] | None:
    """A parallel sample's `expected_calls` checked: a non-empty list of `{"name", "arguments"}`, each argument's
    acceptable values a list; only where a call is expected."""
    if calls is None:
        return None
    if expected != "call":
        raise SchemaError("expected_calls", "only a sample that expects calls lists them")
    if not isinstance(calls, list) or not calls:
        raise SchemaError("expected_calls", "expected a non-empty list of calls")
    for i, c in enumerate(calls):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise SchemaError(f"expected_calls[{i}].name", "missing or not text")
        if not acceptable_values(c.get("arguments")):
            raise SchemaError(
                f"expected_calls[{i}].arguments",
                "expected an object mapping each argument to a list of acceptable values",
            )
    return [{"name": c["name"], "arguments": c["arguments"]} for c in calls]


def history_from(history: Any) -> list[dict[str, Any]] | None:
    """A sample's `history` checked: OpenAI messages (assistant with `tool_calls`, `tool` results, user turns), each
    call as `{"id", "type": "function", "function": {"name", "arguments": object}}`. As the OpenAI API writes them,
    arguments may come as a JSON string and content as a list of parts (`{"type": "text", "text": ...}`): read as an
    object and as the parts' text."""
    if history is None:
        return None
    if not isinstance(history, list):
        raise SchemaError("history", "expected a list of messages")
    out = []
    for i, m in enumerate(history):
        where = f"history[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "tool"):
            raise SchemaError(f"{where}.role", "expected a user, assistant or tool message")
        content = m.get("content") or ""
        if isinstance(content, list) and all(
            isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content
        ):
            content = "".join(p.get("text", "") for p in content)  # the parts' text; an image part has none
        if not isinstance(content, str):
            raise SchemaError(f"{where}.content", f"expected text, got {type(content).__name__}")
        message: dict[str, Any] = {"role": m["role"], "content": content}
        calls = m.get("tool_calls") or []
        if not isinstance(calls, list) or (calls and m["role"] != "assistant"):
            raise SchemaError(f"{where}.tool_calls", "expected a list of calls on an assistant message")
        if calls:
            message["tool_calls"] = []
            for k, c in enumerate(calls):
                f = c.get("function", c) if isinstance(c, dict) else None
                if isinstance(f, dict) and isinstance(f.get("arguments"), str):  # the OpenAI API's JSON text
                    with contextlib.suppress(ValueError):
                        f = {**f, "arguments": json.loads(f["arguments"] or "{}")}
                if not (
                    isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("arguments"), dict)
                ):
                    raise SchemaError(f"{where}.tool_calls[{k}]", "expected a call with a name and an arguments object")
                call_id = c.get("id") or f"call_{i}_{k}"
                message["tool_calls"].append(
                    {"id": call_id, "type": "function", "function": {"name": f["name"], "arguments": f["arguments"]}}
                )
        if m["role"] == "tool":
            for key in ("name", "tool_call_id"):
                if isinstance(m.get(key), str):
                    message[key] = m[key]
        out.append(message)
    return out


_ELICITING = frozenset(q for asks in ELICIT.values() for q in asks)  # the chat form's user turns between steps


@dataclass
class _Step:
    thought: str
    calls: list[ToolCall]
    results: list[str] = field(default_factory=list)


def agent_steps(conv: Conversation) -> tuple[list[_Step], str | None]:
    """The steps an agent conversation takes after its query (each one's thought, calls and their results) and its
    final answer (None where it ends otherwise), read alike from the native and the elicited chat form. A ReAct
    conversation keeps its steps in text: it gives none."""
    if conv.style not in ("native", "chat"):
        return [], None
    query = conv.query.strip()
    start = next((i for i, t in enumerate(conv.turns) if t.role == "user" and t.content.strip() == query), None)
    if start is None:
        return [], None
    steps: list[_Step] = []
    thought = ""
    for t in conv.turns[start + 1 :]:
        if t.role == "user" and t.content not in _ELICITING:
            break  # a new request: what follows answers something else
        if t.role == "tool" and steps:
            steps[-1].results.append(t.content)
        elif t.role == "assistant":
            calls = t.tool_calls or ([t.call] if t.call is not None else [])
            if any(c.name in PSEUDO_TOOLS for c in calls):
                break
            if t.tool_calls or (calls and (not steps or steps[-1].results)):  # native: a message a step
                steps.append(_Step(t.content if t.tool_calls else thought, list(calls)))
                thought = ""
            elif calls:  # the elicited form writes a step's parallel calls one turn each
                steps[-1].calls.extend(calls)
            elif t.part == "thought":
                thought = t.content
            elif t.part != "tool_choice" and t.content.strip():
                return steps, t.content.strip()
    return steps, None


def history_messages(steps: list[_Step]) -> list[dict[str, Any]]:
    """Steps as OpenAI messages: an assistant message with its thought and `tool_calls`, then a tool message per
    result, answering its call by id."""
    out: list[dict[str, Any]] = []
    for step in steps:
        ids = [f"call_{len(out)}_{k}" for k in range(len(step.calls))]
        out.append(
            {
                "role": "assistant",
                "content": step.thought,
                "tool_calls": [{"id": i, "type": "function", "function": c.to_dict()} for i, c in zip(ids, step.calls)],
            }
        )
        out += [
            {"role": "tool", "name": c.name, "tool_call_id": i, "content": r}
            for c, i, r in zip(step.calls, ids, step.results)
        ]
    return out


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@functools.lru_cache(maxsize=4096)
def result_values(result: str) -> tuple[str, ...]:
    """The values a tool result states: the scalars of a JSON value or Python literal (a JSON string inside read
    again, as ToolBench's `response` is), else the numbers in its text. Remembered for the last few thousand results:
    a corpus answers the same call with the same result again and again (the demo at 500k trajectories: more than half
    of the held-out conversations' results are repeats)."""
    found = literal(result.strip())
    if found is None or found[1] != len(result.strip()):
        return tuple(_NUMBER.findall(result))
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            inner = literal(v.strip()) if v.strip()[:1] in ("{", "[") else None
            if inner is not None:
                walk(inner[0])
            elif v.strip():
                out.append(v.strip())
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(str(v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(found[0])
    return tuple(out)


def key_values(results: list[str], answer: str, query: str) -> list[str]:
    """What an answer composed from `results` must state: the results' values that the reference `answer` states and
    the query does not (a value the user gave proves nothing)."""
    return list(_key_values(results, answer, query))


def _key_values(results: list[str], answer: str, query: str) -> Iterator[str]:
    """`key_values` one at a time, each result read only when the ones before it are used up."""
    answer, query, seen = normalise(answer), normalise(query), set()
    for r in results:
        for v in result_values(r):
            if v not in seen:
                seen.add(v)
                if states_normalised(answer, v) and not states_normalised(query, v):
                    yield v


class _MultiStep(NamedTuple):
    """A held-out conversation's turn after its first step(s): the history so far and what comes next. A tuple: the
    pass makes one or two for a held-out agent record, and a frozen dataclass made 5% of its per-record work
    (27.8 against 26.4 us a record, 500k trajectories, 6 Dec 2026)."""

    id: str
    query: str
    category: str
    needed: tuple[Tool, ...]  # the tools it calls (offered, with distractors)
    history: tuple[dict[str, Any], ...]
    call: ToolCall | None = None  # multi_step_next_call: the next needed call
    answer: str | None = None  # multi_step_answer: the reference answer
    key_values: tuple[str, ...] = ()


def multi_step_candidates(conv: Conversation, whole: bool = True) -> list[_MultiStep]:
    """The multi-step samples one held-out agent conversation gives: after its first step, its next call (where it
    makes one); after all its steps, its answer (where that states a value of the results). `whole=False`: what the
    choice reads (categories and needed tools) in a third less time: no history, and of the key values the first."""
    steps, answer = agent_steps(conv)
    tools = {t.name: t for t in conv.tools}
    answered = 0
    while (
        answered < len(steps) and steps[answered].calls and len(steps[answered].results) == len(steps[answered].calls)
    ):
        answered += 1
    out = []

    def needed(steps_: list[_Step], extra: list[ToolCall]) -> tuple[Tool, ...] | None:
        names = dict.fromkeys(c.name for s in steps_ for c in s.calls + extra)
        return tuple(tools[n] for n in names) if all(n in tools for n in names) else None

    if answered >= 1 and len(steps) >= 2 and steps[1].calls and (need := needed(steps[:1], steps[1].calls[:1])):
        history = tuple(history_messages(steps[:1])) if whole else ()
        out.append(_MultiStep(conv.id, conv.query, "multi_step_next_call", need, history, call=steps[1].calls[0]))
    if answer and answered == len(steps) >= 1 and (need := needed(steps, [])):
        keys = _key_values([r for s in steps for r in s.results], answer, conv.query)
        keys = list(keys) if whole else list(itertools.islice(keys, 1))
        if keys:
            history = tuple(history_messages(steps)) if whole else ()
            out.append(
                _MultiStep(
                    conv.id, conv.query, "multi_step_answer", need, history, answer=answer, key_values=tuple(keys)
                )
            )
    return out


def _first_call(conv: Conversation):
    return next((c for c in conv.calls if c.name not in PSEUDO_TOOLS), None)


class _CallRef(NamedTuple):
    """A held-out agent conversation as a call sample's candidate, as the choice reads it: its id, the tool its first
    step calls (the query, tool definition and arguments are read again from the record if it is chosen). A tuple, as
    `_MultiRef`: a chunk's candidates cross from its worker pickled, and a slotted dataclass pickles and unpickles 2 to
    3 times slower (a third of the stage's process's time on a chunk's result, 500k trajectories, 5 Dec 2026)."""

    id: str
    tool: str
    at: int | None = None  # where the record's line starts in the corpus, where the pass knows it


class _Plain(NamedTuple):
    """A held-out general chat as a plain sample's candidate: its query and its first answer."""

    query: str
    answer: str | None


class _MultiRef(NamedTuple):
    """A multi-step candidate as the choice reads it: its record's id and the names of the tools it needs."""

    id: str
    needed: tuple[str, ...]
    at: int | None = None


@dataclass
class Candidates:
    """What the choice reads of the corpus in one pass: every tool's first definition, the tools training keeps, and
    the held-out records' candidates by id, their query key and the tools they need, so that memory grows by a few
    hundred bytes per held-out record, not by its history (of a chunk of records: `merge` them in file order for the
    whole file's), and where each one's line starts when the pass knows it (`candidates_at`). The chosen records are
    read again, at their places (`chosen_places`) or by id (`chosen_ids`), for `samples`. The records a `Guess` left to
    the corpus's choice wait in `undecided` until `decide`."""

    tools: dict[str, Tool] = field(default_factory=dict)
    trained: set[str] = field(default_factory=set)  # tools that stay in training data
    calls: dict[tuple[str, str], _CallRef] = field(default_factory=dict)  # (query key, first tool) -> smallest id
    plain_queries: dict[str, _Plain] = field(default_factory=dict)  # query key -> (query, answer)
    # per multi-step category, per query key: the candidate of the smallest id (the only one `unique_by_query` picks)
    multi: dict[str, dict[str, _MultiRef]] = field(default_factory=lambda: {c: {} for c in sorted(MULTI_STEP)})
    undecided: dict[str, set[str]] = field(default_factory=dict)  # query key -> tools, of records `decide` decides

    def add(self, conv: Conversation, heldout: Heldout | Guess, at: int | None = None) -> None:
        for t in conv.tools:
            self.tools.setdefault(t.name, t)
        excluded = heldout.excludes(conv)
        if excluded is None:  # a `Guess` the choice decides: a record of no kind that gives candidates, its tools kept
            self.undecided.setdefault(query_key(conv.query), set()).update(t.name for t in conv.tools)
            return
        if not excluded:
            self.trained.update(t.name for t in conv.tools)
            return
        call, key = _first_call(conv), query_key(conv.query)
        if conv.kind == "agent" and not self._outranked(key, conv.id):
            for m in multi_step_candidates(conv, whole=False):
                self._multi(m.category, key, _MultiRef(conv.id, tuple(t.name for t in m.needed), at))
        if conv.kind == "agent" and call is not None and call.name in {t.name for t in conv.tools}:
            self._call((key, call.name), _CallRef(conv.id, call.name, at))
        elif conv.kind == "general" and conv.query.strip():
            answer = next((t.content.strip() for t in conv.assistant_turns if t.content.strip()), None)
            self.plain_queries.setdefault(key, _Plain(conv.query.strip(), answer))

    def decide(self, heldout: Heldout) -> None:
        """The records `Guess` left to the corpus's choice, decided by it: the tools of those it does not hold out
        stay in training."""
        for key, names in self.undecided.items():
            if not heldout.asks(key):
                self.trained |= names
        self.undecided.clear()

    def _outranked(self, key: str, conv_id: str) -> bool:
        """Every multi-step category already keeps a candidate of this query from a record of a smaller id, so none of
        this record's can be kept (`_multi`) and its steps need not be read (where a corpus repeats a query: ToolBench
        writes a record per step; the demo's held-out queries recur). Reading the steps was 58% of this pass's work on
        the demo at 500k trajectories; this skips a part of it (32.3 -> 29.9 us a record, 5 Dec 2026): a query none of
        whose records gives a candidate in every category is still read each time."""
        return all(key in kept and kept[key].id < conv_id for kept in self.multi.values())

    def _multi(self, category: str, key: str, m: _MultiRef) -> None:
        kept = self.multi[category]
        if key not in kept or m.id < kept[key].id:
            kept[key] = m

    def _call(self, key: tuple[str, str], call: _CallRef) -> None:
        if key not in self.calls or call.id < self.calls[key].id:
            self.calls[key] = call

    def merge(self, other: Candidates) -> None:
        for name, t in other.tools.items():
            self.tools.setdefault(name, t)
        self.trained |= other.trained
        for key, call in other.calls.items():
            self._call(key, call)
        for key, plain in other.plain_queries.items():
            self.plain_queries.setdefault(key, plain)
        for category, found in other.multi.items():
            for key, m in found.items():
                self._multi(category, key, m)
        for key, names in other.undecided.items():
            self.undecided.setdefault(key, set()).update(names)


def candidates(conversations: Iterable[Conversation], heldout: Heldout | Guess) -> Candidates:
    found = Candidates()
    for conv in conversations:
        found.add(conv, heldout)
    return found


def candidates_at(placed: Iterable[tuple[int, Conversation]], heldout: Heldout | Guess) -> Candidates:
    """`candidates` of records with their places in the corpus (`parallel.conversations_at`): the chosen ones are
    read again there (`chosen_places`), not by a pass over the corpus."""
    found = Candidates()
    for at, conv in placed:
        found.add(conv, heldout, at)
    return found


def build(
    conversations: Iterable[Conversation], heldout: Heldout, cfg: BenchmarkConfig
) -> tuple[list[Sample], dict[str, int]]:
    """Samples per category from the held-out records, and how many each category got (in memory: the stage reads
    the corpus once, `heldout.Guess` with `candidates_at`, then `choose_samples`, `chosen_places`, `samples`)."""
    conversations = list(conversations)
    chosen, counts = choose_samples(candidates(conversations, heldout), cfg)
    ids = chosen_ids(chosen)
    return samples(chosen, {c.id: c for c in conversations if c.id in ids}, cfg.knowledge_tools), counts


@dataclass(frozen=True)
class _Chosen:
    """A sample chosen before its record is read again: the candidate it comes from (a record's id, or a plain
    query and its answer) and the tools it offers, in order, a needed tool by name (the record's own definition)."""

    category: str
    source: _CallRef | _MultiRef | _Plain
    tools: tuple[Tool | str, ...]
    expected: str = "call"
    level: str = "action"
    suffix: str = ""  # a format request's request, after the query


def choose_samples(found: Candidates, cfg: BenchmarkConfig) -> tuple[list[_Chosen], dict[str, int]]:
    """Which candidates become which samples (seeded: the same corpus and params choose the same), and how many each
    category got."""
    tools, trained, calls, plain_queries, multi = (
        found.tools,
        found.trained,
        found.calls,
        found.plain_queries,
        found.multi,
    )
    # the first step decides: a call to a tool that training never shows is an unseen-tool sample
    seen_calls = [(key, c) for (key, _), c in calls.items() if c.tool in trained]
    unseen_calls = [(key, c) for (key, _), c in calls.items() if c.tool not in trained]
    rng = random.Random(f"{cfg.seed}:benchmark")
    distractor_pool = [t for name, t in tools.items() if name in trained and name not in PSEUDO_TOOLS]
    chosen: list[_Chosen] = []

    def unique_by_query(keyed: list[tuple[str, Any]]) -> list:
        out: dict[str, Any] = {}
        for key, c in sorted(keyed, key=lambda kc: kc[1].id):
            out.setdefault(key, c)
        picked = list(out.values())
        rng.shuffle(picked)
        return picked

    def offered(needed: tuple[str, ...], extra: int = 0) -> tuple[Tool | str, ...]:
        others = [t for t in distractor_pool if t.name not in needed]
        picked = [*needed, *rng.sample(others, min(cfg.distractors + extra, len(others)))]
        rng.shuffle(picked)
        return tuple(picked)

    seen, unseen = unique_by_query(seen_calls), unique_by_query(unseen_calls)
    for category, pool in (("tool_needed_offered_seen", seen), ("tool_needed_offered_unseen", unseen)):
        chosen += [_Chosen(category, c, offered((c.tool,))) for c in pool[: cfg.per_category]]
    leftover = seen[cfg.per_category :] + unseen[cfg.per_category :]
    rng.shuffle(leftover)
    chosen += [_Chosen("tool_needed_not_offered", c, (), "plain") for c in leftover[: cfg.per_category]]
    plain = [plain_queries[k] for k in sorted(plain_queries)]
    for category in ("plain_tools_offered", "plain_no_tools", "format_request"):
        for i, query_answer in enumerate(rng.sample(plain, min(cfg.per_category, len(plain)))):
            if category == "plain_tools_offered":
                chosen.append(_Chosen(category, query_answer, offered((), 1), "plain"))
            elif category == "plain_no_tools":
                chosen.append(_Chosen(category, query_answer, (), "plain"))
            else:  # the reference answers the question, not the format: quality is scored on content here
                tools_ = offered(()) if i % 2 else ()
                suffix = f" {FORMAT_REQUESTS[i % len(FORMAT_REQUESTS)]}"
                chosen.append(_Chosen(category, query_answer, tools_, "plain", "format", suffix))
    for category in [
        c for c in CATEGORIES if c in MULTI_STEP
    ]:  # the history holds the first step(s); the next turn is scored
        for m in unique_by_query(list(multi[category].items()))[: cfg.per_category]:
            expected = "call" if category == "multi_step_next_call" else "plain"
            chosen.append(_Chosen(category, m, offered(m.needed), expected, "multi_step"))
    counts = Counter(c.category for c in chosen)
    return chosen, {c: counts.get(c, 0) for c in CATEGORIES}


def chosen_ids(chosen: list[_Chosen]) -> frozenset[str]:
    """The ids of the records the chosen samples are read from."""
    return frozenset(c.source.id for c in chosen if not isinstance(c.source, _Plain))


def chosen_places(chosen: list[_Chosen]) -> dict[str, int]:
    """Where the records the chosen samples are read from start in the corpus, by id (`candidates_at`'s places)."""
    places = {c.source.id: c.source.at for c in chosen if not isinstance(c.source, _Plain)}
    if None in places.values():
        raise ValueError("chosen_places: candidates gathered without their places (`candidates_at` gathers them)")
    return places


def samples(
    chosen: list[_Chosen], records: dict[str, Conversation], knowledge_tools: Iterable[str] = ()
) -> list[Sample]:
    """The chosen samples, read from their records (`records`: at least those of `chosen_ids`, by id); a tool-needing
    query asked with no tool offered is `from_knowledge` where every tool its record calls is one of
    `knowledge_tools`."""
    knowledge = frozenset(knowledge_tools)
    out: list[Sample] = []
    for c in chosen:
        sid = f"{c.category}_{len(out)}"
        if isinstance(c.source, _Plain):  # a plain query and its conversation's answer
            query, reference = c.source
            out.append(Sample(sid, c.category, c.level, query + c.suffix, list(c.tools), "plain", reference=reference))
            continue
        conv = records[c.source.id]
        if isinstance(c.source, _CallRef):
            own = {}
            for t in conv.tools:  # the called tool's first definition in the record
                own.setdefault(t.name, t)
            tools = [own[t] if isinstance(t, str) else t for t in c.tools]
            if c.expected == "plain":  # a tool-needing query with no tool offered
                needed = {call.name for call in conv.calls}
                known = bool(needed) and needed <= knowledge
                out.append(Sample(sid, c.category, c.level, conv.query, tools, "plain", from_knowledge=known))
                continue
            call = _first_call(conv)
            args = {k: [v] for k, v in call.arguments.items()}
            out.append(Sample(sid, c.category, c.level, conv.query, tools, "call", call.name, args))
            continue
        m = next(m for m in multi_step_candidates(conv) if m.category == c.category)
        needed = {t.name: t for t in m.needed}
        tools = [needed[t] if isinstance(t, str) else t for t in c.tools]
        if m.call is not None:
            args = {k: [v] for k, v in m.call.arguments.items()}
            out.append(
                Sample(sid, c.category, c.level, m.query, tools, "call", m.call.name, args, history=list(m.history))
            )
        else:
            out.append(
                Sample(
                    sid,
                    c.category,
                    c.level,
                    m.query,
                    tools,
                    "plain",
                    None,
                    None,
                    m.answer,
                    list(m.history),
                    list(m.key_values),
                )
            )
    return out


def sample_row(s: Sample) -> dict[str, Any]:
    """The frame `expectations/agent_h.json` checks."""
    names = [t.name for t in s.tools]
    wanted = [c["name"] for c in s.expected_calls] if s.expected_calls else [s.expected_tool]
    return {
        "id": s.id,
        "category": s.category,
        "level": s.level,
        "expected": s.expected,
        "n_tools": len(s.tools),
        "query_chars": len(s.query),
        "expected_tool_offered": all(n in names for n in wanted) if s.expected == "call" else True,
        "plain_with_expected_tool": s.expected == "plain" and s.expected_tool is not None,
        "history_messages": len(s.history or []),
        "multi_step_without_history": s.category in MULTI_STEP and not s.history,
        "answer_without_key_values": s.category == "multi_step_answer" and not s.key_values,
    }
