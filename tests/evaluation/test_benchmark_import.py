"""BFCL files (published layout, our own fixtures) import into our schema; arguments judged by BFCL's rule."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.scoring import Prediction, arguments_correct, score


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "benchmark", "import", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def imported(fixtures, tmp_path):
    bfcl = fixtures / "bfcl"
    out = tmp_path / "bfcl.jsonl"
    proc = cli(
        bfcl / "BFCL_v3_simple.json",
        bfcl / "BFCL_v3_multiple.json",
        bfcl / "BFCL_v3_irrelevance.json",
        bfcl / "BFCL_v3_parallel.json",
        "--format",
        "bfcl",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_simple.json",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_multiple.json",
        "--out",
        out,
    )
    return proc, out, {s["id"]: s for s in map(json.loads, out.read_text().splitlines())}


def test_bfcl_categories_map_to_ours_and_rejections_name_line_and_reason(imported, tmp_path):
    proc, out, samples = imported
    assert proc.returncode == 1, proc.stderr  # simple_2 has no possible answer, parallel is not imported
    assert set(samples) == {"simple_0", "simple_1", "multiple_0", "irrelevance_0", "irrelevance_1"}
    rejected = [json.loads(x) for x in (tmp_path / "bfcl.rejected.jsonl").read_text().splitlines()]
    assert {(r["id"], r["line"], r["field"]) for r in rejected} == {("simple_2", 3, "id"), ("parallel_0", 1, "id")}
    assert (
        "no possible answer" in proc.stderr
        and "'parallel' is not imported" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    irrelevant = samples["irrelevance_1"]
    assert irrelevant["expected"] == "plain" and irrelevant["category"] == "plain_tools_offered"
    assert irrelevant["tools"][0]["parameters"]["properties"]["numbers"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "The list of numbers to be added up.",
    }
    multiple = samples["multiple_0"]
    assert (
        multiple["expected"] == "call" and multiple["expected_tool"] == "news.headlines" and len(multiple["tools"]) == 2
    )
    assert multiple["expected_arguments"] == {"topic": ["sports", "Sports"], "country": ["Germany", "DE"], "count": [3]}
    light = samples["simple_1"]["tools"][0]["parameters"]
    assert light["type"] == "object"  # BFCL's dict
    assert light["properties"]["distance_in_light_years"]["type"] == "number"  # float
    assert light["properties"]["point"]["type"] == "array"  # tuple
    assert "type" not in light["properties"]["extra"]  # any
    for s in samples.values():
        Sample.from_dict(s)


def test_agent_h_format_validates_our_schema(imported, tmp_path):
    _, out, _ = imported
    again = cli(out, "--format", "agent-h", "--out", tmp_path / "again.jsonl")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "category": "c", "query": "q", "expected": "call", "tools": []}\n')
    refused = cli(bad, "--format", "agent-h", "--out", tmp_path / "b.jsonl")
    assert refused.returncode == 1 and "expected_tool" in refused.stderr


@pytest.mark.parametrize(
    ("name", "message"), [("missing.json", "no such file"), ("", "is a directory"), ("empty.json", "empty file")]
)
def test_unusable_input_exits_2_with_one_line(tmp_path, name, message):
    (tmp_path / "empty.json").write_text("")
    path = tmp_path / name
    proc = cli(path, "--format", "bfcl", "--out", tmp_path / "o.jsonl")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_file_of_another_format_is_not_a_bfcl_file(tmp_path, fixtures):
    """An AgentInstruct file given as BFCL: rc 2 and "not a BFCL file", not a rejection per line."""
    source = fixtures / "agentinstruct.jsonl"
    proc = cli(source, "--format", "bfcl", "--out", tmp_path / "o.jsonl")
    assert proc.returncode == 2 and "not a BFCL file" in proc.stderr and str(source) in proc.stderr, proc.stderr
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.rejected.jsonl").exists()


def test_a_bfcl_multi_turn_file_is_refused_naming_what_it_needs(tmp_path):
    """BFCL v3 multi-turn lines (the shape of BFCL_v3_multi_turn_base.json): their functions live in BFCL's classes."""
    source = tmp_path / "BFCL_v3_multi_turn_base.json"
    line = {
        "id": "multi_turn_base_0",
        "question": [[{"role": "user", "content": "Move 'final_report.pdf' within document directory to 'temp'."}]],
        "initial_config": {"GorillaFileSystem": {"root": {"alex": {"type": "directory", "contents": {}}}}},
        "path": ["GorillaFileSystem.cd", "GorillaFileSystem.mv"],
        "involved_classes": ["GorillaFileSystem", "TwitterAPI"],
    }
    source.write_text(json.dumps(line) + "\n")
    proc = cli(source, "--format", "bfcl", "--out", tmp_path / "o.jsonl")
    assert proc.returncode == 2 and "BFCL multi-turn file" in proc.stderr and "single-turn" in proc.stderr, proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "ok"),
    [
        ({"length": 8, "width": 3}, True),  # optional unit left out: "" is acceptable
        ({"length": 8, "width": 3, "unit": "Units"}, True),  # strings compared standardised
        ({"length": 8.0, "width": 3}, True),  # a number equal in value
        ({"length": 8, "width": 4}, False),
        ({"length": 8}, False),  # a required argument left out
        ({"length": 8, "width": 3, "colour": "red"}, False),  # an argument nobody asked for
        ({"length": "8", "width": 3}, False),
        ("length=8", False),
    ],
)
def test_arguments_correct_follows_bfcl(args, ok):
    assert arguments_correct(args, {"length": [8], "width": [3], "unit": ["units", ""]}) is ok


def test_argument_accuracy_in_scores_and_full_tools_in_predictions():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    rows = [
        {
            "id": "a",
            "category": "c",
            "expected": "call",
            "expected_tool": "weather",
            "expected_arguments": {"city": ["Oslo"]},
            "tools": [{"name": "weather", "parameters": schema}],
            "response": 'Action: weather\nAction Input: {"city": "oslo"}',
        },
        {
            "id": "b",
            "category": "c",
            "expected": "call",
            "expected_tool": "weather",
            "expected_arguments": {"city": ["Oslo"]},
            "tools": ["weather"],
            "response": 'Action: weather\nAction Input: {"city": "Rome"}',
        },
    ]
    preds = [Prediction.from_dict(r) for r in rows]
    assert preds[0].schemas["weather"] == schema and preds[0].to_dict()["tools"] == [
        {"name": "weather", "parameters": schema}
    ]
    metrics = score(preds)
    assert metrics["argument_accuracy"] == 0.5 and metrics["argument_validity"] == 1.0
