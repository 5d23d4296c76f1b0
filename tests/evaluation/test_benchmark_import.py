"""BFCL files (published layout, our own fixtures) import into our schema; arguments judged by BFCL's rule."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.calibration import calibrate, reference_answer
from agentflan.evaluation.scoring import Prediction, PredictionError, arguments_correct, calls_match, judge, score


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
        bfcl / "BFCL_v3_parallel_multiple.json",
        bfcl / "BFCL_v3_exec_simple.json",
        "--format",
        "bfcl",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_simple.json",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_multiple.json",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_parallel.json",
        "--answers",
        bfcl / "possible_answer" / "BFCL_v3_parallel_multiple.json",
        "--out",
        out,
    )
    return proc, out, {s["id"]: s for s in map(json.loads, out.read_text().splitlines())}


def test_bfcl_categories_map_to_ours_and_rejections_name_line_and_reason(imported, tmp_path):
    proc, out, samples = imported
    assert proc.returncode == 1, proc.stderr  # simple_2 has no possible answer, exec_simple is not imported
    assert set(samples) == {
        "simple_0",
        "simple_1",
        "multiple_0",
        "irrelevance_0",
        "irrelevance_1",
        "parallel_0",
        "parallel_1",
        "parallel_multiple_0",
    }
    rejected = [json.loads(x) for x in (tmp_path / "bfcl.rejected.jsonl").read_text().splitlines()]
    assert {(r["id"], r["line"], r["field"]) for r in rejected} == {
        ("simple_2", 3, "id"),
        ("exec_simple_0", 1, "id"),
        ("parallel_multiple_1", 2, "ground_truth[2]"),  # a call to a function the test does not offer
    }
    assert (
        "no possible answer" in proc.stderr
        and "'exec_simple' is not imported" in proc.stderr
        and "'messaging.send.extra', which the test does not offer" in proc.stderr
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
    three = samples["parallel_1"]
    assert (
        three["category"] == "tool_needed_parallel" and three["expected"] == "call" and three["expected_tool"] is None
    )
    assert [c["arguments"]["value"] for c in three["expected_calls"]] == [[12.0], [30.0], [7.5]]
    assert three["expected_calls"][0] == {
        "name": "units.convert_distance",
        "arguments": {"value": [12.0], "from_unit": ["miles", "mi"], "to_unit": ["km", "kilometers", ""]},
    }
    assert [c["name"] for c in samples["parallel_multiple_0"]["expected_calls"]] == [
        "geometry.square_area",
        "geometry.circle_circumference",
    ]
    assert "expected_calls" not in samples["simple_0"]  # a one-call sample's line is as before
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


def parallel(response: str | None = None, tool_calls: list | None = None, protocol: str = "react") -> Prediction:
    """BFCL's parallel_multiple_0 as imported (two tools, one call to each due), answered as given."""
    row = {
        "id": "parallel_multiple_0",
        "category": "tool_needed_parallel",
        "expected": "call",
        "expected_calls": [
            {"name": "square_area", "arguments": {"side": [4]}},
            {"name": "circle_circumference", "arguments": {"radius": [3.5], "units": ["", "cm"]}},
        ],
        "tools": ["square_area", "circle_circumference"],
        "response": response or "",
        "protocol": protocol,
    }
    if protocol == "native":
        row["tool_calls"] = tool_calls or []
    return Prediction.from_dict(row)


SQUARE = {"name": "square_area", "arguments": {"side": 4}}
CIRCLE = {"name": "circle_circumference", "arguments": {"radius": 3.5}}


@pytest.mark.parametrize(
    ("calls", "tools_right", "arguments_right"),
    [
        ([SQUARE, CIRCLE], True, True),
        ([CIRCLE, SQUARE], True, True),  # in any order
        ([SQUARE, {**CIRCLE, "arguments": {"radius": 3.5, "units": "CM"}}], True, True),  # an optional one given
        ([SQUARE], False, False),  # one call short
        ([SQUARE, CIRCLE, SQUARE], False, False),  # one call too many
        ([SQUARE, SQUARE], False, False),  # the same tool twice: the other left out
        ([SQUARE, {**CIRCLE, "arguments": {"radius": 3}}], True, False),  # a wrong value in one
        ([], False, False),
    ],
)
def test_parallel_calls_are_judged_as_bfcls_parallel_checker(calls, tools_right, arguments_right):
    """Native calls against two expected calls: every call counts, matched one to one in any order."""
    verdict = judge(parallel(tool_calls=calls, protocol="native"))
    assert verdict["tool_correct"] is tools_right and verdict["args_correct"] is arguments_right


