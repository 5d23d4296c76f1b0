"""Records spread over worker processes in ordered chunks: the same records in the same order as one process, chunks
cut at line ends, and a bad record named by its file line however the file was cut."""

from __future__ import annotations

import functools
import json
import os

import msgspec
import orjson
import pytest

from agentflan.data import parallel
from agentflan.data.jsonio import InputError, read_records
from agentflan.data.parallel import Workers, chunks, decoded
from agentflan.data.schema import Conversation, Tool, ToolCall, Turn, conversation_from_dict


def corpus(n: int) -> list[Conversation]:
    """`n` distinct native-call conversations (ids, queries, arguments and call labels differ)."""
    out = []
    for i in range(n):
        call = ToolCall("get_weather", {"city": f"City {i}", "days": i % 5}, id=f"call_{i}")
        turns = [
            Turn("user", f"Weather in City {i}?"),
            Turn("assistant", f"Thought {i}", loss=True, part="thought", tool_calls=[call]),
            Turn("tool", orjson.dumps({"t": i}).decode(), name="get_weather", tool_call_id=f"call_{i}"),
            Turn("assistant", f"It is {i} degrees.", loss=i % 3 != 0, part="answer"),
        ]
        turns[1].call_loss[0]["arguments"] = i % 2 == 0
        tools = [Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})]
        out.append(Conversation(f"c{i}", "toolbench", "agent", "native", turns, tools, f"Weather in City {i}?"))
    return out


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"".join(c.to_json() + b"\n" for c in corpus(300)))
    return path


def test_chunks_end_at_line_ends_and_cover_the_file(jsonl):
    data = jsonl.read_bytes()
    for size in (1, 100, 997, 5000, len(data), 10 * len(data)):
        cut = list(chunks(str(jsonl), size))
        assert cut[0].start == 0 and cut[-1].end == len(data)
        assert all(a.end == b.start for a, b in zip(cut, cut[1:]))
        assert all(data[c.end - 1 : c.end] == b"\n" for c in cut)
        assert [line for c in cut for line in c.lines()] == data.split(b"\n")[:-1]


def test_several_workers_give_the_records_one_process_reads_in_file_order(jsonl):
    expected = [c.to_json() for c in corpus(300)]
    with Workers(1) as one:
        alone = [c.to_json() for part in one.map(jsonl, decoded) for c in part]
    with Workers(3, chunk_bytes=2000) as three:
        parts = list(three.map(jsonl, decoded))
    assert len(parts) > 10  # really cut: many chunks over three processes
    assert [c.to_json() for part in parts for c in part] == alone == expected
    assert [c.to_json() for c in read_records(jsonl, conversation_from_dict)] == expected  # the dict path agrees


def test_decoded_records_keep_the_native_call_labels(jsonl):
    back = [c for part in Workers(1).map(jsonl, decoded) for c in part]
    assert back[1].turns[1].call_loss == [{"name": True, "arguments": False}]
    assert back[2].turns[1].call_loss == [{"name": True, "arguments": True}]
    assert back[1].turns[1].tool_calls == [ToolCall("get_weather", {"city": "City 1", "days": 1}, id="call_1")]


@pytest.mark.parametrize("workers", [1, 3])
def test_a_bad_record_is_named_by_its_line_in_the_file_whatever_the_chunks(jsonl, workers):
    lines = jsonl.read_bytes().split(b"\n")
    lines[250] = lines[250].replace(b'"role":"tool"', b'"role":"robot"', 1)
    jsonl.write_bytes(b"\n".join(lines))
    with Workers(workers, chunk_bytes=1500) as w, pytest.raises(InputError) as err:
        list(w.map(jsonl, decoded))
    assert str(err.value) == (
        f"{jsonl}: record 251 (id 'c250'): field turns[2].role: unknown role 'robot' "
        "(expected one of system, user, assistant, tool)"
    )


def test_broken_json_and_a_wrong_type_are_named(jsonl):
    lines = jsonl.read_bytes().split(b"\n")
    lines[7] = b'{"id": "c7", "turns": [{"role"'
    jsonl.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"c\.jsonl: invalid JSON on line 8: "):
        list(Workers(1, chunk_bytes=700).map(jsonl, decoded))
    lines[7] = lines[8].replace(b'"content":"Weather in City 8?"', b'"content":8', 1)
    jsonl.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError) as err:
        list(Workers(1).map(jsonl, decoded))
    assert str(err.value).endswith("record 8 (id 'c8'): field turns[0].content: expected str, got int")


