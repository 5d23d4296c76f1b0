"""Convert upstream agent trajectories into canonical conversations ("aligning agent tuning to chat").

Every source record becomes one `Conversation`. A seeded `react_fraction` of agent trajectories keep
their upstream ReAct text; the rest become natural multi-turn chat in which the thought, the tool
choice and the arguments are separate assistant turns with short eliciting user turns between them.
`format_samples` format-following samples (ReAct and JSON output formats) are added at the end.
Malformed records go to quarantine with file, record, field and reason; cleaning rules drop records
and count them, so `read == converted + dropped + quarantined` always holds. One rule decides: a
record the converter writes passes the `converted` suite (`admit`), so a GX check downstream never
fails on a record the converter accepted.

Pure data: no MLflow, no GX, no torch.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from agentflan.config import ConvertConfig, Source
from agentflan.data.formats import FORMATS, MAPPED, READERS, detect
from agentflan.data.formats.base import Dialogue, Dropped, Message, RecordError, Step, Trajectory
from agentflan.data.jsonio import InputError, RawLine, iter_raw, lines_text
from agentflan.data.parallel import BrokenElement, Chunk, Workers, array_chunks, array_elements, array_indent
from agentflan.data.prompts import (
    ELICIT,
    FORMAT_PROMPTS,
    NATURAL_SYSTEM,
    format_system,
    json_step_text,
    react_step_text,
)
from agentflan.data.schema import PSEUDO_TOOLS, Conversation, Tool, ToolCall, Turn
from agentflan.data.seeded import unit_hash

DETECT_SAMPLE = 20


@dataclass
class Rejected:
    """A quarantine entry: which file and record, which field, and why."""

    file: str
    record: int  # 1-based record number in the file (the line number for JSONL)
    id: str
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "record": self.record, "id": self.id, "field": self.field, "reason": self.reason}


@dataclass
class ConvertStats:
    read: int = 0
    converted: int = 0
    quarantined: int = 0
    format_samples: int = 0
    dropped: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_style: Counter = field(default_factory=Counter)
    unused_branches: int = 0  # ToolBench answer trees: finished search branches other than the path taken

    @property
    def written(self) -> int:
        return self.converted + self.format_samples

    def balanced(self) -> bool:
        return self.read == self.converted + sum(self.dropped.values()) + self.quarantined

    def to_metrics(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "converted": self.converted,
            "dropped": sum(self.dropped.values()),
            "dropped_by_rule": dict(sorted(self.dropped.items())),
            "quarantined": self.quarantined,
            "format_samples": self.format_samples,
            "written": self.written,
            "by_source": dict(sorted(self.by_source.items())),
            "by_style": dict(sorted(self.by_style.items())),
            "unused_tree_branches": self.unused_branches,
        }


# --- rendering ---------------------------------------------------------------------------------


def render_trajectory(traj: Trajectory, step_turns: Callable[[Step], list[Turn]], system: str | None) -> list[Turn]:
    """A trajectory as turns: the query (its format instructions split off), each step as `step_turns` writes it,
    each tool result as a tool turn naming the call it answers."""
    turns = [Turn("system", system)] if system else []
    skip_ack = False
    pending: list[ToolCall] = []  # calls whose results have not come yet, in order
    for i, e in enumerate(traj.events):
        if isinstance(e, Step):
            skip_ack = False
            step = step_turns(e)
            turns.extend(step)
            pending = [c for t in step for c in t.tool_calls] or list(e.calls)
            continue
        if i == 0 and e.role == "user" and traj.first_user_split:
            problem = traj.first_user_split[1]
            if problem:
                turns.append(Turn("user", problem))
            else:
                skip_ack = True  # instructions only: drop it and the model's "Ok." that follows
            continue
        if skip_ack and e.role == "assistant":
            skip_ack = False
            continue
        if e.role == "tool":
            answered = pending.pop(0) if pending else None
            turns.append(
                Turn(
                    "tool",
                    e.content,
                    name=e.name or (answered.name if answered else None),
                    tool_call_id=answered.id if answered and answered.id else None,
                )
            )
            continue
        turns.append(Turn(e.role, e.content, loss=e.loss, part="chat" if e.role == "assistant" else None))
    return turns


def elicited_step(step: Step, rng: random.Random) -> list[Turn]:
    """The paper's chat form: the thought, the tool choice and the arguments as separate assistant turns, with short
    eliciting user turns between them (one choice and one arguments turn per call)."""
    out = []
    if step.thought:
        out.append(Turn("assistant", step.thought, loss=step.loss, part="thought"))
    for call in step.calls:
        if out:
            out.append(Turn("user", rng.choice(ELICIT["tool"])))
        out.append(Turn("assistant", call.name, loss=step.loss, part="tool_choice"))
        out.append(Turn("user", rng.choice(ELICIT["arguments"])))
        out.append(Turn("assistant", call.arguments_json(), loss=step.loss, part="arguments", call=call))
    if not step.calls:
        if out:
            out.append(Turn("user", rng.choice(ELICIT["answer"])))
        out.append(Turn("assistant", step.answer or "", loss=step.loss, part="answer"))
    return out


def native_step(step: Step, ids: Iterator[int]) -> list[Turn]:
    """The model's own tool-calling chat: one assistant message whose content is the thought and whose `tool_calls` are
    the step's calls (ids `call_<n>` where the source gives none); a final answer is a message of its own."""
    if not step.calls:
        return [Turn("assistant", step.answer or "", loss=step.loss, part="answer")]
    calls = [c if c.id else ToolCall(c.name, c.arguments, f"call_{next(ids)}") for c in step.calls]
    return [Turn("assistant", step.thought, loss=step.loss, part="thought", tool_calls=calls)]


