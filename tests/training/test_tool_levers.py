"""The two levers for tools never seen in training, in `scripts/sweep_tiny.py` (results/levers.md): tools renamed in
training conversations, and tools made by the dozen (`scripts/synthetic_tools.py`)."""

from __future__ import annotations

import json
import re

from agentflan.data.schema import conversation_from_dict
from agentflan.training.chat_template import chatml_text

HELD_OUT = {"search_hotels", "track_package"}  # the demo benchmark's unseen tools


def demo_conversation() -> dict:
    """A native agent conversation as the final split holds one: three tools offered, one called, its result, the
    answer; one offered tool named with a plain word (`calculate`)."""
    weather = {"name": "get_weather", "description": "Current weather in a city.", "parameters": {"type": "object"}}
    convert = {"name": "convert_currency", "description": "Convert money.", "parameters": {"type": "object"}}
    calc = {"name": "calculate", "description": "Evaluate arithmetic.", "parameters": {"type": "object"}}
    return {
        "id": "agent_7",
        "source": "toolbench",
        "kind": "agent",
        "style": "native",
        "query": "What's the weather in Paris?",
        "tools": [weather, convert, calc],
        "turns": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {
                "role": "assistant",
                "content": "I should call get_weather for Paris (not old_get_weather, get_weather2), then calculate.",
                "loss": True,
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_0"}],
            },
            {"role": "tool", "content": '{"temp": 18}', "name": "get_weather", "tool_call_id": "call_0"},
            {"role": "assistant", "content": "It is 18 degrees in Paris.", "loss": True},
        ],
        "meta": {},
    }


def test_aliases_are_made_of_the_tools_own_words(sweep_tiny):
    names = ["get_weather", "convert_currency", "list_public_holidays", "search_flights", "execute_sql"]
    for name in names:
        aliases = sweep_tiny.aliases(name)
        assert aliases[0] == name and len(aliases) == len(set(aliases)) >= 4
        words = set(name.split("_")) | set(sweep_tiny.VERBS.get(name.split("_")[0], ()))
        for alias in aliases:
            parts = re.sub(r"([A-Z])", r"_\1", alias).lower().split("_")
            assert set(parts) <= words | {"v2", "api"}, alias
            assert alias not in HELD_OUT
    assert "fetch_weather" in sweep_tiny.aliases("get_weather") and "getWeather" in sweep_tiny.aliases("get_weather")
    assert sweep_tiny.aliases("calculate") == ["calculate", "calculate_v2", "calculate_api"]  # no verb to swap


def test_renamed_changes_every_mention_alike_and_keeps_plain_words(sweep_tiny):
    conv = conversation_from_dict(demo_conversation())
    out = sweep_tiny.renamed(conv, seed=0, share=1.0)
    weather, currency = out.tools[0].name, out.tools[1].name
    assert weather in sweep_tiny.aliases("get_weather") and currency in sweep_tiny.aliases("convert_currency")
    assert out.tools[2].name == "calculate"  # a word of ordinary text: kept
    assert [c.name for c in out.calls] == [weather]
    assert out.turns[2].name == weather  # the tool result answers the renamed call
    assert (
        out.turns[1].content
        == f"I should call {weather} for Paris (not old_get_weather, get_weather2), then calculate."
    )
    assert out.calls[0].arguments == {"city": "Paris"} and out.query == conv.query
    renamed_again = sweep_tiny.renamed(conv, seed=0, share=1.0)
    assert renamed_again.to_json() == out.to_json()  # seeded by the conversation
    draws = {
        sweep_tiny.renamed(conversation_from_dict({**demo_conversation(), "id": f"a{i}"}), 0, 1.0).tools[0].name
        for i in range(40)
    }
    assert len(draws) > 5  # each conversation draws its own
    assert sweep_tiny.renamed(conv, seed=0, share=0.0) is conv


def test_renamed_share_is_the_share_of_conversations(sweep_tiny):
    convs = [conversation_from_dict({**demo_conversation(), "id": f"c{i}"}) for i in range(400)]
    touched = sum(sweep_tiny.renamed(c, seed=3, share=0.5) is not c for c in convs)
    assert 160 < touched < 240


def test_synthetic_tools_ask_for_the_offered_tool_in_its_own_words(sweep_tiny):
    tools = sweep_tiny.synthetic_tools.tools()
    names = [t.name for t in tools]
    assert len(names) == len(set(names)) >= 40 and not HELD_OUT & set(names)
    convs = list(sweep_tiny.synthetic_tools.conversations(60, seed=1))
    assert len(convs) == 60 and len({c.calls[0].name for c in convs}) > 20
    for conv in convs:
        (call,) = conv.calls
        offered = [t.name for t in conv.tools]
        assert len(offered) == 3 and offered.count(call.name) == 1
        kind, attribute = call.name.removeprefix("get_").split("_", 1)
        assert attribute.replace("_", " ") in conv.query and list(call.arguments.values())[0] in conv.query
        assert conv.turns[2].role == "tool" and conv.turns[2].name == call.name
        text = chatml_text(conv)  # renders as training sees it: the call as JSON after the thought
        assert json.dumps({"name": call.name, "arguments": call.arguments}) in text
    again = list(sweep_tiny.synthetic_tools.conversations(60, seed=1))
    assert [c.to_json() for c in again] == [c.to_json() for c in convs]
