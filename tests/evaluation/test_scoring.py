"""The judges on hand-written responses, including the tricky ones, and `agentflan score`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from agentflan.evaluation.judges import has_general_call, has_react_keywords
from agentflan.evaluation.scoring import Prediction, PredictionError, aggregate, judge, parse_call, score

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.parametrize(
    ("text", "react", "general"),
    [
        ("It is sunny in Oslo today.", False, False),
        ('Thought: I need the weather.\nAction: get_weather\nAction Input: {"city": "Oslo"}', True, False),
        ("I will use the weather tool to check.", False, True),
        ("I need to call get_weather first.", False, True),
        ('{"name": "get_weather", "arguments": {"city": "Oslo"}}', False, True),
        # the user asked for a ReAct example: keywords inside a code block are not a hallucination
        (
            "Here is the format you asked for:\n```\nThought: ...\nAction: search\nAction Input: {}\n```\nFill it in.",
            False,
            False,
        ),
        # a plain answer that mentions a tool's name is not a call
        ("The get_weather tool isn't needed: Paris is the capital of France.", False, False),
        # words that merely contain the keywords mid-line are not ReAct steps
        ("My last thought: action movies are fun.", False, False),
        ("I used to call my grandmother every Sunday.", False, False),
    ],
)
def test_plain_answer_judges(text, react, general):
    assert has_react_keywords(text) is react
    assert has_general_call(text, ["get_weather"]) is general


def call(response, tools=("get_weather", "get_time"), expected_tool="get_weather"):
    return Prediction(
        "x", "tool_needed_offered", list(tools), "call", response, expected_tool, {"get_weather": WEATHER_SCHEMA}
    )


@pytest.mark.parametrize(
    ("response", "verdict"),
    [
        ('Thought: weather\nAction: get_weather\nAction Input: {"city": "Oslo"}', (True, True, False, True)),
        ('{"thought": "t", "name": "get_weather", "arguments": {"city": "Oslo"}}', (True, True, False, True)),
        ('Action: get_weather\nAction Input: {"town": 3}', (True, True, False, False)),  # schema violation
        (
            "Action: get_weather\nAction Input: city=Oslo",
            (False, True, False, False),
        ),  # not JSON: the right tool, no valid call
        ('Action: book_flight\nAction Input: {"to": "Rome"}', (True, False, True, False)),  # not offered
        ("Action: get_time\nAction Input: {}", (True, False, False, True)),  # offered, wrong tool
        ("It is probably sunny.", (False, False, False, False)),
    ],
)
def test_call_judges(response, verdict):
    v = judge(call(response))
    assert (v["format_valid"], v["tool_correct"], v["hallucinated"], v["args_valid"]) == verdict


def test_a_fence_shown_as_an_example_is_no_call_but_a_fenced_answer_is():
    assert parse_call("For example:\n```\nAction: x\nAction Input: {}\n```\nThat is the format.") is None
    assert parse_call("```\nAction: x\nAction Input: {}\n```") == ("x", {})  # the answer is the fence: a call made
    assert parse_call('Checking now.\n```json\n{"name": "x", "arguments": {}}\n```') == ("x", {})


def test_aggregate_and_per_category():
    preds = [
        Prediction("1", "plain_no_tools", [], "plain", "Hello there!"),
        Prediction(
            "2", "plain_tools_offered", ["get_weather"], "plain", "Thought: hmm\nAction: get_weather\nAction Input: {}"
        ),
        Prediction("3", "plain_tools_offered", ["get_weather"], "plain", "I will use get_weather."),
        Prediction("4", "plain_tools_offered", ["get_weather"], "plain", "Sure, here you go."),
        call('Action: get_weather\nAction Input: {"city": "Oslo"}'),
        call("Action: nope\nAction Input: {}"),
    ]
    m = score(preds)
    assert (m["h_react"], m["h_general"]) == (0.25, 0.25)
    assert m["hscore"] == 0.75
    assert (m["call_format_validity"], m["tool_name_accuracy"], m["hallucinated_tool_rate"]) == (1.0, 0.5, 0.5)
    assert m["per_category"]["plain_tools_offered"]["h_react"] == round(1 / 3, 4)
    assert m["per_category"]["plain_no_tools"]["hscore"] == 1.0


def cli(*args):
    return subprocess.run([sys.executable, "-m", "agentflan.cli", *args], capture_output=True, text=True, timeout=120)


def test_score_cli(tmp_path):
    path = tmp_path / "preds.jsonl"
    rows = [
        {
            "id": "1",
            "category": "plain_tools_offered",
            "tools": ["get_weather"],
            "expected": "plain",
            "response": "Hi!",
        },
        {
            "id": "2",
            "category": "tool_needed_offered",
            "tools": ["get_weather"],
            "expected": "call",
            "expected_tool": "get_weather",
            "response": 'Action: get_weather\nAction Input: {"city": "Oslo"}',
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ok = cli("score", str(path))
    assert ok.returncode == 0, ok.stderr
    metrics = json.loads(ok.stdout)
    assert metrics["hscore"] == 1.0 and metrics["tool_name_accuracy"] == 1.0

    # a row logged as an OpenAI-compatible API returns it, no protocol named: its structured calls are read (native)
    logged = {**rows[1], "response": "", "content": None}
    logged["tool_calls"] = [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    path.write_text(json.dumps(logged) + "\n")
    assert json.loads(cli("score", str(path)).stdout)["tool_name_accuracy"] == 1.0

    for bad, message in [
        ('{"id": "3", "category": "c", "tools": [], "expected": "maybe", "response": ""}', "field expected"),
        ('{"id": "4", "category": "c", "tools": [], "expected": "call", "response": ""}', "field expected_tool"),
        ('{"id": "5", "categ', "invalid JSON on line 3"),
    ]:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + bad + "\n")
        proc = cli("score", str(path))
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_score_cli_reads_references_and_queries_from_the_rows(tmp_path):
    """Gibberish scores no plain quality, the references themselves full marks; made-up live data is fabrication."""
    references = [
        "Paris is the capital of France, known for the Eiffel Tower.",
        "Boil the egg for nine minutes, then cool it.",
        "A haiku has three lines of five, seven and five syllables.",
    ]
    fake = "What is the Nikkei at today?"

    def scored(answers, fabricated):
        path = tmp_path / "preds.jsonl"
        rows = [
            {
                "id": str(i),
                "category": "plain_no_tools",
                "tools": [],
                "expected": "plain",
                "response": a,
                "reference": r,
                "protocol": "react",
                "query": "?",
            }
            for i, (a, r) in enumerate(zip(answers, references))
        ]
        rows.append(
            {
                "id": "f",
                "category": "tool_needed_not_offered",
                "tools": [],
                "expected": "plain",
                "response": fabricated,
                "query": fake,
                "protocol": "react",
            }
        )
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        proc = cli("score", str(path))
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    gibberish = scored(["", "]]", "qq qq qq qq qq"], "The Nikkei is at 38,400 today, up 2%.")
    assert gibberish["plain_quality"] <= 0.1 and gibberish["fabrication_rate"] == 1.0 and gibberish["hscore"] == 1.0
    exact = scored(references, "I don't have live market data, so I can't say.")
    assert exact["plain_quality"] >= 0.9 and exact["fabrication_rate"] == 0.0


def native(
    expected,
    tool_calls,
    content="",
    parse_error=None,
    expected_tool=None,
    expected_arguments=None,
    category="tool_needed_offered_seen",
):
    return Prediction(
        "n",
        category,
        ["get_weather", "get_time"],
        expected,
        content,
        expected_tool,
        {"get_weather": WEATHER_SCHEMA},
        expected_arguments,
        "native",
        content=content,
        tool_calls=tool_calls,
        parse_error=parse_error,
    )


def test_native_verdicts_come_from_the_structured_calls():
    right = native(
        "call",
        [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
        expected_tool="get_weather",
        expected_arguments={"city": ["Oslo"]},
    )
    assert judge(right) == {
        "format_valid": True,
        "tool_correct": True,
        "hallucinated": False,
        "args_valid": True,
        "called": "get_weather",
        "args_correct": True,
    }
    made_up = native("call", [{"name": "get_forecast", "arguments": {"city": "Oslo"}}], expected_tool="get_weather")
    assert judge(made_up)["hallucinated"] and not judge(made_up)["tool_correct"]
    # text that *describes* a call is no call in this protocol: only the parser's tool_calls count
    prose = native(
        "call",
        [],
        content='I will use get_weather: {"name": "get_weather", "arguments": {"city": "Oslo"}}',
        expected_tool="get_weather",
    )
    assert not judge(prose)["tool_correct"] and not judge(prose)["format_valid"]
    malformed = native(
        "call",
        [],
        content="<tool_call>{bad",
        parse_error="json parser could not parse region",
        expected_tool="get_weather",
    )
    assert judge(malformed)["malformed"] and not judge(malformed)["format_valid"]


def test_a_native_call_or_an_unparsable_call_region_on_a_plain_sample_is_a_hallucination():
    plain = native("plain", [], content="Paris is the capital of France.", category="plain_tools_offered")
    called = native("plain", [{"name": "get_time", "arguments": {}}], category="plain_tools_offered")
    broken = native(
        "plain",
        [],
        content="<tool_call>{",
        parse_error="json parser could not parse region",
        category="plain_tools_offered",
    )
    assert [judge(p)["general"] for p in (plain, called, broken)] == [False, True, True]
    metrics = score([plain, called, broken])
    assert (
        metrics["protocol"] == "native"
        and metrics["h_general"] == round(2 / 3, 4)
        and metrics["hscore"] == pytest.approx(2 / 3, abs=1e-3)
    )


def test_native_rows_round_trip_and_accept_the_openai_call_shape():
    row = native(
        "call", [{"name": "get_weather", "arguments": {"city": "Oslo"}}], expected_tool="get_weather"
    ).to_dict()
    assert Prediction.from_dict(row).tool_calls == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    openai_shape = {
        **row,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    }
    assert Prediction.from_dict(openai_shape).tool_calls == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    broken = {**row, "tool_calls": [{"function": {"name": "get_weather", "arguments": '{"city": '}}]}
    assert not judge(Prediction.from_dict(broken))["format_valid"]  # arguments that are no JSON object are kept as text


def test_the_tiny_tokenizers_response_parser_reads_calls_and_keeps_a_broken_one_as_an_error():
    from agentflan.evaluation.generation import parse_calls
    from agentflan.training.tokenizer import train_bpe

    tokenizer = train_bpe(["hello world"], vocab_size=300)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Weather in Oslo?"}], tools=tools, tokenize=False, add_generation_prompt=True
    )
    text = (
        'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_time", "arguments": {"city": "Oslo"}}\n</tool_call>'
    )
    assert parse_calls(tokenizer, text, prompt, tools) == (
        "Checking.",
        [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_time", "arguments": {"city": "Oslo"}}],
        None,
    )
    assert parse_calls(tokenizer, "It is sunny.", prompt, tools) == ("It is sunny.", [], None)
    content, calls, error = parse_calls(
        tokenizer, '<tool_call>\n{"name": "get_weather", "arguments": {city}\n</tool_call>', prompt, tools
    )
    assert calls == [] and error and "JSON" in error
    unnamed = ('{"arguments": {"city": "Oslo"}}', '{"name": 5, "arguments": {}}', '["get_weather"]', '"get_weather"')
    for region in unnamed:
        # parsed JSON, but no call a tool could run (the tiny model wrote the first one): attempted and malformed
        content, calls, error = parse_calls(tokenizer, f"<tool_call>\n{region}\n</tool_call>", prompt, tools)
        assert calls == [] and error.startswith("a tool call without a name"), region


def test_the_bootstrap_interval_is_scipys_and_matches_the_hand_written_one_it_replaced():
    from agentflan.evaluation.scoring import bootstrap_mean

    # 30 gains, 50 ties, 20 losses: mean 0.1, sd of the mean sqrt(0.49 / 100) = 0.07. The numpy resampling this
    # replaced gave (0.1, -0.04, 0.24) at 20,000 resamples, seed 0.
    deltas = [1.0] * 30 + [0.0] * 50 + [-1.0] * 20
    mean, low, high = bootstrap_mean(deltas, 20000, 0)
    assert mean == pytest.approx(0.1)
    assert low == pytest.approx(-0.04, abs=0.01) and high == pytest.approx(0.24, abs=0.01)
    assert bootstrap_mean([0.5] * 7) == (0.5, 0.5, 0.5)  # no spread, no interval
    assert bootstrap_mean([]) == (0.0, 0.0, 0.0)


def test_an_answer_from_knowledge_is_no_fabrication_where_the_needed_tools_serve_known_facts():
    """A tool-needing query asked with no tool offered whose tools serve facts a model can know (`from_knowledge`: a
    dictionary's) is judged for hallucinated calls, not for fabrication; the rate is taken over the others."""
    definition = Prediction(
        "p",
        "tool_needed_not_offered",
        [],
        "plain",
        "Petrichor is the earthy smell of rain on dry ground.",
        query="Define the word petrichor.",
    )
    weather = Prediction(
        "q", "tool_needed_not_offered", [], "plain", "It's 9°C in Oslo.", query="What's the weather in Oslo right now?"
    )
    assert judge(definition)["fabricated"]  # were it live data, it would be made up
    known = dataclasses.replace(definition, from_knowledge=True)
    assert "fabricated" not in judge(known) and judge(known)["general"] is False
    assert aggregate([known, weather], [judge(known), judge(weather)])["fabrication_rate"] == 1.0
    assert Prediction.from_dict(known.to_dict()).from_knowledge and "from_knowledge" not in weather.to_dict()
    with pytest.raises(PredictionError, match="from_knowledge"):
        Prediction.from_dict({**known.to_dict(), "from_knowledge": "yes"})