def test_parallel_calls_are_read_from_text_in_every_shape_a_model_writes():
    """ReAct steps, a JSON list of calls and BFCL's Python list all give both calls; the first call alone does not."""
    answers = [
        'Action: square_area\nAction Input: {"side": 4}\nAction: circle_circumference\nAction Input: {"radius": 3.5}',
        '[{"name": "circle_circumference", "arguments": {"radius": 3.5}}, '
        '{"name": "square_area", "arguments": {"side": 4}}]',
        "[square_area(side=4), circle_circumference(radius=3.5)]",
        # Qwen-Agent's parallel form: a FUNCTION/ARGS pair a call
        '✿FUNCTION✿: square_area\n✿ARGS✿: {"side": 4}\n✿FUNCTION✿: circle_circumference\n✿ARGS✿: {"radius": 3.5}',
        # Kimi K2's and GLM-4.5's: a call block each
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.square_area:0<|tool_call_argument_begin|>"
        '{"side": 4}<|tool_call_end|><|tool_call_begin|>functions.circle_circumference:1'
        '<|tool_call_argument_begin|>{"radius": 3.5}<|tool_call_end|><|tool_calls_section_end|>',
        "<tool_call>square_area\n<arg_key>side</arg_key>\n<arg_value>4</arg_value>\n</tool_call>\n"
        "<tool_call>circle_circumference\n<arg_key>radius</arg_key>\n<arg_value>3.5</arg_value>\n</tool_call>",
        # DeepSeek V3's: a call block each, the arguments fenced
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>square_area\n"
        '```json\n{"side": 4}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function'
        '<｜tool▁sep｜>circle_circumference\n```json\n{"radius": 3.5}\n```<｜tool▁call▁end｜>'
        "<｜tool▁calls▁end｜>",
    ]
    for answer in answers:
        verdict = judge(parallel(answer))
        assert verdict["args_correct"] and sorted(verdict["called"]) == ["circle_circumference", "square_area"], answer
    assert not judge(parallel('{"name": "square_area", "arguments": {"side": 4}}'))["args_correct"]


def test_a_full_matching_is_found_where_the_first_fit_would_take_the_wrong_call():
    """Two expected calls, the first accepting either given call: a greedy pass that pairs it with the first given
    call leaves the second expected call unmatched; a one-to-one matching exists and is found."""
    expected = [
        {"name": "f", "arguments": {"x": [1, 2]}},
        {"name": "f", "arguments": {"x": [1]}},
    ]
    assert calls_match([("f", {"x": 1}), ("f", {"x": 2})], expected)
    assert not calls_match([("f", {"x": 2}), ("f", {"x": 2})], expected)


def test_parallel_samples_score_per_category_and_refuse_a_malformed_list():
    good = parallel(tool_calls=[SQUARE, CIRCLE], protocol="native")
    short = parallel(tool_calls=[SQUARE], protocol="native")
    metrics = score([good, short])
    assert metrics["per_category"]["tool_needed_parallel"]["argument_accuracy"] == 0.5
    assert metrics["tool_name_accuracy"] == 0.5 and metrics["call_samples"] == 2
    row = good.to_dict()
    assert Prediction.from_dict(row).expected_calls == good.expected_calls
    with pytest.raises(PredictionError, match=r"expected_calls\[0\]\.arguments"):
        Prediction.from_dict({**row, "expected_calls": [{"name": "square_area", "arguments": {"side": 4}}]})
    with pytest.raises(PredictionError, match="expected_calls"):
        Prediction.from_dict({**row, "expected": "plain", "expected_tool": None})


def test_the_judges_read_the_imported_references_right_in_every_protocol(imported):
    """Calibration on BFCL's possible answers written as each protocol writes calls: the parallel ones as several
    native calls, ReAct steps one after another and a JSON list (the chat harness asks for one call: no reference)."""
    _, _, samples = imported
    calibration = calibrate([Sample.from_dict(s) for s in samples.values()])
    one_call, parallel_samples = 3, 3  # simple_0, simple_1, multiple_0; parallel_0, parallel_1, parallel_multiple_0
    assert calibration["call_references"] == one_call * 4 + parallel_samples * 3
    assert calibration["false_negative_rate"] == 0.0, calibration["misjudged"]
    react = reference_answer(Sample.from_dict(samples["parallel_1"]), "react")
    assert react is not None and react[0].count("Action: units.convert_distance") == 3
