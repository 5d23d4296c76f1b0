"""A JSONL file's records spread over worker processes in ordered chunks: the results one process would give, in
file order.

The file is cut at line ends into chunks of about `CHUNK_BYTES`; each worker reads its own chunk (nothing is sent to it
but the byte range) and returns what the stage's per-chunk function made of it: output lines already serialised,
counters, profile columns (the long byte strings, its output lines, through files in a temporary folder, `$TMPDIR`, at
most `AHEAD` chunks a worker unread and `AHEAD_BYTES` of input; the rest pickled). Results come back in chunk order
(`Executor.map`), so the stage writes the same bytes with any number of workers. A bad record raises `InputError` naming
the file, the record (its line) and the field, as the one-process reader does: the worker knows the record's line within
its chunk, and the chunks before it tell how many lines came first.

Workers are forked (`fork`: the stage's imports and state are shared; what is pickled is each chunk's range and its
result, and once a pass the pass's work, `_Once`); `workers=1` runs every chunk in this process, the same code.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import multiprocessing
import os
import pickle
import re
import tempfile
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import orjson

from agentflan.data.jsonio import InputError, iter_raw, layout, opened
from agentflan.data.schema import Conversation, SchemaError, conversation_from_dict, decode_conversation

R = TypeVar("R")
CHUNK_BYTES = 4 << 20
# chunks per worker submitted ahead of the stage's reading (192 MiB of input each): work for the 3 to 4 s a stage spends
# in `open()` (MLflow's and GX's imports) before it reads a result; 16 left both workers idle for the last 2 to 3 s of
# it (500k trajectories, 2 workers, interleaved: decompose 12.1-12.2 -> 11.7-12.0 s, balance 10.5-11.0 -> 10.0-10.1 s,
# negatives with its `open()` moved to its second pass 18.9-19.5 -> 18.4-18.7 s; peak memory the same; 5 Dec 2026)
AHEAD = 48
# ... but never more input than this in flight, unless 4 chunks a worker are more: results not yet read wait in
# `$TMPDIR`, and where many workers outrun the stage's one process they would fill it (64 workers: 12 GiB)
AHEAD_BYTES = 1 << 30
SPOOL_BYTES = 1 << 16  # a result's byte strings of at least this size come back through a file, not the pipe


def available_workers(requested: int = 0) -> int:
    """`requested`, or every core this process may run on when it is 0."""
    if requested > 0:
        return requested
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Chunk:
    """Lines `[start, end)` (bytes) of a file."""

    path: str
    start: int
    end: int

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read(self.end - self.start)

    def lines(self) -> list[bytes]:
        """The chunk's lines, without their line ends; the last line of a file that does not end in one too."""
        lines = self.read().split(b"\n")
        return lines if lines[-1] else lines[:-1]


class RecordError(Exception):
    """A record a worker could not read: its line within the chunk and the message, `{line}` standing for its line
    number in the file."""

    def __init__(self, line: int, message: str):
        super().__init__(line, message)  # both: it is pickled back from the worker with its args
        self.line = line
        self.message = message


def chunks(path: str | os.PathLike, size: int = CHUNK_BYTES, end: bytes = b"\n") -> Iterator[Chunk]:
    """The file cut into chunks of about `size` bytes, each ending just after an `end` (a line end; an indented
    array's element end, `array_chunks`), the last one at the file's end; only the bytes around each cut are read."""
    path, total = str(path), os.path.getsize(path)
    with open(path, "rb") as f:
        start = 0
        while start < total:
            stop, at = total, start + size - 1
            while at < total:  # the first `end` at or after start + size - 1
                f.seek(at)
                block = f.read(1 << 16)
                found = block.find(end)
                if found >= 0:
                    stop = at + found + len(end)
                    break
                if at + len(block) >= total:  # none: the chunk runs to the file's end
                    break
                at += len(block) - len(end) + 1  # an `end` across two reads is found by the second
            yield Chunk(path, start, stop)
            start = stop


# `json.dump(records, f, indent=k)`'s layout: `[`, each object's opening brace on a line of its own at the elements'
# indentation, its first key at twice that
_INDENTED = re.compile(rb"\s*\[\n( +)\{\n\1\1\"")


