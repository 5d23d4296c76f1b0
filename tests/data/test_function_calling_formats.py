"""The function-calling formats people hold, read from fixtures written after their published descriptions and example
files (OpenAI/HF messages, Anthropic's Messages, LLaMA-Factory's ShareGPT tool format, Hermes, glaive-function-calling
v1 and v2, xLAM, ToolACE, ToolBench answer trees): detected, converted with no quarantine, tools and calls as the
source has them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import CapabilityTable, label

FORMATS = Path(__file__).parents[1] / "fixtures" / "formats"


def convert(path, fmt="auto", **cfg):
    rejected = []
    converter = Converter(ConvertConfig(**{"react_fraction": 0.0, "format_samples": 0, **cfg}), rejected.append)
    source = Source(path=str(path), format=fmt) if not isinstance(path, Source) else path
    out = list(converter.run([source]))
    assert converter.stats.balanced(), converter.stats.to_metrics()
    return out, converter, rejected


def calls(conv):
    return [[(c.name, c.arguments) for c in t.tool_calls] for t in conv.turns if t.tool_calls]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("openai_messages.jsonl", "openai"),
        ("llamafactory_toolcall.json", "llamafactory"),
        ("hermes_function_calling.json", "hermes"),
        ("glaive_function_calling_v2.json", "glaive"),
        ("glaive_function_calling_v1.jsonl", "glaive"),
        ("xlam_function_calling.json", "xlam"),
        ("toolace.json", "toolace"),
        ("anthropic_messages.jsonl", "openai"),
    ],
)
def test_each_format_is_detected_and_converts_with_nothing_quarantined_or_dropped(name, fmt):
    out, converter, rejected = convert(FORMATS / name)
    assert converter.open_source(str(FORMATS / name), "auto")[0] == fmt
    assert rejected == [] and not converter.stats.dropped and out
    assert all(c.source == fmt for c in out)


def test_openai_messages_keep_parallel_calls_ids_results_and_plain_rows_with_tools():
    out, _, _ = convert(FORMATS / "openai_messages.jsonl")
    paris, yen, haiku, oslo, facts = out
    assert calls(paris) == [
        [
            ("get_current_weather", {"location": "Paris, France", "unit": "celsius"}),
            ("get_current_weather", {"location": "Tokyo, Japan", "unit": "celsius"}),
        ]
    ]
    results = [t for t in paris.turns if t.role == "tool"]
    assert [(t.tool_call_id, t.name) for t in results] == [
        ("call_abc123", "get_current_weather"),
        ("call_def456", "get_current_weather"),
    ]
    assert paris.turns[0].role == "system" and paris.turns[-1].part == "answer" and paris.kind == "agent"
    assert calls(yen) == [
        [("convert_currency", {"amount": 50, "from": "EUR", "to": "JPY"})]
    ]  # arguments given as an object
    assert yen.turns[1].content == "Let me convert that for you."  # the thought beside the call
    assert haiku.kind == "general" and [t.name for t in haiku.tools] == [
        "get_current_weather"
    ]  # tools offered, plain answer
    assert calls(oslo) == [
        [("get_current_weather", {"location": "Oslo, Norway"})]
    ]  # legacy function_call + function role
    assert oslo.query == "Is it raining in Oslo?" and [t.name for t in oslo.tools] == [
        "get_current_weather"
    ]  # tools as a string
    assert [t.loss for t in facts.turns if t.role == "assistant"] == [False, True]  # OpenAI's weight: 0


def test_anthropic_messages_tool_use_and_tool_result_blocks_are_calls_and_results():
    """Anthropic's Messages rows: `tool_use` blocks are the assistant's calls (parallel where several), `tool_result`
    blocks in the user message that follows are the results, named by their call (an error result too, the user's
    text beside them after them), `thinking` blocks are not text, tools come with their `input_schema`."""
    out, _, _ = convert(FORMATS / "anthropic_messages.jsonl")
    sf, ny, plain = out
    assert calls(sf) == [[("get_weather", {"location": "San Francisco, CA", "unit": "celsius"})]]
    assert [(t.role, t.name, t.content) for t in sf.turns if t.role == "tool"] == [
        ("tool", "get_weather", "15 degrees")
    ]
    assert sf.tools[0].parameters["required"] == ["location"] and sf.turns[-1].part == "answer"
    assert calls(ny) == [
        [("get_weather", {"location": "New York, NY"}), ("get_time", {"timezone": "America/New_York"})]
    ]
    assert ny.turns[0].role == "system" and ny.turns[0].content == "You are a concise assistant for travellers."
    step = next(t for t in ny.turns if t.tool_calls)
    assert step.content == "I'll check both at once."  # the thinking block is not the message's text
    after = [(t.role, t.name, t.content) for t in ny.turns[ny.turns.index(step) + 1 :]][:3]
    assert after == [
        ("tool", "get_weather", "22 degrees, sunny"),
        ("tool", "get_time", "Error: time service unavailable"),
        ("user", None, "If the time fails, just give me the weather."),
    ]
    assert plain.kind == "general" and [t.name for t in plain.tools] == ["get_weather"]


def test_llamafactory_rows_keep_tools_calls_observations_and_system():
    out, _, _ = convert(FORMATS / "llamafactory_toolcall.json")
    plain, area, rates, refusal = out
    assert plain.kind == "general" and plain.tools == []  # "tools": "[]"
    assert calls(area) == [
        [("calculate_area", {"shape": "rectangle", "dimensions": [6, 4]})],
        [("calculate_area", {"shape": "circle", "dimensions": [2]})],
    ]
    assert [t.name for t in area.turns if t.role == "tool"] == ["calculate_area", "calculate_area"]
    assert [t.part for t in area.turns if t.role == "assistant"] == ["thought", "answer", "thought", "answer"]
    assert calls(rates) == [
        [
            ("get_exchange_rate", {"base": "USD", "target": "EUR"}),
            ("get_exchange_rate", {"base": "USD", "target": "GBP"}),
        ]
    ]  # a list: parallel calls
    assert rates.turns[0].role == "system" and rates.turns[0].content.startswith("You are a finance assistant")
    assert refusal.kind == "general" and [t.name for t in refusal.tools] == ["calculate_area", "get_exchange_rate"]


def test_hermes_calls_as_python_literals_tool_responses_and_json_mode_rows():
    out, _, _ = convert(FORMATS / "hermes_function_calling.json")
    prices, news, json_mode = out
    assert [t.name for t in prices.tools] == [
        "get_stock_price",
        "get_company_news",
    ]  # the <tools> block, not its mention
    assert calls(prices) == [[("get_stock_price", {"symbol": "AAPL"}), ("get_stock_price", {"symbol": "MSFT"})]]
    assert not any(t.role == "system" for t in prices.turns)  # Hermes' own calling instructions are not kept
    assert calls(news) == [[("get_company_news", {"symbol": "NVDA", "limit": 3})]]
    result = next(t for t in news.turns if t.role == "tool")
    assert result.name == "get_company_news" and json.loads(result.content)["articles"][0] == "NVIDIA unveils new chip"
    assert news.turns[1].content == "I'll look up the latest NVIDIA news."
    assert (
        json_mode.kind == "general" and json_mode.turns[0].role == "system" and "<schema>" in json_mode.turns[0].content
    )


def test_toolace_calls_in_python_syntax_results_by_name_and_bfcl_types():
    """ToolACE lists its functions in the system text (BFCL's types: `dict`, `float`) and calls in Python syntax,
    API names with spaces, JSON's `true` and a parameter named `from` among the arguments; each result names its
    call."""
    out, _, _ = convert(FORMATS / "toolace.json")
    address, market, ask, meeting = out
    assert calls(address) == [[("newAddress", {"password": "Blue#Harbor2024"})]]
    assert not any(t.role == "system" for c in out for t in c.turns)  # ToolACE's calling instructions are not kept
    assert calls(market) == [
        [
            ("Get Stock Price", {"symbol": "AAPL"}),
            ("Get Stock Price", {"symbol": "MSFT"}),
            ("Currency Converter", {"amount": 250.0, "from": "USD", "to": "EUR", "round": True}),
        ],
        [("Get Stock Price", {"symbol": "TSLA", "exchange": "NYSE"})],
    ]
    results = [t for t in market.turns if t.role == "tool"]
    assert [t.name for t in results] == ["Get Stock Price", "Get Stock Price", "Currency Converter", "Get Stock Price"]
    assert json.loads(results[2].content) == {"converted_amount": 231.75, "rate": 0.927}
    converter = next(t for t in market.tools if t.name == "Currency Converter").parameters
    assert converter["type"] == "object" and converter["properties"]["amount"]["type"] == "number"
    slot = meeting.tools[0].parameters["properties"]["slot"]
    assert slot["type"] == "object" and slot["properties"]["hours"]["type"] == "number"  # at every depth
    assert calls(meeting) == [
        [
            (
                "scheduleMeeting",
                {"participants": ["Ana", "Li"], "slot": {"date": "2024-11-05", "hours": 1.5}, "online": True},
            )
        ]
    ]
    assert ask.kind == "general" and [t.name for t in ask.tools] == ["scheduleMeeting"]  # asks back, tools kept


def test_a_toolace_call_whose_arguments_are_no_literals_is_quarantined_naming_the_field(tmp_path):
    row = json.loads((FORMATS / "toolace.json").read_text())[0]
    row["conversations"][1]["value"] = "[newAddress(password=secret_variable)]"
    path = tmp_path / "toolace.json"
    path.write_text(json.dumps([row]))
    _, converter, rejected = convert(path)
    assert converter.stats.quarantined == 1
    assert rejected[0].field == "conversations[1].value[0]" and "no Python literals" in rejected[0].reason


def test_glaive_v1_reads_its_one_sample_text_as_v2_reads_its_two_fields():
    """glaive-function-calling (v1) writes the system text and the chat in one `sample`: the functions come from the
    part before the first USER turn, the turns from the rest."""
    out, _, _ = convert(FORMATS / "glaive_function_calling_v1.jsonl")
    rate, capital = out
    assert calls(rate) == [[("get_exchange_rate", {"base_currency": "USD", "target_currency": "EUR"})]]
    assert [t.name for t in rate.tools] == ["get_exchange_rate"] and rate.query.startswith("Can you tell me")
    assert [t.content for t in rate.turns if t.role == "user"] == [
        "Can you tell me the exchange rate from US dollars to Euros?",
        "Great, thanks!",
    ]
    assert capital.kind == "general" and capital.tools == []
    assert capital.turns[-1].content == "The capital of Australia is Canberra."


def test_glaive_turns_function_list_and_quoted_arguments():
    out, _, _ = convert(FORMATS / "glaive_function_calling_v2.json")
    password, science, movie, pizza = out
    assert [t.name for t in password.tools] == ["generate_password"]
    assert password.tools[0].parameters["required"] == ["length"]
    assert calls(password) == [[("generate_password", {"length": 16, "include_symbols": True})]]  # '{...}' unquoted
    assert [t.role for t in password.turns] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
    assert password.turns[1].part == "chat" and "<|endoftext|>" not in "".join(t.content for t in password.turns)
    assert science.kind == "general" and science.tools == []  # "no access to external functions"
    assert [t.name for t in movie.tools] == ["get_movie_details", "calculate_tip"]
    assert calls(movie) == [
        [("get_movie_details", {"title": "Inception", "year": 2010})],
        [("calculate_tip", {"bill_amount": 60, "tip_percentage": 15})],
    ]
    assert pizza.kind == "general" and [t.name for t in pizza.tools] == ["calculate_tip"]


def test_xlam_parameters_become_json_schemas_and_answers_parallel_calls():
    out, _, _ = convert(FORMATS / "xlam_function_calling.json")
    giveaways, maths = out
    assert giveaways.id == "xlam_0" and calls(giveaways) == [
        [("live_giveaways_by_type", {"type": "beta"}), ("live_giveaways_by_type", {"type": "game"})]
    ]
    assert giveaways.tools[0].parameters == {
        "type": "object",
        "properties": {
            "type": {
                "description": "The type of giveaways to retrieve (e.g., game, loot, beta).",
                "default": "game",
                "type": "string",
            }
        },
        "required": [],
    }  # a default: not required
    schema = {t.name: t.parameters for t in maths.tools}
    assert schema["sum_numbers"]["properties"]["numbers"] == {
        "description": "The numbers to add.",
        "type": "array",
        "items": {"type": "integer"},  # "List[int]"
    } and schema["sum_numbers"]["required"] == ["numbers"]
    assert schema["is_prime"]["properties"]["verbose"]["type"] == "boolean" and schema["is_prime"]["required"] == [
        "num"
    ]
    assert [t.role for t in maths.turns] == ["user", "assistant"] and maths.turns[1].content == ""


def test_toolbench_answer_trees_give_the_path_and_count_what_is_left():
    out, converter, rejected = convert(FORMATS / "toolbench_answers")  # a folder: one answer file a query
    assert rejected == [] and converter.stats.dropped == {"no_valid_path": 1} and converter.stats.unused_branches == 1
    (cat,) = out
    assert cat.query == "Tell me about the Siamese cat breed: temperament and origin."
    assert [t.name for t in cat.tools] == ["get_cat_breed_for_cat_api"] and "optional" not in cat.tools[0].parameters
    assert cat.tools[0].description == "Get facts about a cat breed"  # RapidAPI's boilerplate off
    assert calls(cat) == [[("get_cat_breed_for_cat_api", {"breed": "siamese"})]]
    assert cat.turns[1].content == "I should look up the Siamese breed first."  # the thought message before the call
    assert cat.turns[-1].content.startswith("The Siamese comes from Thailand") and cat.turns[-1].part == "answer"


def test_calls_without_thoughts_teach_no_reasoning_and_the_table_shows_it_per_source():
    for name, source in (("xlam_function_calling.json", "xlam"), ("glaive_function_calling_v2.json", "glaive")):
        table = CapabilityTable()
        for conv in convert(FORMATS / name)[0]:
            table.add(label(conv))
        assert table.tokens["reasoning"] == 0 and table.tokens["retrieval"] > 0 and table.tokens["understanding"] > 0, (
            source
        )


def write(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_arguments_and_tools_in_every_shape_real_files_hold(tmp_path):
    tool = {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}
    shapes = [
        {"x": 1},
        '{"x": 1}',
        "{'x': 1}",
        '"{\\"x\\": 1}"',
    ]  # object, JSON string, Python literal, JSON string of one
    rows = [
        {
            "conversations": [
                {"from": "human", "value": f"q{i}"},
                {"from": "function_call", "value": json.dumps({"name": "f", "arguments": a})},
                {"from": "observation", "value": "ok"},
                {"from": "gpt", "value": "done"},
            ],
            "tools": json.dumps([tool]) if i % 2 else [tool],
        }
        for i, a in enumerate(shapes)
    ]
    rows.append(
        {"conversations": [{"from": "human", "value": "q9"}, {"from": "gpt", "value": "hi"}]}
    )  # no tools field at all
    out, _, rejected = convert(write(tmp_path / "lf.jsonl", rows), "llamafactory")
    assert rejected == [] and [calls(c) for c in out[:4]] == [[[("f", {"x": 1})]]] * 4 and out[4].tools == []


def test_openai_legacy_fine_tuning_rows_offer_their_tools_as_functions(tmp_path):
    # the legacy fine-tuning format (OpenAI's before tool_calls; Azure OpenAI's fine-tuning guide still shows it)
    weather = {
        "name": "get_current_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "format"],
        },
    }
    row = {
        "messages": [
            {"role": "user", "content": "What is the weather in Lisbon?"},
            {
                "role": "assistant",
                "function_call": {
                    "name": "get_current_weather",
                    "arguments": '{"location": "Lisbon, Portugal", "format": "celsius"}',
                },
            },
        ],
        "functions": [weather],
    }
    out, converter, rejected = convert(write(tmp_path / "legacy.jsonl", [row]))
    assert rejected == [] and not converter.stats.dropped  # it was dropped before: a call to a tool not offered
    (conv,) = out
    assert [t.name for t in conv.tools] == ["get_current_weather"] and conv.tools[0].parameters == weather["parameters"]
    assert calls(conv) == [[("get_current_weather", {"location": "Lisbon, Portugal", "format": "celsius"})]]


def test_a_mixed_file_keeps_every_good_row_and_names_each_bad_one(tmp_path):
    good = json.loads((FORMATS / "openai_messages.jsonl").read_text().splitlines()[1])
    rows = [
        good,
        {"messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]},
        {**good, "tools": "[{'name': ]"},
        {
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"type": "function", "function": {"name": "convert_currency", "arguments": "{amount: 5"}}
                    ],
                },
            ],
            "tools": good["tools"],
        },
        '{"messages": [{"role": "user"',
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
                },
            ],
            "tools": good["tools"],
        },
        {**good, "id": "second"},
    ]
    out, converter, rejected = convert(write(tmp_path / "mixed.jsonl", rows), "openai")
    assert [c.id for c in out] == ["openai_0", "second"]
    assert [(r.file, r.record, r.field) for r in rejected] == [
        ("mixed.jsonl", 2, "messages[1].role"),
        ("mixed.jsonl", 3, "tools"),
        ("mixed.jsonl", 4, "messages[1].tool_calls[0].arguments"),
        ("mixed.jsonl", 5, "<line>"),
    ]
    assert converter.stats.dropped == {"unoffered_tool": 1}  # a call to a tool it was not offered: dropped, not learned


def test_variants_of_a_family_need_only_a_mapping(tmp_path):
    sharegpt_like = {
        "dialog": [
            {"speaker": "customer", "text": "Area of a 2 by 3 rectangle?"},
            {
                "speaker": "bot_call",
                "text": '{"name": "calculate_area", "arguments": {"shape": "rectangle", "dimensions": [2, 3]}}',
            },
            {"speaker": "api", "text": '{"area": 6}'},
            {"speaker": "bot", "text": "It is 6 square units."},
        ],
        "functions": json.loads((FORMATS / "llamafactory_toolcall.json").read_text())[1]["tools"],
    }  # a JSON string
    source = Source(
        path=str(write(tmp_path / "mine.jsonl", [sharegpt_like])),
        format="llamafactory",
        columns={"messages": "dialog", "tools": "functions"},
        tags={
            "role": "speaker",
            "content": "text",
            "user": "customer",
            "assistant": "bot",
            "function": "bot_call",
            "observation": "api",
        },
    )
    (conv,), _, rejected = convert(source)
    assert rejected == [] and calls(conv) == [[("calculate_area", {"shape": "rectangle", "dimensions": [2, 3]})]]
    messages_like = {"chat": [{"who": "human", "says": "Hi there"}, {"who": "model", "says": "Hello! How can I help?"}]}
    source = Source(
        path=str(write(tmp_path / "msgs.jsonl", [messages_like])),
        format="openai",
        columns={"messages": "chat"},
        tags={"role": "who", "content": "says", "user": "human", "assistant": "model"},
    )
    (conv,), _, rejected = convert(source)
    assert rejected == [] and [(t.role, t.content) for t in conv.turns] == [
        ("user", "Hi there"),
        ("assistant", "Hello! How can I help?"),
    ]


def test_a_mapping_on_a_format_that_takes_none_is_refused_naming_the_source():
    from agentflan.config import ParamsError, parse

    with pytest.raises(
        ParamsError, match=r"data.sources: x.json: columns/tags map the fields of format openai or llamafactory"
    ):
        parse(Source, {"path": "x.json", "format": "glaive", "columns": {"messages": "m"}}, "data.sources")
