"""Reading and writing JSON records: streamed, and published atomically.

`atomic_writer` writes to a temporary file beside the target, fsyncs it and renames it over the
target only when the block finishes without an exception, so a killed or failed stage never leaves a
half-written output and the previous output stays intact until the new one is complete. What is written goes to
disk while the rest is still being made (`_Writeback`), so the final fsync has little left to wait for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from agentflan.data.schema import Conversation, conversation_from_dict

T = TypeVar("T")


class InputError(Exception):
    """A whole input is unusable (missing, unreadable, empty, wrong format). Names the file."""


@dataclass
class RawLine:
    """One record of an input file, or the reason it could not be read."""

    path: str
    index: int  # 0-based record index (line number - 1 for JSONL)
    data: Any = None
    error: str | None = None


WRITEBACK_BYTES = 32 << 20  # written and not yet on disk: what `_Writeback` lets pile up
WRITEBACK_EVERY_S = 0.25


class _Writeback:
    """A thread that syncs a file being written (`os.fdatasync`) each time another `WRITEBACK_BYTES` of it reached the
    OS, while the writer goes on: the kernel starts writing a file's pages back only past 10% of memory dirty or 30 s,
    so a stage's output of 1.2 GB sat in memory until its final fsync, 0.8 s of a 14 s stage spent waiting on the disk
    at its end (decompose, 500k trajectories, 5 Dec 2026). The final fsync stays the writer's; this only makes it
    short, and, once the writer says it wrote its last bytes (`sync_ahead`), syncs them while the stage validates.
    Stopped, and joined, before the file is closed (`with _Writeback(fd):`)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.stop = threading.Event()
        self.last = threading.Event()  # the writer wrote its last bytes (or stops)
        self.thread = threading.Thread(target=self._run, name="agentflan-writeback", daemon=True)

    def __enter__(self) -> _Writeback:
        _WRITEBACKS[self.fd] = self
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _WRITEBACKS.pop(self.fd, None)
        self.stop.set()
        self.last.set()
        self.thread.join()

    def _run(self) -> None:
        synced = 0
        while not self.stop.is_set():
            last = self.last.wait(WRITEBACK_EVERY_S)
            if self.stop.is_set():
                return
            size = os.fstat(self.fd).st_size
            if size - synced >= WRITEBACK_BYTES or (last and size > synced):
                try:
                    os.fdatasync(self.fd)
                except OSError:  # a file system that cannot: the writer's own fsync says what is wrong, if anything
                    return
                synced = size
            if last:  # what is written after it, the writer's own fsync syncs
                return


_WRITEBACKS: dict[int, _Writeback] = {}  # by file descriptor, while its file is written