def array_indent(path: str | os.PathLike) -> bytes | None:
    """The indentation of a JSON array's elements where the file is laid out as `json.dump(records, f, indent=k)`
    writes it (ToolBench's preprocessing does; so does the demo): each object's closing brace is then alone on a line
    at that indentation, and nothing else is (a deeper value's lines are indented further, and a JSON string holds no
    line break), so the elements can be told apart without parsing them. None for any other layout."""
    with open(path, "rb") as f:
        found = _INDENTED.match(f.read(1 << 16))
    return found[1] if found else None


def array_chunks(path: str | os.PathLike, indent: bytes, size: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """An indented JSON array (`array_indent`) cut into chunks of about `size` bytes, each ending just after an
    element's closing `},` (the last one at the file's end)."""
    return chunks(path, size, _element_end(indent))


def _element_end(indent: bytes) -> bytes:
    """How an element of an indented array that is not its last ends: its closing brace alone at the indentation."""
    return b"\n" + indent + b"},"


class BrokenElement(ValueError):
    """An element of an indented array that does not parse: its index in the chunk and why."""

    def __init__(self, index: int, reason: str):
        super().__init__(index, reason)
        self.index = index
        self.reason = reason


def array_elements(data: bytes, indent: bytes) -> Iterator[Any]:
    """The parsed elements of a chunk of an indented array (`array_chunks`), in order; `BrokenElement` at the first
    that does not parse. Between two closing braces at the elements' indentation lies one object, or, where the array
    holds values written on one line (`{}`, a number), those values before it: such a stretch is read as an array of
    them. What orjson refuses and JSON allows (integers past 64 bits) is read by the standard library."""
    text = data.strip()
    text = text[1:] if text[:1] == b"[" else text
    text = text[:-1] if text[-1:] == b"]" else text
    parts = text.split(_element_end(indent))
    last = parts.pop()  # the array's last element, or nothing after a chunk's last separator
    done = 0
    for stretch in [part + b"}" for part in parts] + ([last] if last.strip() else []):
        try:
            values = [orjson.loads(stretch)]
        except orjson.JSONDecodeError:
            values = _values(b"[" + stretch + b"]", done)
        yield from values
        done += len(values)


def _values(array: bytes, done: int) -> list[Any]:
    """The elements of a stretch of an indented array read as an array; `BrokenElement` (at the stretch's first
    element, `done` being those before it) when it does not parse."""
    try:
        return orjson.loads(array)
    except orjson.JSONDecodeError as e:
        try:
            return json.loads(array)
        except ValueError:
            raise BrokenElement(done, " ".join(str(e).split())) from None


def conversations(lines: list[bytes]) -> Iterator[Conversation]:
    """The canonical records of a chunk's lines, each decoded and type-checked by msgspec; blank lines skipped."""
    return (conv for _, conv in _lined(lines))


def conversations_at(lines: list[bytes], start: int) -> Iterator[tuple[int, Conversation]]:
    """(where its line starts in the file, record) of each record of a chunk's lines (`Workers.map(...,
    positioned=True)` gives the chunk's `start`), so that a later step reads a record again at its place (`read_at`)
    instead of the whole file."""
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=start))
    return ((starts[i], conv) for i, _, conv in _indexed(lines))


def read_at(path: str | os.PathLike, places: dict[str, int]) -> dict[str, Conversation]:
    """The records whose lines start at `places` (by id: `conversations_at`'s places of a file not changed since),
    read in file order."""
    out: dict[str, Conversation] = {}
    with open(path, "rb") as f:
        for rid, at in sorted(places.items(), key=lambda item: item[1]):
            f.seek(at)
            out[rid] = next(conversations([f.readline().rstrip(b"\n")]))
    return out


def _lined(lines: list[bytes]) -> Iterator[tuple[bytes | None, Conversation]]:
    """(line, record) of each record of a chunk's lines (`_indexed`)."""
    return ((line, conv) for _, line, conv in _indexed(lines))