def render_chat(traj: Trajectory, rng: random.Random) -> list[Turn]:
    """The paper's elicited chat form, under the natural system prompt."""
    return render_trajectory(traj, lambda step: elicited_step(step, rng), NATURAL_SYSTEM)


def render_native(traj: Trajectory) -> list[Turn]:
    """The native form, with no system prompt of ours: the tools go through the chat template, as an agent framework
    sends them."""
    ids = itertools.count()
    return render_trajectory(traj, lambda step: native_step(step, ids), None)


def render_react(traj: Trajectory) -> list[Turn]:
    """ReAct form: the upstream prompt and assistant text, verbatim; a source without ReAct text (native calls) gets
    it written from its steps, under the ReAct format prompt."""
    written = not traj.system and not traj.tools_in_prompt  # no upstream ReAct prompt: ours asks for the format
    own_system = any(isinstance(e, Message) and e.role == "system" for e in traj.events)
    turns = [Turn("system", traj.system)] if traj.system else []
    if written and not own_system:
        turns.append(Turn("system", format_system("react")))
    for e in traj.events:
        if isinstance(e, Step):
            turns.append(
                Turn(
                    "assistant",
                    e.raw.strip() or react_step_text(e.thought, e.calls, e.answer),
                    loss=e.loss,
                    part="react",
                    call=e.call,
                )
            )
        elif e.role == "system" and written:  # the source's own system prompt, with the format request after it
            turns.append(Turn("system", f"{e.content}\n\n{FORMAT_PROMPTS['react']}"))
        elif e.role == "tool":
            turns.append(Turn("tool", e.content, name=e.name))
        else:
            turns.append(Turn(e.role, e.content, loss=e.loss, part="chat" if e.role == "assistant" else None))
    return turns


def render_format_sample(
    index: int, fmt: str, conv_id: str, source: str, query: str, tools: list[Tool], thought: str, call: ToolCall
) -> Conversation:
    answer = react_step_text(thought, [call]) if fmt == "react" else json_step_text(thought, call)
    turns = [
        Turn("system", format_system(fmt)),
        Turn("user", query),
        Turn("assistant", answer, loss=True, part="format", call=call),
    ]
    return Conversation(
        f"format_{fmt}_{index}_{conv_id}", source, "format", "plain", turns, list(tools), query, {"format": fmt}
    )


