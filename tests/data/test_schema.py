from __future__ import annotations

import json

import orjson
import pytest

from agentflan.data import prompts
from agentflan.data.jsonio import InputError, read_conversations, write_conversations
from agentflan.data.prompts import render_system, text_json
from agentflan.data.schema import (
    Conversation,
    SchemaError,
    Tool,
    ToolCall,
    Turn,
    conversation_from_dict,
    decode_conversation,
)


def sample() -> Conversation:
    tools = [Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})]
    call = ToolCall("get_weather", {"city": "Oslo"})
    turns = [
        Turn("system", "You are helpful."),
        Turn("user", "Weather in Oslo?"),
        Turn("assistant", "get_weather", loss=True, part="tool_choice"),
        Turn("assistant", call.arguments_json(), loss=True, part="arguments", call=call),
        Turn("tool", '{"t": 3}'),
        Turn("assistant", "3 degrees.", loss=True, part="answer", capability="understanding"),
    ]
    return Conversation("c1", "toolbench", "agent", "chat", turns, tools, "Weather in Oslo?", {"file": "x"})


def test_round_trip(tmp_path):
    path = tmp_path / "c.jsonl"
    write_conversations(path, [sample()])
    (back,) = list(read_conversations(path))
    assert back == sample()
    assert back.to_json() == sample().to_json()


def test_release_export_renders_tools_and_maps_tool_role():
    exported = sample().to_agentflan()
    assert exported["id"] == "c1"
    roles = [t["role"] for t in exported["conversation"]]
    assert roles == ["system", "user", "assistant", "assistant", "user", "assistant"]
    assert exported["conversation"][0]["content"] == render_system("You are helpful.", sample().tools)
    assert (
        '\n<tools>\n{"name": "get_weather", "description": "Weather", "parameters": '
        in exported["conversation"][0]["content"]
    )
    assert [t["loss"] for t in exported["conversation"]] == [False, False, True, True, False, True]


def native_sample() -> Conversation:
    tools = [
        Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}}),
        Tool("get_time", "Time", {"type": "object", "properties": {"city": {"type": "string"}}}),
    ]
    calls = [ToolCall("get_weather", {"city": "Oslo"}, "call_0"), ToolCall("get_time", {"city": "Oslo"}, "call_1")]
    turns = [
        Turn("user", "Weather and time in Oslo?"),
        Turn(
            "assistant",
            "Both need a lookup.",
            loss=True,
            part="thought",
            tool_calls=calls,
            call_loss=[{"name": False, "arguments": True}, {"name": True, "arguments": True}],
        ),
        Turn("tool", '{"t": 3}', name="get_weather", tool_call_id="call_0"),
        Turn("tool", '{"time": "09:00"}', name="get_time", tool_call_id="call_1"),
        Turn("assistant", "3 degrees at 09:00.", loss=True, part="answer"),
    ]
    return Conversation("n1", "openai", "agent", "native", turns, tools, "Weather and time in Oslo?")


def test_native_calls_round_trip_with_their_piece_labels(tmp_path):
    path = tmp_path / "c.jsonl"
    write_conversations(path, [native_sample()])
    (back,) = list(read_conversations(path))
    assert back == native_sample() and back.to_json() == native_sample().to_json()
    pieces = [(p.key, p.part, p.capability, p.loss) for p in back.turns[1].pieces()]
    assert pieces == [
        ("content", "thought", None, True),  # decompose labels the content; the calls' pieces are fixed
        ("name:0", "tool_choice", "retrieval", False),
        ("arguments:0", "arguments", "understanding", True),
        ("name:1", "tool_choice", "retrieval", True),
        ("arguments:1", "arguments", "understanding", True),
    ]
    back.turns[1].set_loss("arguments:1", False)
    assert back.turns[1].call_loss[1] == {"name": True, "arguments": False} and back.turns[1].trainable
    assert [c.name for c in back.calls] == ["get_weather", "get_time"]