def sync_ahead(f: IO) -> None:
    """The stage wrote its last bytes to `f` (an `atomic_writer`'s file): they go to the disk now, in the background,
    while it validates what it wrote, so that publishing the file waits on the disk for no more than what was written
    after (500k trajectories: the negatives stage's six files took 0.5 s to close after its validation, 6 Dec 2026)."""
    f.flush()
    writeback = _WRITEBACKS.get(f.fileno())
    if writeback is not None:
        writeback.last.set()


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(
        f".{path.name}.*.tmp"
    ):  # left by a writer killed outright (SIGKILL): one writer per output
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            with _Writeback(fd):
                yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_writer(path) as f:
        f.write(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")


def read_json(path: str | os.PathLike) -> Any:
    return orjson.loads(Path(path).read_bytes())


def lines_text(lines: list[bytes]) -> bytes:
    """JSON lines (without their line ends) as the bytes of a JSONL file: each one ended by a line end, joined in one
    copy."""
    return b"\n".join([*lines, b""])


def write_jsonl(f: IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for row in rows:
        f.write(orjson.dumps(row) + b"\n")  # key order as written: a tool schema stays as its source wrote it
        n += 1
    return n


def iter_raw(path: str | os.PathLike) -> Iterator[RawLine]:
    """Records of a JSONL file, of a JSON array file (ToolBench's preprocessing writes an array), or the one record of
    a file holding a single JSON object over several lines (ToolBench's answer files).

    Both are streamed: a JSONL file line by line, an array element by element (ijson's C backend), so
    memory does not grow with the file. Unparseable JSONL lines come back as `RawLine(error=...)` so the
    caller can quarantine them; an array that breaks off raises `InputError` naming the record where it
    broke (the records before it have been yielded; stages write atomically, so nothing half-written is
    published); a file that cannot be read at all raises `InputError`.
    """
    p = Path(path)
    with opened(p) as fh:
        kind = layout(fh)
        if kind == "array":
            import ijson

            done = 0
            try:
                for rec in ijson.items(fh, "item", use_float=True):
                    yield RawLine(str(p), done, data=rec)
                    done += 1
            except ijson.JSONError as e:
                reason = " ".join(str(e).split())
                raise InputError(f"{p}: not valid JSON at or after record {done} of the array ({reason})") from None
            return
        if kind == "object":  # one object over several lines, or JSONL whose first line is broken
            try:
                whole = orjson.loads(fh.read())
            except orjson.JSONDecodeError:
                whole = None  # not one object: JSONL whose first line is broken (quarantined below, line by line)
            if isinstance(whole, dict):
                yield RawLine(str(p), 0, data=whole)
                return
        fh.seek(0)
        seen = False
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            seen = True
            try:
                yield RawLine(str(p), i, data=orjson.loads(line))
            except orjson.JSONDecodeError as e:
                yield RawLine(str(p), i, error=f"invalid JSON on line {i + 1}: {e}")
        if not seen:
            raise InputError(f"{p}: empty file")


@contextlib.contextmanager
def opened(p: Path) -> Iterator[IO[bytes]]:
    """The file open for reading, or `InputError` saying why it cannot be read (missing, a folder, empty)."""
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        fh = p.open("rb")
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})") from None
    with fh:
        if not fh.read(4096).lstrip():
            raise InputError(f"{p}: empty file")
        fh.seek(0)
        yield fh


def layout(fh: IO[bytes]) -> str:
    """How an open file holds its records, read from its head (the file is left at its start): "array" (a JSON
    array), "object" (one object over several lines, or JSONL whose first line does not parse) or "lines" (JSONL)."""
    head = fh.read(4096).lstrip()
    fh.seek(0)
    kind = "lines"
    if head[:1] == b"[":
        kind = "array"
    elif head[:1] == b"{" and not _is_json(fh.readline()):
        kind = "object"
    fh.seek(0)
    return kind


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def read_records(path: str | os.PathLike, parse: Callable[[Any], T]) -> Iterator[T]:
    """Stream a JSONL (or JSON array) file through `parse`; a record it refuses raises `InputError` naming the
    file, the record number (and id) and the field (`parse` raises a ValueError whose `field` says which)."""
    for raw in iter_raw(path):
        if raw.error:
            raise InputError(f"{path}: {raw.error}")
        try:
            yield parse(raw.data)
        except ValueError as e:
            if not hasattr(e, "field"):
                raise
            rid = f" (id {raw.data['id']!r})" if isinstance(raw.data, dict) and "id" in raw.data else ""
            raise InputError(f"{path}: record {raw.index + 1}{rid}: field {e}") from None


def read_conversations(path: str | os.PathLike) -> Iterator[Conversation]:
    """Stream canonical records written by an earlier stage (JSONL: each line decoded straight into its types by
    msgspec; a JSON array is read as `read_records` reads it); a bad one raises naming file, record and field."""
    from agentflan.data import parallel

    if not parallel.is_jsonl(path):
        return read_records(path, conversation_from_dict)
    return (conv for chunk in parallel.map_chunks(path, parallel.decoded) for conv in chunk)


def write_conversations(path: str | os.PathLike, conversations: Iterable[Conversation]) -> int:
    n = 0
    with atomic_writer(path) as f:
        for c in conversations:
            f.write(c.to_json() + b"\n")
            n += 1
    return n


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Fill a fresh temporary directory; it replaces `path` only if the block succeeds."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