def dialogue_to_conversation(d: Dialogue, meta: dict[str, Any]) -> Conversation:
    part = "chat" if d.kind == "general" else None  # release records: decompose labels them by content
    turns = [
        Turn(
            m.role,
            m.content,
            loss=m.loss,
            part=part if m.role == "assistant" else None,
            name=m.name if m.role == "tool" else None,
        )
        for m in d.messages
    ]
    query = next((m.content for m in d.messages if m.role == "user"), "")
    return Conversation(d.id, d.source, d.kind, d.style, turns, list(d.tools), query, {**meta, **d.meta})


# --- what the converter accepts -----------------------------------------------------------------


def admit(conv: Conversation) -> None:
    """Refuse a conversation the `converted` suite would fail: `Dropped` for a trajectory that calls a tool it was
    not offered (ToolBench holds such records: the generating model hallucinated the name; a hallucination to drop,
    not to learn), `RecordError` naming the field for one without a query, an answer or anything to learn."""
    offered = {t.name for t in conv.tools}
    unoffered = sorted({c.name for c in conv.calls if c.name not in offered and c.name not in PSEUDO_TOOLS})
    if unoffered:
        raise Dropped("unoffered_tool", f"calls {', '.join(unoffered)}, which its tool list does not offer")
    if not conv.query.strip():
        raise RecordError("query", "no user query (the first user turn is missing or empty)")
    if not conv.turns or conv.turns[0].role not in ("system", "user"):
        raise RecordError("turns[0].role", "the conversation must open with a system or user turn")
    if conv.turns[-1].role != "assistant":
        raise RecordError(
            f"turns[{len(conv.turns) - 1}].role",
            f"the conversation ends with a {conv.turns[-1].role} turn, not an assistant answer",
        )
    trainable = conv.trainable_turns
    if not trainable:
        raise RecordError("turns", "no assistant turn to learn from (every one has loss false)")
    if any(not p.text.strip() for t in trainable for p in t.pieces() if p.loss):
        raise RecordError("turns", "an assistant turn to learn from is empty")


# --- the converter ---------------------------------------------------------------------------


def looks_like(fmt: str, record: Any, columns: dict | None, tags: dict | None) -> bool:
    reader = READERS[fmt]
    return reader.looks_like(record, columns, tags) if fmt in MAPPED else reader.looks_like(record)


def to_conversation(parsed: Trajectory | Dialogue, cfg: ConvertConfig, meta: dict[str, Any]) -> Conversation:
    """A parsed record as a canonical conversation: a trajectory in the style its seeded draw gives it."""
    if isinstance(parsed, Dialogue):
        return dialogue_to_conversation(parsed, meta)
    if unit_hash(cfg.seed, "style", parsed.id) < cfg.react_fraction:
        style, turns = "react", render_react(parsed)
    elif cfg.call_style == "native":
        style, turns = "native", render_native(parsed)
    else:
        style, turns = "chat", render_chat(parsed, random.Random(f"{cfg.seed}:elicit:{parsed.id}"))
    meta = {**meta, **parsed.meta, "tools_in_prompt": style == "react" and parsed.tools_in_prompt}
    return Conversation(parsed.id, parsed.source, "agent", style, turns, parsed.tools, parsed.query, meta)


FormatItem = tuple[float, str, tuple]  # (-hash, id, what a format sample is made of): the pool keeps the largest


def format_candidate(cfg: ConvertConfig, traj: Trajectory) -> FormatItem | None:
    """What a trajectory lends the format-sample pool (its first learned step), or None when it has nothing to lend."""
    first = next((s for s in traj.steps if s.loss), None)
    if cfg.format_samples <= 0 or first is None or first.call is None or not first.thought or not traj.query:
        return None
    key = unit_hash(cfg.seed, "format", traj.id)
    return (-key, traj.id, (traj.source, traj.query, traj.tools, first.thought, first.call))