def test_a_json_array_is_read_in_this_process_and_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps([c.to_dict() for c in corpus(5)], option=orjson.OPT_INDENT_2))
    with Workers(3, chunk_bytes=10) as w:
        assert [c.id for part in w.map(path, decoded) for c in part] == [f"c{i}" for i in range(5)]
    (tmp_path / "empty.jsonl").write_bytes(b"\n  \n")
    with pytest.raises(InputError, match="empty file"):
        list(Workers(1).map(tmp_path / "empty.jsonl", decoded))
    with pytest.raises(InputError, match="no such file"):
        list(Workers(1).map(tmp_path / "missing.jsonl", decoded))


def test_every_core_unless_told(monkeypatch):
    assert parallel.available_workers(3) == 3
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    assert parallel.available_workers(0) == 5


def _fails_on_c4(lines: list[bytes]) -> int:
    if any(c.id == "c4" for c in decoded(lines)):
        raise KeyError("c4")
    return len(lines)


def test_an_unexpected_error_in_a_worker_fails_the_stage_with_its_traceback(jsonl):
    with Workers(2, chunk_bytes=1000) as w, pytest.raises(RuntimeError) as err:
        list(w.map(jsonl, _fails_on_c4))
    assert "a worker failed on the chunk after line" in str(err.value)
    assert "KeyError: 'c4'" in str(err.value)


def _square_unless_seven(n: int) -> int:
    if n == 7:
        raise ValueError("seven")
    return n * n


def test_ordered_items_come_back_in_order_and_a_failure_names_its_traceback():
    taken = []
    items = (taken.append(n) or n for n in range(200))  # an item is taken as it is sent
    with Workers(3) as w:
        assert list(w.ordered(abs, iter(range(-20, 20)))) == [abs(n) for n in range(-20, 20)]
        results = w.ordered(_square_unless_seven, items)
        assert next(results) == 0 and len(taken) < 200  # not the whole iterator at once
        with pytest.raises(RuntimeError) as err:
            list(results)
    assert "ValueError: seven" in str(err.value)
    assert list(Workers(1).ordered(abs, iter([-2, 3]))) == [2, 3]  # no pool: in this process


