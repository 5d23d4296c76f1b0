"""Bad input: a clear message or a quarantine entry naming file, record and field; never a traceback,
never a silently shorter dataset (read == converted + dropped + quarantined)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.jsonio import InputError

from upstream_records import hallucinated_call

GOOD_SHAREGPT = {"id": "ok_1", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
GOOD_TOOLBENCH_SYSTEM = (
    "You are AutoGPT.\nSpecifically, you have access to the following APIs: "
    "[{'name': 'f', 'description': 'd', 'parameters': {'type': 'object', 'properties': {}}}]"
)


def toolbench_record(
    rid: str, action_input: str = '{"return_type": "give_answer", "final_answer": "done"}', role: str = "assistant"
):
    return {
        "id": rid,
        "conversations": [
            {"from": "system", "value": GOOD_TOOLBENCH_SYSTEM},
            {"from": "user", "value": "\nq\nBegin!\n"},
            {"from": role, "value": f"\nThought: t\nAction: Finish\nAction Input: {action_input}"},
        ],
    }


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def convert(path, fmt="auto"):
    rejected = []
    converter = Converter(ConvertConfig(format_samples=0), rejected.append)
    out = list(converter.run([Source(path=str(path), format=fmt)]))
    assert converter.stats.balanced(), converter.stats.to_metrics()
    return out, rejected


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ('{"id": "trunc", "conversations": [{"from": "human", "val', "<line>", "invalid JSON on line 2"),
        ({"id": "nokey", "turns": []}, "conversations", "missing"),
        (
            {"id": "role", "conversations": [{"from": "human", "value": "hi"}, {"from": "robot", "value": "x"}]},
            "conversations[1].from",
            "unknown role 'robot'",
        ),
        (
            {"id": "novalue", "conversations": [{"from": "human"}, {"from": "gpt", "value": "x"}]},
            "conversations[0].value",
            "missing",
        ),
    ],
)
def test_sharegpt_bad_records_are_quarantined(tmp_path, bad, field, reason):
    path = write_lines(tmp_path / "chat.jsonl", [GOOD_SHAREGPT, bad, {**GOOD_SHAREGPT, "id": "ok_2"}])
    out, rejected = convert(path)
    assert [c.id for c in out] == ["ok_1", "ok_2"]
    assert len(rejected) == 1
    r = rejected[0]
    assert (r.file, r.record, r.field) == ("chat.jsonl", 2, field)
    assert reason in r.reason


def test_action_input_not_json_is_quarantined(tmp_path):
    path = write_lines(
        tmp_path / "tb.jsonl",
        [toolbench_record("Step 2: a"), toolbench_record("Step 2: b", action_input="{city: Oslo")],
    )
    out, rejected = convert(path, "toolbench")
    assert [c.id for c in out] == ["Step 2: a"]
    assert rejected[0].id == "Step 2: b" and rejected[0].field == "conversations[2].value"
    assert "Action Input is not JSON" in rejected[0].reason


def test_unknown_toolbench_role_and_bad_api_list(tmp_path):
    bad_api = toolbench_record("Step 2: c")
    bad_api["conversations"][0]["value"] = (
        "Specifically, you have access to the following APIs: [{'name': __import__('os')}]"
    )
    path = write_lines(tmp_path / "tb.jsonl", [toolbench_record("Step 2: a", role="robot"), bad_api])
    out, rejected = convert(path, "toolbench")
    assert out == []
    assert [(r.field, r.reason.split(" (")[0]) for r in rejected] == [
        ("conversations[2].from", "unknown role 'robot'"),
        ("conversations[0].value", "API list is not a Python literal"),
    ]


def test_duplicate_ids_are_quarantined(tmp_path):
    path = write_lines(tmp_path / "chat.jsonl", [GOOD_SHAREGPT, GOOD_SHAREGPT])
    out, rejected = convert(path)
    assert len(out) == 1 and rejected[0].field == "id" and rejected[0].reason == "duplicate id"


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        ("", "auto", "empty file"),
        ("\n\n", "auto", "empty file"),
        ("id,text\n1,hello\n", "auto", "no readable JSON record"),
        ('{"text": "hello"}\n', "auto", "not a recognised format"),
        (json.dumps(GOOD_SHAREGPT) + "\n", "toolbench", "do not look like toolbench"),
        ("[1, 2", "auto", "not valid JSON"),
    ],
)
def test_unusable_files_raise_input_error(tmp_path, content, fmt, message):
    path = tmp_path / "input.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        convert(path, fmt)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        convert(tmp_path / "nope.jsonl")


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "agentflan.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_cli_exit_codes_and_no_tracebacks(tmp_path, fixtures):
    out = tmp_path / "out.jsonl"
    ok = cli(
        "convert",
        str(fixtures / "agentinstruct.jsonl"),
        str(fixtures / "sharegpt.jsonl"),
        "--out",
        str(out),
        "--format-samples",
        "0",  # the stage's default adds format-following samples; here only the records themselves
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(out.read_text().splitlines()) == 3
    assert not (tmp_path / "out.quarantine.jsonl").exists()  # nothing quarantined: no empty file

    bad = write_lines(
        tmp_path / "bad.jsonl",
        [GOOD_SHAREGPT, '{"id": "x", "conv', {"id": "y", "conversations": [{"from": "bot", "value": "x"}]}],
    )
    partial = cli("convert", str(bad), "--out", str(out), cwd=tmp_path)
    assert partial.returncode == 1
    assert "2 record(s) quarantined" in partial.stderr
    quarantine = [json.loads(line) for line in (tmp_path / "out.quarantine.jsonl").read_text().splitlines()]
    assert [(q["record"], q["field"]) for q in quarantine] == [(2, "<line>"), (3, "conversations[0].from")]
    assert len(out.read_text().splitlines()) == 1

    for content in ("", "not json at all\n", '{"text": 1}\n'):
        (tmp_path / "unusable.jsonl").write_text(content)
        before = out.read_bytes()
        unusable = cli("convert", str(tmp_path / "unusable.jsonl"), "--out", str(out), cwd=tmp_path)
        assert unusable.returncode == 2
        assert unusable.stderr.startswith("error: ") and len(unusable.stderr.strip().splitlines()) == 1
        assert out.read_bytes() == before  # the previous output is untouched
    for proc in (ok, partial, unusable):
        assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("indent", [None, 4], ids=["one-line", "indented"])
def test_an_array_cut_short_names_the_record_where_it_broke(tmp_path, fixtures, indent):
    """ToolBench arrays are streamed (or, laid out by `json.dump(indent=...)`, read in chunks by the workers); one that
    breaks off is refused, naming where, and nothing is written."""
    records = json.loads((fixtures / "toolbench_toolllama.json").read_text())
    assert len(records) >= 2
    whole = json.dumps(records, indent=indent)
    second = json.dumps(records[1], indent=indent).replace("\n", "\n" + " " * (indent or 0))
    cut = whole[: whole.index(second) + 40]  # inside the second record
    path = tmp_path / "toolllama_G1.json"
    path.write_text(cut)
    with pytest.raises(InputError, match=r"not valid JSON at or after record 1 of the array") as err:
        convert(path, "toolbench")
    assert str(path) in str(err.value)
    out = tmp_path / "out.jsonl"
    bad = cli("convert", str(path), "--out", str(out), cwd=tmp_path)
    assert bad.returncode == 2 and "record 1" in bad.stderr and "Traceback" not in bad.stderr and not out.exists()


def test_a_trajectory_calling_a_tool_it_was_not_offered_is_dropped_by_a_named_rule(tmp_path, fixtures):
    records = json.loads((fixtures / "toolbench_toolllama.json").read_text())
    final = records[-1]  # the step record that reaches Finish
    bad = {**hallucinated_call(final, "get_product_reviews_for_real_time_product_search"), "id": "Step 6: hallucinated"}
    path = tmp_path / "toolllama.json"
    path.write_text(json.dumps([final, bad]))
    converter = Converter(ConvertConfig())  # format samples on, as in the pipeline
    out = list(converter.run([Source(path=str(path), format="toolbench")]))
    # the dropped trajectory lends nothing, not even a format-following sample (it once did: format_react_0_Step 6: ...)
    assert [c.id for c in out if c.kind != "format"] == [final["id"]]
    assert all(not c.id.endswith(bad["id"]) for c in out), [c.id for c in out]
    assert converter.stats.dropped["unoffered_tool"] == 1 and converter.stats.quarantined == 0


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (
            {"id": "q", "conversations": [{"from": "human", "value": "  "}, {"from": "gpt", "value": "hello"}]},
            "query",
            "no user query",
        ),
        (
            {"id": "e", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": " "}]},
            "turns",
            "is empty",
        ),
        (
            {
                "id": "g",
                "conversations": [
                    {"from": "gpt", "value": "Hi!"},
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "yo"},
                ],
            },
            "turns[0].role",
            "open with a system or user turn",
        ),
    ],
)
def test_what_the_converted_suite_would_refuse_is_quarantined_by_the_converter(tmp_path, record, field, reason):
    path = write_lines(tmp_path / "chat.jsonl", [GOOD_SHAREGPT, record])
    out, rejected = convert(path)
    assert [c.id for c in out] == ["ok_1"]
    assert [(r.record, r.field) for r in rejected] == [(2, field)] and reason in rejected[0].reason