@dataclass(frozen=True)
class Output:
    """What a worker sends back of a batch's conversations: the objects, or (`written`) a `Block` of their JSON lines
    and the columns of their `row` (a module-level function of a conversation returning a dict, such as its profile
    row; None: no row)."""

    written: bool = False
    row: Callable[[Conversation], Any] | None = None


@dataclass(frozen=True)
class FileTask:
    """What converting one file's records needs (sent to the worker processes with each batch)."""

    config: ConvertConfig
    fmt: str
    mapping: dict[str, Any]
    name: str
    out: Output = Output()


@dataclass(frozen=True)
class Admitted:
    """A record the converter accepts, unless an earlier one has its id: the conversation and its format-pool item
    when it may join the pool."""

    index: int
    id: str
    source: str
    style: str
    unused_branches: int
    record: Conversation
    candidate: FormatItem | None

    def renumbered(self, offset: int) -> Admitted:
        """The record numbered `offset` records later (`convert_chunk` numbers a chunk's records from its start): its
        index, and the record number of its meta where that is its index's."""
        if _numbered(self.record, self.index + 1):
            self.record.meta["record"] = self.index + offset + 1
        return dataclasses.replace(self, index=self.index + offset)


class Block(NamedTuple):
    """A batch's outcomes as a worker sends them back when lines are asked for (`Output.written`): the admitted
    records' JSON lines in one byte string and their rows as columns, so that a batch crosses to the stage's process
    as a few objects (its lines through a file: `parallel._spooled`) rather than an object, a line and a row dict a
    record, which the stage's one process unpickled at about 4 us a record read (a 500k-trajectory ToolBench file:
    1.1M records; 6 Dec 2026); and an outcome a record, in order: a rule's name (dropped), a `Rejected`, or for an
    admitted record a plain tuple (`Kept`'s fields; as NamedTuples they unpickled 1.4 times slower)."""

    outcomes: list[Any]
    lines: bytes  # each admitted record's line, ended by a line end
    columns: dict[str, list[Any]]  # each admitted record's row, by field


class Kept(NamedTuple):
    """What the stage's process decides with of an admitted record in a `Block` (sent as a plain tuple)."""

    index: int
    id: str
    source: str
    style: str
    unused_branches: int
    candidate: FormatItem | None
    number_at: int | None  # where its line holds its meta's record number, when that is its index's


BATCH = 256  # records a worker converts at a time: about 25 ms of work, 1 MB of records


def convert_batch(task: FileTask, batch: tuple[tuple[str, str] | None, list[RawLine]]) -> list[Any] | Block:
    """Each record of a batch: `Admitted`, a `Rejected`, or the name of the rule that dropped it (`task.out.written`:
    a `Block` of them). `batch`: the format pool's threshold when the batch was sent (a candidate at or under it never
    enters the pool, so it is not sent back) and the records."""
    threshold, raws = batch
    reader = READERS[task.fmt]
    out: list[Any] = []
    lines: list[bytes] = []
    columns: dict[str, list[Any]] = {}
    for raw in raws:
        if raw.error:
            out.append(Rejected(task.name, raw.index + 1, "", "<line>", raw.error))
            continue
        rid = raw.data.get("id", "") if isinstance(raw.data, dict) else ""
        try:
            parsed = reader.parse(raw.data, task.fmt, raw.index, **task.mapping)
            conv = to_conversation(parsed, task.config, {"file": task.name, "record": raw.index + 1})
            admit(conv)
        except RecordError as e:
            out.append(Rejected(task.name, raw.index + 1, str(rid), e.field, e.reason))
            continue
        except Dropped as e:
            out.append(e.rule)
            continue
        except (KeyError, TypeError, AttributeError, ValueError) as e:  # a shape no reader rule foresaw
            reason = f"unexpected structure: {type(e).__name__}: {e}"
            out.append(Rejected(task.name, raw.index + 1, str(rid), "<record>", reason))
            continue
        # only an admitted trajectory may lend its first step to a format sample
        candidate = format_candidate(task.config, parsed) if isinstance(parsed, Trajectory) else None
        if candidate is not None and threshold is not None and candidate[:2] <= threshold:
            candidate = None
        unused = conv.meta.get("unused_branches", 0)
        if not task.out.written:
            out.append(Admitted(raw.index, conv.id, conv.source, conv.style, unused, conv, candidate))
            continue
        line = _written_into(conv, task.out.row, lines, columns)
        number_at = _number_at(conv, line, raw.index + 1)
        out.append((raw.index, conv.id, conv.source, conv.style, unused, candidate, number_at))  # a `Kept`
    return Block(out, lines_text(lines), columns) if task.out.written else out