def _indexed(lines: list[bytes]) -> Iterator[tuple[int, bytes | None, Conversation]]:
    """(index, line, record) of each record of a chunk's lines; the line is None for a record msgspec's parser refused
    and orjson read (its line is not what `to_json` writes)."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield i, line, decode_conversation(line)
        except SchemaError as e:
            raise RecordError(i, f"record {{line}}{_id_of(line)}: field {e}") from None
        except msgspec.DecodeError:
            try:  # orjson's reading of it: its error message, or a value msgspec's parser refuses and orjson takes
                data = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise RecordError(i, f"invalid JSON on line {{line}}: {e}") from None
            try:
                yield i, None, conversation_from_dict(data)
            except SchemaError as e:
                raise RecordError(i, f"record {{line}}{_id_of(line)}: field {e}") from None


class Records:
    """The canonical records of a chunk's lines (`conversations`), each record's JSON line at hand while it is the
    last one read: a record a stage passes on unchanged is written as the line it came in, not encoded again
    (`Conversation.to_json` of a line it wrote reads back to a record that writes that line again: checked on every
    record of a 500k-trajectory corpus, and `tests/data/test_parallel.py`). Encoding was a quarter of balance's
    per-record work, and every record of the default mix passes balance unchanged (5 Dec 2026)."""

    def __init__(self, lines: list[bytes]):
        self._lined = _lined(lines)
        self._line: bytes | None = None
        self._last: Conversation | None = None

    def __iter__(self) -> Iterator[Conversation]:
        for line, conv in self._lined:
            self._line, self._last = line, conv
            yield conv

    def line(self, conv: Conversation, changed: bool = False) -> bytes:
        """`conv`'s JSON line: the line it was read from when it is the record last read and not `changed` since
        (balance masks pieces of a record in place), else `conv.to_json()`."""
        return (None if changed else self.read_line(conv)) or conv.to_json()

    def read_line(self, conv: Conversation) -> bytes | None:
        """The line `conv` was read from, when it is the record last read and msgspec read it (not orjson: such a
        line is not what `to_json` writes); else None."""
        return self._line if conv is self._last else None


S = TypeVar("S", bound=msgspec.Struct)


@functools.cache
def _decoder(struct: type[S]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(struct)


def fields_of(struct: type[S], lines: list[bytes], indexed: bool = False) -> Iterator[Any]:
    """Of each record of a chunk, only the fields `struct` declares (a first pass's read: msgspec skips the rest of
    the line without building it, turns and all); `indexed`: (its line's index, them). A line that does not decode so
    is read whole, so that a bad record fails with the error a full read gives (its line, its field); one that reads
    whole gives `struct`'s fields."""
    decoder = _decoder(struct)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            whole = next(conversations([b""] * i + [line]))  # raises RecordError naming line i
            record = msgspec.convert(whole, struct, from_attributes=True)
        yield (i, record) if indexed else record


def decoded(lines: list[bytes]) -> list[Conversation]:
    """Every canonical record of a chunk (`read_conversations` reads a file chunk by chunk with it)."""
    return list(conversations(lines))


def _id_of(line: bytes) -> str:
    with contextlib.suppress(orjson.JSONDecodeError):
        data = orjson.loads(line)
        if isinstance(data, dict) and "id" in data:
            return f" (id {data['id']!r})"
    return ""


def _run(work: Callable[[list[bytes]], R], chunk: Chunk) -> tuple[int, R | RecordError]:
    return _run_lines(work, chunk.lines())


def _run_at(work: Callable[[list[bytes], int], R], chunk: Chunk) -> tuple[int, R | RecordError]:
    return _run_lines(functools.partial(_at, work, chunk.start), chunk.lines())


def _at(work: Callable[[list[bytes], int], R], start: int, lines: list[bytes]) -> R:
    return work(lines, start)


class Workers:
    """`workers` forked processes (none for 1), made once for every pass of a stage: `with Workers(n) as w:
    w.map(path, work)`. Made before the stage starts any thread (MLflow's): a thread running at a fork leaves its
    locks held in the children."""

    def __init__(self, workers: int = 1, chunk_bytes: int = CHUNK_BYTES):
        self.workers = workers
        self.chunk_bytes = chunk_bytes
        # chunks in flight: what the stage has not read yet is bounded, not the file
        self.ahead = max(4 * workers, min(AHEAD * workers, AHEAD_BYTES // chunk_bytes))
        self._pool: Any = None
        self._spool: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Workers:
        if self.workers > 1:  # a worker that dies (killed for memory) fails the stage (BrokenProcessPool): no hang
            self._spool = tempfile.TemporaryDirectory(prefix="agentflan-chunks-")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
            self._pool.submit(int).result()  # every worker forked now (a forked pool starts all at its first task),
            # before the stage's threads: MLflow's, an output's writeback (`jsonio._Writeback`)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._spool.cleanup()  # what an unread result (a failed stage's) left

    def map(self, path: str | os.PathLike, work: Callable[..., R], positioned: bool = False) -> Iterator[R]:
        """`work(lines)` of every chunk of a JSONL file, in file order; `positioned`: `work(lines, start)`, `start`
        being where the chunk starts in the file (`conversations_at`). `work` must be a module-level function (or a
        `functools.partial` of one); it raises `RecordError` for a bad record. The workers start on the chunks at
        once (the caller may do other work before it reads the first result); a JSON array (not what a stage writes,
        but what a hand-made input may be) is read in this process, its records written back as lines (its records
        have no places in a file of lines: `positioned` refuses it)."""
        path = str(path)
        run = _run_at if positioned else _run
        if not is_jsonl(path):
            if positioned:
                raise InputError(f"{path}: expected JSON lines (one record per line), got another layout")
            results = map(functools.partial(_run_lines, work), _array_chunks(path))
        elif self._pool is not None and os.path.getsize(path) > self.chunk_bytes:
            once = _Once(work, self._spool.name)
            task = functools.partial(_call_in_worker, functools.partial(run, once), self._spool.name)
            results = _Ahead(self._pool, task, chunks(path, self.chunk_bytes), self.ahead, once)
        else:
            results = map(functools.partial(run, work), chunks(path, self.chunk_bytes))
        return self._in_order(path, results)

    def ordered(self, fn: Callable[[Any], R], items: Iterator[Any]) -> Iterator[R]:
        """`fn(item)` of every item, in order, on the workers (at most `ahead` items taken and not yet read back: an
        item is taken from `items` when it is sent) or in this process. `fn` as for `map`; an exception in a worker
        fails the stage with the worker's traceback."""
        if self._pool is None:
            return map(fn, items)
        once = _Once(fn, self._spool.name)
        run = functools.partial(_call_in_worker, once, self._spool.name)
        return (_unfailed(r) for r in _Ahead(self._pool, run, items, self.ahead, once))

    @staticmethod
    def _in_order(path: str, results: Iterator[tuple[int, Any] | _Failed]) -> Iterator[Any]:
        before = 0
        for item in results:
            if isinstance(item, _Failed):
                raise RuntimeError(f"{path}: a worker failed on the chunk after line {before}:\n{item.traceback}")
            n, result = item
            if isinstance(result, RecordError):
                raise InputError(f"{path}: {result.message.format(line=before + result.line + 1)}")
            before += n
            yield result


class _Once:
    """A pass's work, sent to each worker once: pickled to a file of the spool folder here, and read back by a worker
    the first time a chunk of the pass comes to it; each chunk's task carries the file's name only. What the work
    carries can be large (the held-out list of a 500k-trajectory corpus, 47k queries: 3 MB pickled); sent with each
    chunk it cost 19 ms here and 14 ms in the worker a chunk, 9 s of CPU a pass of 290 chunks (5 Dec 2026)."""

    def __init__(self, work: Callable[[Any], Any], folder: str):
        fd, self.path = tempfile.mkstemp(dir=folder, suffix=".work")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(work, f, protocol=pickle.HIGHEST_PROTOCOL)

    def __call__(self, *args: Any) -> Any:
        work = _WORK.get(self.path)
        if work is None:
            _WORK.clear()  # the pass before's: passes run one after another
            with open(self.path, "rb") as f:
                work = _WORK[self.path] = pickle.load(f)  # this stage's own pickle, written above
        return work(*args)


_WORK: dict[str, Callable[[Any], Any]] = {}  # in a worker: the work of the pass it is in, by its `_Once` file


class _Ahead:
    """Results of `fn` over `items` in order, at most `ahead` submitted and not yet read (the first at once); `once`'s
    file removed when the last is read."""

    def __init__(
        self, pool: ProcessPoolExecutor, fn: Callable[[Any], Any], items: Iterator[Any], ahead: int, once: _Once
    ):
        self.pool, self.fn, self.items, self.once = pool, fn, items, once
        self.pending: collections.deque = collections.deque()
        for item in itertools.islice(items, ahead):
            self.pending.append(pool.submit(fn, item))

    def __iter__(self) -> _Ahead:
        return self

    def __next__(self) -> Any:
        if not self.pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.once.path)  # every worker that took a chunk of the pass has read it
            raise StopIteration
        done = self.pending.popleft()
        for item in itertools.islice(self.items, 1):
            self.pending.append(self.pool.submit(self.fn, item))
        return _unspooled(done.result())


def map_chunks(path: str | os.PathLike, work: Callable[[list[bytes]], R]) -> Iterator[R]:
    """`Workers(1).map`: every chunk in this process."""
    return Workers(1).map(path, work)


@dataclass(frozen=True)
class _Failed:
    """An unexpected error in a worker, as text (an exception object might not unpickle in the stage's process)."""

    traceback: str


def _call_in_worker(fn: Callable[[Any], R], spool: str, item: Any) -> R | _Failed:
    try:
        return _spooled(fn(item), spool)
    except Exception:  # noqa: BLE001 - reported with its traceback by the stage's process
        return _Failed(traceback.format_exc())


@dataclass(frozen=True)
class _Spooled:
    """A worker's result bytes, in a file of the stage's spool folder."""

    path: str


def _parts(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """`value` with `leaf` applied to each part of it that is not a tuple (a NamedTuple too) or a dict (a chunk's
    result: a tuple of output lines, counters, columns, or a dict of output files' lines)."""
    if isinstance(value, tuple):
        parts = tuple(_parts(v, leaf) for v in value)
        return type(value)(*parts) if hasattr(value, "_fields") else parts
    if type(value) is dict:
        return {k: _parts(v, leaf) for k, v in value.items()}
    return leaf(value)


def _spooled(value: Any, folder: str) -> Any:
    """`value` with its long byte strings written to files of `folder`: a chunk's output crosses to the stage's
    process in one write and one read, not pickled through a pipe of 64 KiB (decompose's system time at 500k
    trajectories on 2 cores: 7.4 s of its 25 s of CPU before, 3.0 s after; 5 Dec 2026)."""
    return _parts(value, functools.partial(_spool, folder))


def _spool(folder: str, part: Any) -> Any:
    if not (isinstance(part, bytes) and len(part) >= SPOOL_BYTES):
        return part
    fd, path = tempfile.mkstemp(dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(part)
    return _Spooled(path)


def _unspooled(value: Any) -> Any:
    """`_spooled`'s inverse, in the stage's process (each file removed once read)."""
    return _parts(value, _read_back)


def _read_back(part: Any) -> Any:
    if not isinstance(part, _Spooled):
        return part
    with open(part.path, "rb") as f:
        data = f.read()
    os.unlink(part.path)
    return data


def _unfailed(result: Any) -> Any:
    if isinstance(result, _Failed):
        raise RuntimeError(f"a worker failed:\n{result.traceback}")
    return result


def _run_lines(work: Callable[[list[bytes]], R], lines: list[bytes]) -> tuple[int, R | RecordError]:
    try:
        return len(lines), work(lines)
    except RecordError as e:
        return len(lines), e


def _array_chunks(path: str, size: int = 1000) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for raw in iter_raw(path):
        batch.append(orjson.dumps(raw.data))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def is_jsonl(path: str | os.PathLike) -> bool:
    """The file holds one JSON value per line (what a stage writes), not a JSON array or one object over lines;
    `InputError` when it cannot be read (missing, a folder, empty)."""
    with opened(Path(path)) as f:
        return layout(f) == "lines"