def _lines_and_sizes(lines: list[bytes]) -> tuple[bytes, dict[str, bytes | int], list[int]]:
    text = b"".join(line + b"\n" for line in lines)
    return text, {"half": text[: len(text) // 2], "size": len(text)}, [len(line) for line in lines]


def test_long_results_come_back_through_spool_files_that_are_gone_after(jsonl, monkeypatch):
    """A chunk's output bytes (in a tuple, in a dict) cross from the worker in a file: the same results as in one
    process, and the spool folder is gone when the workers are, its files read or not."""
    monkeypatch.setattr(parallel, "SPOOL_BYTES", 1000)  # the chunks' texts are ~2-8 KB here
    with Workers(1, chunk_bytes=4000) as one:
        alone = list(one.map(jsonl, _lines_and_sizes))
    read = []
    with Workers(2, chunk_bytes=4000) as two:
        folder = two._spool.name
        taken = parallel._read_back
        monkeypatch.setattr(parallel, "_read_back", lambda part: read.append(part) or taken(part))
        assert list(two.map(jsonl, _lines_and_sizes)) == alone
        assert os.listdir(folder) == []  # each file removed as it was read, and the pass's work once it is done
        unread = two.map(jsonl, _lines_and_sizes)
        next(unread)  # the others are in flight or written, and never read
    spooled = sum(isinstance(v, parallel._Spooled) for v in read)  # `_read_back` sees every part of a result
    assert len(alone) > 5 and spooled == 2 * (len(alone) + 1)  # each chunk's text and half of it, in files
    assert not os.path.exists(folder)
    assert parallel._spooled((b"x" * 5, [b"y" * 2000]), folder) == (b"x" * 5, [b"y" * 2000])  # short, or in a list


def test_a_named_tuples_long_bytes_are_spooled_and_its_type_kept(tmp_path, monkeypatch):
    """A result that is a NamedTuple (convert's `Block`: a batch's lines in one byte string) is walked as a tuple: its
    long bytes go through a file, and it comes back as the same type with the same fields."""
    from agentflan.data.convert import Block

    monkeypatch.setattr(parallel, "SPOOL_BYTES", 1000)
    block = Block([(0, "a", "s", "native", 0, None, None)], b"{}\n" * 500, {"id": ["a"]})
    sent = parallel._spooled((block, 3, None), str(tmp_path))
    assert type(sent[0]) is Block and isinstance(sent[0].lines, parallel._Spooled)
    assert sent[0].outcomes == block.outcomes and sent[0].columns == block.columns  # short parts as they were
    back = parallel._unspooled(sent)
    assert back == (block, 3, None) and type(back[0]) is Block
    assert os.listdir(tmp_path) == []


class _Counted:
    """A large argument of a pass's work, as the held-out list is: counts how often this process pickles it."""

    pickled = 0

    def __reduce__(self):
        _Counted.pickled += 1
        return (_Counted, ())


def _count_with(counted: _Counted, lines: list[bytes]) -> tuple[int, str]:
    return len(lines), type(counted).__name__


def test_a_pass_s_work_is_sent_to_the_workers_once_not_with_every_chunk(jsonl):
    work = functools.partial(_count_with, _Counted())
    with Workers(1, chunk_bytes=4000) as one:
        alone = list(one.map(jsonl, work))
    assert _Counted.pickled == 0  # one process: nothing is sent
    with Workers(2, chunk_bytes=4000) as two:
        assert list(two.map(jsonl, work)) == alone and len(alone) > 5
        assert _Counted.pickled == 1  # written once to the spool folder, read there by each worker
        assert os.listdir(two._spool.name) == []  # and removed when the pass is done
        assert [n for n, _ in two.ordered(work, ([b"x"] * k for k in range(1, 9)))] == list(range(1, 9))
        assert _Counted.pickled == 2  # once more for the second pass, whatever the number of its items


def test_a_file_whose_last_line_has_no_line_end_loses_no_record(jsonl):
    jsonl.write_bytes(jsonl.read_bytes().rstrip(b"\n"))  # as an editor or `json.dump` per line may leave it
    ids = [c.id for c in corpus(300)]
    with Workers(1, chunk_bytes=2000) as one, Workers(2, chunk_bytes=2000) as two:
        for workers in (one, two):
            assert [c.id for part in workers.map(jsonl, decoded) for c in part] == ids
            placed = [p for part in workers.map(jsonl, _places, positioned=True) for p in part]
            assert list(parallel.read_at(jsonl, dict(placed[-2:]))) == ids[-2:]


def _places(lines: list[bytes], start: int) -> list[tuple[str, int]]:
    return [(conv.id, at) for at, conv in parallel.conversations_at(lines, start)]


def test_each_record_is_placed_where_its_line_starts_and_read_back_there(jsonl):
    lines = jsonl.read_bytes().split(b"\n")
    lines[7] = b""  # a blank line, and one of spaces: skipped, and counted in the places after them
    lines[120] = b"   "
    jsonl.write_bytes(b"\n".join(lines))
    kept = [c for i, c in enumerate(corpus(300)) if i not in (7, 120)]
    with Workers(3, chunk_bytes=2000) as three:
        placed = [p for part in three.map(jsonl, _places, positioned=True) for p in part]
    with Workers(1, chunk_bytes=2000) as one:
        assert [p for part in one.map(jsonl, _places, positioned=True) for p in part] == placed
    assert [rid for rid, _ in placed] == [c.id for c in kept]
    data = jsonl.read_bytes()
    assert all(data[at : data.index(b"\n", at)] == c.to_json() for (_, at), c in zip(placed, kept))
    wanted = {rid: at for rid, at in placed if rid in ("c0", "c8", "c150", "c299")}
    read = parallel.read_at(jsonl, wanted)
    assert {k: v.to_json() for k, v in read.items()} == {c.id: c.to_json() for c in kept if c.id in wanted}
    array = jsonl.with_suffix(".json")
    array.write_text(json.dumps([c.to_dict() for c in kept[:3]], indent=2))
    with pytest.raises(InputError, match=r"c\.json: expected JSON lines"):
        list(Workers(1).map(array, _places, positioned=True))  # an array's records have no places in a file of lines


class _KindAndTools(msgspec.Struct):
    kind: str
    tools: list[Tool] | None = None


def test_fields_of_reads_only_the_declared_fields_and_names_a_bad_one_as_a_full_read_does(jsonl):
    lines = jsonl.read_bytes().split(b"\n")
    lines[3] = b""  # a blank line is skipped
    read = list(parallel.fields_of(_KindAndTools, lines))
    assert len(read) == 299 and all(type(r) is _KindAndTools for r in read)
    assert [(r.kind, r.tools) for r in read] == [(c.kind, c.tools) for i, c in enumerate(corpus(300)) if i != 3]
    # a field it does not read is not checked (a stage's full read checks it): another type there passes
    lines[120] = lines[120].replace(b'"content":"Weather in City 120?"', b'"content":120', 1)
    assert len(list(parallel.fields_of(_KindAndTools, lines))) == 299
    # a wrong type in a field it reads, or broken JSON: the error a full read gives, for that line
    lines[121] = lines[121].replace(b'"kind":"agent"', b'"kind":5', 1)
    with pytest.raises(parallel.RecordError) as err:
        list(parallel.fields_of(_KindAndTools, lines))
    assert (err.value.line, err.value.message) == (121, "record {line} (id 'c121'): field kind: expected str, got int")
    lines[121] = lines[121][:40]
    with pytest.raises(parallel.RecordError, match="invalid JSON on line") as err:
        list(parallel.fields_of(_KindAndTools, lines))
    assert err.value.line == 121


def test_records_give_the_line_a_record_came_in_until_it_changes(jsonl):
    """`Records.line`: the line itself for the record last read and unchanged (not encoded again: the same bytes object,
    and the bytes `to_json` writes); `to_json()` for a changed record, a derived one, or one read before."""
    lines = jsonl.read_bytes().split(b"\n")[:-1]
    records, before = parallel.Records(lines), None
    for conv, line in zip(records, lines, strict=True):
        assert records.line(conv) is line and records.read_line(conv) is line and conv.to_json() == line
        derived = msgspec.structs.replace(conv, id=f"neg_{conv.id}")
        assert records.line(derived) == derived.to_json() != line
        if before is not None:
            assert records.line(before) == before.to_json() and records.line(before) is not line
            assert records.read_line(before) is None
        conv.turns[1].loss = not conv.turns[1].loss
        assert records.line(conv, changed=True) == conv.to_json() != line
        before = conv
    assert [c.to_json() for c in parallel.Records(lines)] == lines


ODD_VALUES = [
    {
        "id": "a",
        "text": 'a line "\n    }," and braces } { ] [ inside a string',
        "n": 1.5,
        "deep": {"x": [1, {"y": {}}]},
    },
    {},  # written on one line by json.dump: read with the object after it
    7,
    [],
    {"id": "b", "big": 2**70, "empty": [], "unicode": "Grüße, 東京"},  # past 64 bits: the standard library reads it
    "a string element",
    {"id": "c", "nested": [{"k": "v"}, {"k": [{"deeper": True}]}]},
]


@pytest.mark.parametrize("indent", [1, 2, 4])
def test_an_indented_array_cut_anywhere_reads_back_its_elements(tmp_path, indent):
    path = tmp_path / "records.json"
    values = [*ODD_VALUES, *({"id": f"r{i}", "v": {"i": i, "s": "x" * (i % 7)}} for i in range(40))]
    path.write_text(json.dumps(values, indent=indent, ensure_ascii=False))
    mark = parallel.array_indent(path)
    assert mark == b" " * indent
    for size in (1, 50, 333, 4096, 10**7):
        cut = list(parallel.array_chunks(path, mark, size))
        assert cut[0].start == 0 and cut[-1].end == path.stat().st_size
        assert all(a.end == b.start for a, b in zip(cut, cut[1:]))
        assert [v for c in cut for v in parallel.array_elements(c.read(), mark)] == values, size


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([{"id": "a"}]),  # on one line
        json.dumps([1, 2], indent=2),  # no object first
        "[\n]",
        '{"id": "a"}\n{"id": "b"}\n',  # JSONL
        json.dumps({"records": [{"id": "a"}]}, indent=2),  # an object
    ],
)
def test_other_layouts_are_not_read_as_indented_arrays(tmp_path, text):
    path = tmp_path / "records.json"
    path.write_text(text)
    assert parallel.array_indent(path) is None


def test_an_element_that_does_not_parse_is_named_by_its_place_in_the_chunk(tmp_path):
    path = tmp_path / "records.json"
    text = json.dumps([{"id": f"r{i}", "x": [i]} for i in range(6)], indent=2)
    path.write_text(text.replace('"r3"', '"r3', 1))  # a string left open in the fourth element
    (chunk,) = parallel.array_chunks(path, b"  ", 10**6)
    read = []
    with pytest.raises(parallel.BrokenElement) as broken:
        read.extend(parallel.array_elements(chunk.read(), b"  "))
    assert broken.value.index == 3 and [r["id"] for r in read] == ["r0", "r1", "r2"]


def test_the_input_in_flight_covers_a_stage_s_start_and_stays_bounded_on_many_cores():
    """48 chunks a worker on a few cores (the 3-4 s a stage spends importing MLflow and GX), at most 1 GiB of input on
    many (results not yet read wait in $TMPDIR), and never under 4 chunks a worker."""
    assert Workers(2).ahead == 96  # 384 MiB of 4 MiB chunks
    assert Workers(64).ahead * parallel.CHUNK_BYTES == 1 << 30
    assert Workers(64, chunk_bytes=64 << 20).ahead == 4 * 64
