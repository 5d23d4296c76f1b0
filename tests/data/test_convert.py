"""Chat alignment, ReAct share, format samples and counts on the demo corpus."""

from __future__ import annotations

import hashlib
import json

import pytest

from agentflan.config import ConvertConfig, DemoConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.jsonio import write_conversations
from agentflan.demo.corpus import DEMO_FILES, write_demo


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    write_demo(out, DemoConfig(toolbench=200, agentinstruct_os=20, agentinstruct_db=20, sharegpt=40))
    return out


def per_record(batches) -> list[tuple[bytes, dict | None]]:
    """`Converter.written`'s batches (lines, each ended by a line end; their rows' columns) as (line, row) each."""
    records = []
    for lines, columns in batches:
        assert lines.endswith(b"\n") or lines == b""
        split = lines.split(b"\n")[:-1]
        rows = [dict(zip(columns, values)) for values in zip(*columns.values())] if columns else [None] * len(split)
        assert len(rows) == len(split)
        records.extend(zip(split, rows))
    return records


def run(demo_dir, **cfg):
    converter = Converter(ConvertConfig(**cfg))
    out = list(converter.run([Source(path=str(demo_dir / name)) for name in DEMO_FILES]))
    return out, converter.stats


def test_counts_add_up(demo_dir):
    out, stats = run(demo_dir, format_samples=10)
    assert stats.balanced() and stats.quarantined == 0
    assert stats.written == len(out) == stats.converted + 10
    assert set(stats.dropped) <= {"no_final_answer", "gave_up"}


def test_react_fraction_is_respected(demo_dir):
    out, stats = run(demo_dir, react_fraction=0.3)
    agent = [c for c in out if c.kind == "agent"]
    share = sum(c.style == "react" for c in agent) / len(agent)
    assert 0.22 < share < 0.38
    assert all(c.style == "native" for c in run(demo_dir, react_fraction=0.0)[0] if c.kind == "agent")
    assert all(
        c.style == "chat" for c in run(demo_dir, react_fraction=0.0, call_style="elicited")[0] if c.kind == "agent"
    )


def test_native_form_is_one_message_a_step_with_its_calls_as_structure(demo_dir):
    out, _ = run(demo_dir, react_fraction=0.0)
    conv = next(c for c in out if c.source == "toolbench" and len([t for t in c.turns if t.tool_calls]) == 2)
    assert conv.turns[0].role == "user" and conv.turns[0].content == conv.query  # no system prompt of ours
    roles = [(t.role, t.part, len(t.tool_calls)) for t in conv.turns]
    assert roles == [
        ("user", None, 0),
        ("assistant", "thought", 1),
        ("tool", None, 0),
        ("assistant", "thought", 1),
        ("tool", None, 0),
        ("assistant", "answer", 0),
    ]
    first, result = conv.turns[1], conv.turns[2]
    call = first.tool_calls[0]
    assert call.name in {t.name for t in conv.tools} and isinstance(call.arguments, dict) and call.arguments
    assert (result.name, result.tool_call_id) == (call.name, call.id) and call.id == "call_0"
    assert first.content and "Thought:" not in first.content and call.name not in first.content
    message = conv.to_messages()[1]
    assert message["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
    ]
    assert conv.to_messages()[2] == {
        "role": "tool",
        "content": result.content,
        "name": call.name,
        "tool_call_id": "call_0",
    }


def test_chat_form_separates_thought_tool_and_arguments(demo_dir):
    out, _ = run(demo_dir, react_fraction=0.0, call_style="elicited")
    conv = next(c for c in out if c.source == "toolbench")
    roles_parts = [(t.role, t.part) for t in conv.turns[2:9]]
    assert roles_parts == [
        ("assistant", "thought"),
        ("user", None),
        ("assistant", "tool_choice"),
        ("user", None),
        ("assistant", "arguments"),
        ("tool", None),
        ("assistant", "thought"),
    ]
    args_turn = conv.turns[6]
    assert json.loads(args_turn.content) == args_turn.call.arguments
    assert conv.turns[4].content == args_turn.call.name
    assert "Thought:" not in "".join(t.content for t in conv.turns)  # natural chat, no ReAct keywords


def test_format_samples_cover_both_formats(demo_dir):
    out, stats = run(demo_dir, format_samples=8)
    samples = [c for c in out if c.kind == "format"]
    assert len(samples) == stats.format_samples == 8
    assert {c.meta["format"] for c in samples} == {"react", "json"}
    for c in samples:
        answer = c.turns[-1]
        assert answer.loss and answer.part == "format" and answer.call is not None
        if c.meta["format"] == "json":
            assert json.loads(answer.content)["name"] == answer.call.name
        else:
            assert (
                answer.content.startswith("Thought: ")
                and f"\nAction: {answer.call.name}\nAction Input: " in answer.content
            )