def test_native_messages_are_the_openai_shape():
    messages = native_sample().to_messages()
    assert messages[1] == {
        "role": "assistant",
        "content": "Both need a lookup.",
        "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
            {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": {"city": "Oslo"}}},
        ],
    }
    assert messages[3] == {"role": "tool", "content": '{"time": "09:00"}', "name": "get_time", "tool_call_id": "call_1"}
    exported = native_sample().to_agentflan()["conversation"]
    assert exported[2]["content"] == (
        'Both need a lookup.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"city": "Oslo"}}\n</tool_call>'
    )
    assert [t["role"] for t in exported] == ["system", "user", "assistant", "user", "user", "assistant"]


def test_a_call_on_a_user_turn_is_refused():
    d = native_sample().to_dict()
    d["turns"][0]["tool_calls"] = d["turns"][1]["tool_calls"]
    with pytest.raises(SchemaError) as err:
        conversation_from_dict(d)
    assert err.value.field == "turns[0].tool_calls"


def test_messages_and_tools_for_chat_templates():
    conv = sample()
    assert conv.to_messages()[4] == {"role": "tool", "content": '{"t": 3}'}
    assert conv.tools_openai() == [{"type": "function", "function": conv.tools[0].to_dict()}]


def test_both_exports_write_the_tools_as_json_dumps_does():
    odd = Tool(
        "lookup_ñandú",
        'Finds "quoted" things\\ in 日本語, tab\there.',
        {"type": "object", "properties": {"q": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "number"}}},
    )
    conv = sample()
    conv.tools = [conv.tools[0], odd]
    agentflan, hf = conv.exports()
    assert hf["tools"] == json.dumps(conv.tools_openai(), ensure_ascii=False)  # TRL's json.loads reads it back
    assert (agentflan, hf) == (conv.to_agentflan(), conv.to_hf())
    assert agentflan["conversation"][0]["content"] == render_system("You are helpful.", conv.tools)
    conv.meta["tools_in_prompt"] = True  # the system text lists them already: no `tools`, the text as it is
    assert conv.to_hf()["tools"] == "[]" and conv.to_agentflan()["conversation"][0]["content"] == "You are helpful."
    conv.meta["tools_in_prompt"], conv.turns = False, conv.turns[1:]  # no system turn: one is written for the tools
    assert conv.exports()[0]["conversation"][0] == {
        "role": "system",
        "content": render_system("", conv.tools),
        "loss": False,
    }


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["turns"][1].update(role="robot"), "turns[1].role"),
        (lambda d: d["turns"][2].pop("content"), "turns[2].content"),
        (lambda d: d["turns"][5].update(capability="magic"), "turns[5].capability"),
        (lambda d: d.update(kind="other"), "kind"),
        (lambda d: d["tools"][0].pop("name"), "tools[0].name"),
        (lambda d: d["tools"][0].update(parameters="none"), "tools[0].parameters"),
        (lambda d: d.update(tools=[d["tools"][0], "get_weather"]), "tools[1]"),
        (lambda d: d.update(tools="get_weather"), "tools"),
    ],
)
def test_schema_errors_name_the_field(mutate, field):
    """The same field named whether the record is a parsed value or a JSON line."""
    d = sample().to_dict()
    mutate(d)
    for read in (conversation_from_dict, lambda value: decode_conversation(orjson.dumps(value))):
        with pytest.raises(SchemaError) as err:
            read(d)
        assert err.value.field == field


def test_reading_a_bad_record_names_file_and_record(tmp_path):
    path = tmp_path / "c.jsonl"
    d = sample().to_dict()
    d["turns"][0]["role"] = "robot"
    path.write_bytes(
        sample().to_json() + b"\n" + Conversation.to_json(sample()).replace(b'"system"', b'"robot"', 1) + b"\n"
    )
    with pytest.raises(InputError, match=r"c\.jsonl: record 2 \(id 'c1'\): field turns\[0\]\.role"):
        list(read_conversations(path))