def _written_into(
    conv: Conversation, row: Callable[[Conversation], dict[str, Any]] | None, lines: list[bytes], columns: dict
) -> bytes:
    """`conv`'s JSON line appended to `lines` and its `row`'s fields to `columns` (None: no row); the line."""
    line = conv.to_json()
    lines.append(line)
    for key, value in row(conv).items() if row else ():
        columns.setdefault(key, []).append(value)
    return line


def _numbered(conv: Conversation, number: int) -> bool:
    """`conv`'s meta records `number` as the converter writes a record's number: after its file, before the rest."""
    meta = conv.meta
    return list(itertools.islice(meta, 2)) == ["file", "record"] and meta["record"] == number


def _number_at(conv: Conversation, line: bytes, number: int) -> int | None:
    """Where `line` (`conv.to_json()`) holds the record number of `conv`'s meta, when that is `number` (`_numbered`);
    else None. The meta is the line's last field, so it ends the line before its closing brace, and orjson writes it
    compactly, in its keys' order."""
    if not _numbered(conv, number):
        return None
    meta = conv.meta
    return len(line) - 1 - len(orjson.dumps(meta)) + len(b'{"file":' + orjson.dumps(meta["file"]) + b',"record":')


def convert_chunk(
    task: FileTask, indent: bytes, item: tuple[tuple[str, str] | None, Chunk]
) -> tuple[list[Any] | Block, int, str | None]:
    """`convert_batch` of the elements of one chunk of an indented array (`parallel.array_chunks`), read and parsed in
    the worker, numbered from the chunk's start (`Admitted.renumbered` numbers them in the file): the outcomes, how
    many elements were read, and why the element after them does not parse (None when all did)."""
    threshold, chunk = item
    raws: list[RawLine] = []
    broken = None
    try:
        for i, data in enumerate(array_elements(chunk.read(), indent)):
            raws.append(RawLine(chunk.path, i, data=data))
    except BrokenElement as e:
        broken = e.reason
    return convert_batch(task, (threshold, raws)), len(raws), broken