def test_same_seed_same_bytes_other_seed_other_bytes(demo_dir, tmp_path):
    def digest(seed):
        path = tmp_path / f"out{seed}.jsonl"
        write_conversations(path, run(demo_dir, seed=seed, format_samples=5)[0])
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(0) == digest(0)
    assert digest(0) != digest(1)


def test_workers_give_the_bytes_quarantine_and_counts_of_one_process(demo_dir, tmp_path, monkeypatch):
    """Records converted in batches by three worker processes: the same lines, profile rows, quarantine entries (in
    order), counts and format samples as `run` in this process; duplicates (every ToolBench record twice, a second
    source) are refused here, and their format-pool candidates with them; a broken line is quarantined by its number."""
    import orjson

    from agentflan.data import convert
    from agentflan.data.parallel import Workers
    from agentflan.pipeline.profiles import conversation_row

    again = tmp_path / "toolbench_again.jsonl"
    records = orjson.loads((demo_dir / "toolbench.json").read_bytes())
    again.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records[:60]) + b"{broken\n")
    sources = [Source(path=str(demo_dir / name)) for name in DEMO_FILES] + [Source(path=str(again))]
    monkeypatch.setattr(convert, "BATCH", 7)  # many batches: the pool's threshold moves between them
    cfg = ConvertConfig(format_samples=5, react_fraction=0.2)

    alone, alone_rejected = Converter(cfg), []
    alone.on_reject = alone_rejected.append
    expected = [(c.to_json(), conversation_row(c)) for c in alone.run(sources)]
    spread, spread_rejected = Converter(cfg), []
    spread.on_reject = spread_rejected.append
    with Workers(3) as workers:
        got = per_record(spread.written(sources, workers, conversation_row))

    assert got == expected
    assert spread_rejected == alone_rejected
    assert spread.stats.to_metrics() == alone.stats.to_metrics()
    reasons = [r.reason for r in alone_rejected]
    assert reasons.count("duplicate id") > 10 and reasons[-1].startswith("invalid JSON on line 61")
    assert alone.stats.format_samples == 5 and alone.stats.balanced()


def test_an_indented_array_read_by_the_workers_converts_as_the_streamed_reader_does(demo_dir, tmp_path):
    """ToolBench's arrays are laid out by `json.dump(indent=...)`: the workers read and parse their own chunks of such a
    file (`parallel.array_chunks`), numbering records from their chunk's start, and the converter numbers them in the
    file. The same lines (meta record numbers included), quarantine entries (record numbers of refused and duplicate
    records in later chunks) and counts as the same records on one line, which the streamed reader (ijson) reads."""
    from agentflan.data.parallel import Workers, array_indent
    from agentflan.pipeline.profiles import conversation_row

    records = json.loads((demo_dir / "toolbench.json").read_text())[:120]
    records[70]["conversations"] = "not a list"  # refused
    records += [records[5], records[90], 7]  # duplicates and an element that is no record, at the end
    indented, flat = tmp_path / "indented" / "toolllama.json", tmp_path / "flat" / "toolllama.json"
    for path, text in ((indented, json.dumps(records, indent=4)), (flat, json.dumps(records))):
        path.parent.mkdir()
        path.write_text(text)
    assert array_indent(indented) == b"    " and array_indent(flat) is None
    cfg = ConvertConfig(format_samples=3, react_fraction=0.2)

    def converted(path, workers):
        converter, rejected = Converter(cfg), []
        converter.on_reject = rejected.append
        lines = per_record(converter.written([Source(path=str(path), format="toolbench")], workers, conversation_row))
        return lines, [r.to_dict() for r in rejected], converter.stats.to_metrics()

    with Workers(1) as one:
        expected = converted(flat, one)
    with Workers(2, chunk_bytes=3000) as two:  # a chunk of a few records each
        assert converted(indented, two) == expected
        objects = Converter(cfg).converted([Source(path=str(indented), format="toolbench")], two)  # not written
        assert [c.to_json() for c in objects] == [line for line, _ in expected[0][:-3]]  # less the format samples
    lines, rejected, _ = expected
    numbers = [json.loads(line)["meta"].get("record") for line, _ in lines if b'"source":"toolbench"' in line]
    assert numbers == sorted(numbers) and numbers[-1] > 100  # each chunk holds a record or two: numbered in the file
    assert [(r["record"], r["field"]) for r in rejected] == [(71, "conversations"), (122, "id"), (123, "record")]