def test_a_tool_line_is_the_json_dumps_of_the_tool_whatever_was_written_before_it():
    """`tool_line` remembers tools' JSON lines; two tools whose parameters msgspec writes alike (NaN, infinity and null
    are all null to it) or that differ only in key order still get their own line, in either order."""
    import math

    from agentflan.data import schema

    def line(params, name="f"):
        return json.dumps({"name": name, "description": "d", "parameters": params}, ensure_ascii=False)

    cases = [
        {"type": "object", "properties": {"x": {"default": None}}},
        {"type": "object", "properties": {"x": {"default": math.nan}}},
        {"type": "object", "properties": {"x": {"default": math.inf}}},
        {"properties": {"x": {"default": 1}}, "type": "object"},
        {"type": "object", "properties": {"x": {"default": 1}}},
        {"type": "object", "properties": {"x": {"default": 1.0}}},
        {"type": "object", "properties": {"x": {"default": True}}},
        {"type": "object", "properties": {"ville": {"description": "Zürich, 東京"}}},
    ]
    for order in (cases, cases[::-1], cases + cases):
        schema._tool_line.cache_clear()
        assert [schema.tool_line(Tool("f", "d", p)) for p in order] == [line(p) for p in order]
    assert schema.tool_line(Tool("g", "d", cases[4])) == line(cases[4], "g")  # the name is in the key too
    kept = schema._tool_line.cache_info().maxsize  # bounded: a corpus of many tools does not grow it
    for k in range(kept + 10):
        assert schema.tool_line(Tool(f"t{k}", "d", cases[4])) == line(cases[4], f"t{k}")
    assert schema._tool_line.cache_info().currsize <= kept


def test_a_decoded_record_is_the_one_pass_decoding_and_shares_each_tool_definition():
    """`decode_conversation` reads a tool's JSON text once into a `Tool` shared by every record that writes the same
    text: the record equals msgspec's one-pass decoding of the line, a tool written otherwise (another description,
    its keys in another order, a null list) is its own, and the shared tool's JSON line is the one json.dumps writes."""
    import msgspec

    from agentflan.data import schema

    one_pass = msgspec.json.Decoder(Conversation)
    first, again = sample(), sample()
    again.id = "c2"
    other = sample()
    other.tools = [Tool("get_weather", "Weather now", first.tools[0].parameters)]
    reordered = sample().to_dict()
    reordered["tools"][0]["parameters"] = {"properties": {"city": {"type": "string"}}, "type": "object"}
    empty = sample().to_dict() | {"tools": None}
    lines = [first.to_json(), again.to_json(), other.to_json(), orjson.dumps(reordered), orjson.dumps(empty)]
    read = [decode_conversation(line) for line in lines]
    assert read == [one_pass.decode(line) for line in lines]
    assert read[0].tools[0] is read[1].tools[0]
    assert read[2].tools[0] is not read[0].tools[0] and read[3].tools[0] is not read[0].tools[0]
    assert list(read[3].tools[0].parameters) == ["properties", "type"] and read[4].tools == []
    for r in read[:4]:
        assert schema.tool_line(r.tools[0]) == json.dumps(r.tools[0].to_dict(), ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {"city": "Oslo", "days": 3, "ok": True, "none": None},
        {"nested": {"list": [1, 2.5, "ñandú 日本語 🙂", [], {}]}, "quote": 'say "hi"\\ \n\t\x00\u2028'},
        {"floats": [0.1, 1e16, -0.0, 1e-7, float("nan"), float("inf"), -float("inf")]},
        {7: "int key", 2.5: "float key", True: "bool key", None: "null key"},
        "a string alone",
        [1, "two", None],
        3,
        {},
    ],
)
@pytest.mark.parametrize("c_encoder", [True, False])
def test_text_json_is_json_dumps(value, c_encoder, monkeypatch):
    """The prompt texts' JSON (calls' arguments, tools' schemas) is `json.dumps(value, ensure_ascii=False)` to the
    character, by the C encoder made once or (a Python without it) by `JSONEncoder.encode`: floats as repr writes
    them, NaN and Infinity, keys that are not strings."""
    if not c_encoder:
        monkeypatch.setattr(prompts, "_C_TEXT", None)
    assert text_json(value) == json.dumps(value, ensure_ascii=False)


def test_text_json_refuses_what_json_dumps_refuses():
    with pytest.raises(TypeError, match="not JSON serializable"):
        text_json({"when": object()})
    with pytest.raises(TypeError, match="keys must be str"):
        text_json({(1, 2): "tuple key"})