class Converter:
    """Streams sources into conversations; rejected records go to `on_reject` as they are found.

    Each file's records are read here and converted in batches (`convert_batch`) by the stage's worker processes
    (`parallel.Workers`) or in this process (an indented JSON array's are read by the workers themselves:
    `convert_chunk`); the results come back in file order and this process applies what
    depends on the records before: duplicate ids, counts, the format-sample pool. Any number of workers gives the
    same output."""

    def __init__(self, config: ConvertConfig, on_reject: Callable[[Rejected], None] = lambda r: None):
        self.config = config
        self.on_reject = on_reject
        self.stats = ConvertStats()
        self._ids: set[str] = set()
        self._format_pool: list[FormatItem] = []  # bottom-k by hash, bounded memory

    def run(self, sources: Iterable[Source]) -> Iterator[Conversation]:
        """Every conversation of the sources, then the format samples, converted in this process."""
        yield from self.converted(sources)
        yield from self.format_samples()

    def written(
        self, sources: Iterable[Source], workers: Workers, row: Callable[[Conversation], dict[str, Any]] | None = None
    ) -> Iterator[tuple[bytes, dict[str, list[Any]]]]:
        """`run` as JSON lines, converted by `workers`, a batch at a time: the batch's lines (each ended by a line end)
        and the columns of each one's `row` (a module-level function: a worker process calls it; None: no columns)."""
        yield from self.converted(sources, workers, Output(written=True, row=row))
        lines, columns = [], {}
        for conv in self.format_samples():
            _written_into(conv, row, lines, columns)
        if lines:
            yield lines_text(lines), columns

    def converted(self, sources: Iterable[Source], workers: Workers | None = None, out: Output = Output()) -> Iterator:
        for src in sources:
            yield from self.convert_source(src, workers, out)

    def convert_source(self, src: Source, workers: Workers | None = None, out: Output = Output()) -> Iterator:
        """A file, or every JSON/JSONL file of a folder (ToolBench writes one answer file a query), in name order."""
        root = Path(src.path)
        if not root.is_dir():
            yield from self.convert_file(src.path, src.format, src.columns, src.tags, workers=workers, out=out)
            return
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
        if not files:
            raise InputError(f"{root}: a folder with no .json or .jsonl file")
        for p in files:
            name = f"{root.name}/{p.relative_to(root)}"
            yield from self.convert_file(str(p), src.format, src.columns, src.tags, name=name, workers=workers, out=out)

    def open_source(
        self, path: str, fmt: str, columns: dict | None = None, tags: dict | None = None
    ) -> tuple[str, Iterator[RawLine]]:
        """The format of a file (detected or checked) and its records; raises InputError if unusable."""
        if fmt != "auto" and fmt not in READERS:
            raise InputError(f"{path}: unknown format {fmt!r} (expected auto or one of {', '.join(FORMATS)})")
        lines = iter_raw(path)
        head = list(itertools.islice(lines, DETECT_SAMPLE))
        sample = [r.data for r in head if r.error is None]
        if not sample:
            raise InputError(f"{path}: no readable JSON record in its first {len(head)} lines")
        found = detect(sample)
        if fmt == "auto":
            if found is None:
                raise InputError(f"{path}: not a recognised format (expected {', '.join(FORMATS)} records)")
            fmt = found
        elif not any(looks_like(fmt, r, columns, tags) for r in sample):
            raise InputError(f"{path}: records do not look like {fmt} (detected: {found or 'nothing known'})")
        return fmt, itertools.chain(head, lines)

    def convert_file(
        self,
        path: str,
        fmt: str = "auto",
        columns: dict | None = None,
        tags: dict | None = None,
        name: str | None = None,
        workers: Workers | None = None,
        out: Output = Output(),
    ) -> Iterator:
        """The conversations of one file (or what `out` asks for of them), in record order."""
        fmt, lines = self.open_source(path, fmt, columns, tags)
        mapping = {"columns": columns or {}, "tags": tags or {}} if fmt in MAPPED else {}
        task = FileTask(self.config, fmt, mapping, name or Path(path).name, out)
        workers = workers or Workers(1)
        indent = array_indent(path)
        if indent is None:  # read here, each batch of records sent to a worker as it is read
            batches = iter(lambda: list(itertools.islice(lines, BATCH)), [])
            sent = ((self._pool_threshold(), batch) for batch in batches)
            results = ((outcomes, 0) for outcomes in workers.ordered(functools.partial(convert_batch, task), sent))
        else:  # an indented array: this process finds where chunks end, and each worker reads and parses its own
            del lines  # the streamed reader opened for detection, closed
            results = self._array_results(path, task, indent, workers)
        for outcomes, offset in results:
            if isinstance(outcomes, Block):
                yield self._written(task, outcomes, offset)
                continue
            for outcome in outcomes:
                self.stats.read += 1
                if not isinstance(outcome, Admitted):
                    self._refused(outcome, offset)
                elif outcome.id in self._ids:
                    self._reject(Rejected(task.name, outcome.index + offset + 1, outcome.id, "id", "duplicate id"))
                else:
                    self._accept(outcome)
                    yield (outcome.renumbered(offset) if offset else outcome).record

    def _array_results(
        self, path: str, task: FileTask, indent: bytes, workers: Workers
    ) -> Iterator[tuple[list[Any] | Block, int]]:
        """The outcomes of each chunk of an indented array, in order, with how many records of the file came before
        the chunk (the workers number a chunk's records from its start; the converter numbers them in the file, as the
        streamed reader does); after those before an element that does not parse, `InputError` naming it, as that
        reader says it. This process only finds where chunks end: how many records a chunk holds is known once it is
        read."""
        chunks = ((self._pool_threshold(), chunk) for chunk in array_chunks(path, indent, workers.chunk_bytes))
        offset = 0
        for outcomes, read, broken in workers.ordered(functools.partial(convert_chunk, task, indent), chunks):
            yield outcomes, offset
            offset += read
            if broken is not None:
                raise InputError(f"{path}: not valid JSON at or after record {offset} of the array ({broken})")

    def _written(self, task: FileTask, block: Block, offset: int) -> tuple[bytes, dict[str, list[Any]]]:
        """A worker's block taken in file order (`offset`: the file's records before its batch): what is refused and
        dropped, duplicate ids, counts and the pool; the lines and columns of the records accepted, each numbered in
        the file."""
        kept: list[tuple[int, Kept]] = []  # each accepted record's place among the block's lines
        place = -1
        for outcome in block.outcomes:
            self.stats.read += 1
            if outcome.__class__ is not tuple:
                self._refused(outcome, offset)
                continue
            place += 1
            record = Kept(*outcome)
            if record.id in self._ids:
                self._reject(Rejected(task.name, record.index + offset + 1, record.id, "id", "duplicate id"))
                continue
            self._accept(record)
            kept.append((place, record))
        if len(kept) == place + 1 and not offset:
            return block.lines, block.columns
        lines = block.lines.split(b"\n")
        written = []
        for at, record in kept:
            line = lines[at]
            if offset and record.number_at is not None:  # the record number of its meta, in the file
                start, end = record.number_at, record.number_at + len(str(record.index + 1))
                line = line[:start] + str(record.index + offset + 1).encode() + line[end:]
            written.append(line)
        if len(kept) == place + 1:
            return lines_text(written), block.columns
        return lines_text(written), {key: [values[at] for at, _ in kept] for key, values in block.columns.items()}

    def _refused(self, outcome: Rejected | str, offset: int) -> None:
        """A record refused (quarantined, numbered in its file) or dropped by a rule (counted)."""
        if isinstance(outcome, Rejected):
            self._reject(dataclasses.replace(outcome, record=outcome.record + offset) if offset else outcome)
        else:
            self.stats.dropped[outcome] += 1

    def _accept(self, record: Admitted | Kept) -> None:
        self._ids.add(record.id)
        if record.candidate is not None:
            self._offer_format_candidate(record.candidate)
        self.stats.converted += 1
        self.stats.by_source[record.source] += 1
        self.stats.by_style[record.style] += 1
        self.stats.unused_branches += record.unused_branches

    def _reject(self, rejected: Rejected) -> None:
        self.stats.quarantined += 1
        self.on_reject(rejected)

    def _pool_threshold(self) -> tuple[float, str] | None:
        """The smallest item of a full format pool: a candidate not above it can never enter."""
        full = len(self._format_pool) >= self.config.format_samples
        return self._format_pool[0][:2] if full and self._format_pool else None

    def _offer_format_candidate(self, item: FormatItem) -> None:
        k = self.config.format_samples
        if len(self._format_pool) < k:
            heapq.heappush(self._format_pool, item)
        elif item > self._format_pool[0]:
            heapq.heapreplace(self._format_pool, item)

    def format_samples(self) -> Iterator[Conversation]:
        pool = sorted(self._format_pool, reverse=True)  # smallest hash first: a stable order
        for i, (_, conv_id, (_source, query, tools, thought, call)) in enumerate(pool):
            fmt = ("react", "json")[i % 2]
            self.stats.format_samples += 1
            self.stats.by_style["plain"] += 1
            yield render_format_sample(i, fmt, conv_id, f"format/{fmt}", query, tools, thought, call)
