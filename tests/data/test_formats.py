"""Upstream records exactly as published convert without quarantine, with calls and arguments parsed."""

from __future__ import annotations

import json

import pytest

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.formats import detect, toolbench
from agentflan.data.jsonio import iter_raw


def convert(path, fmt="auto", **cfg):
    rejected = []
    converter = Converter(ConvertConfig(**{"format_samples": 0, **cfg}), rejected.append)
    out = list(converter.run([Source(path=str(path), format=fmt)]))
    return out, converter.stats, rejected


def test_toolbench_as_preprocessing_writes_it(fixtures):
    out, stats, rejected = convert(fixtures / "toolbench_toolllama.json", react_fraction=0.0)
    assert rejected == []
    # one record per step: the two prefixes never reach Finish, the last one does
    assert stats.read == 3 and stats.converted == 1 and stats.dropped == {"no_final_answer": 2}
    conv = out[0]
    assert conv.id.startswith("Step 6: I'm looking for running shoes")
    assert conv.query.startswith("I'm looking for running shoes") and not conv.query.endswith("Begin!")
    # the Python-repr API list is parsed into structured tools; Finish is not a tool
    assert [t.name for t in conv.tools] == [
        "search_for_real_time_product_search",
        "product_reviews_for_real_time_product_search",
    ]
    assert conv.tools[0].parameters["required"] == ["q"]
    assert conv.tools[0].parameters["properties"]["limit"]["type"] == "integer"
    assert [(c.name, c.arguments) for c in conv.calls] == [
        ("search_for_real_time_product_search", {"q": "Nike running shoes", "country": "us"}),
        ("product_reviews_for_real_time_product_search", {"product_id": "11577822456427762145"}),
    ]
    answer = conv.turns[-1]
    assert answer.part == "answer" and answer.content.startswith("The Nike Pegasus 40 costs")


def test_toolbench_empty_thought_makes_no_empty_piece(fixtures):
    out, _, _ = convert(fixtures / "toolbench_toolllama.json", react_fraction=0.0, call_style="elicited")
    parts = [t.part for t in out[0].turns if t.role == "assistant"]
    # step 1: thought, tool, args; step 2 (empty thought): tool, args; finish: thought, answer
    assert parts == ["thought", "tool_choice", "arguments", "tool_choice", "arguments", "thought", "answer"]
    assert all(t.content.strip() for t in out[0].turns if t.role == "assistant")
    native, _, _ = convert(fixtures / "toolbench_toolllama.json", react_fraction=0.0)
    pieces = [[p.part for p in t.pieces()] for t in native[0].turns if t.role == "assistant"]
    # step 1: one message, thought + call; step 2 (empty thought): the call alone; finish: the answer
    assert pieces == [["thought", "tool_choice", "arguments"], ["tool_choice", "arguments"], ["answer"]]
    assert all(p.text.strip() for t in native[0].turns for p in t.pieces())


def test_toolbench_react_style_keeps_upstream_text(fixtures):
    out, _, _ = convert(fixtures / "toolbench_toolllama.json", react_fraction=1.0)
    conv = out[0]
    assert conv.style == "react" and conv.meta["tools_in_prompt"] is True
    assert conv.turns[0].content.rstrip().endswith("]")  # the system prompt with its API list, verbatim
    react = [t for t in conv.turns if t.part == "react"]
    assert react[0].content.startswith("Thought: I should search") and "Action Input: {" in react[0].content
    assert react[0].call.arguments == {"q": "Nike running shoes", "country": "us"}


def test_api_list_is_parsed_once_per_prompt(fixtures):
    toolbench.parse_api_list.cache_clear()
    convert(fixtures / "toolbench_toolllama.json")
    info = toolbench.parse_api_list.cache_info()
    assert info.misses == 1 and info.hits == 2


def test_an_api_list_is_read_an_api_at_a_time_with_the_values_of_the_whole():
    """Each API of a prompt's list is read once across prompts (`_api_tool`): the tools are those of the whole list,
    where a description holds the separator between elements (the list is read whole then), where a value is a tuple
    (ast's reading, made JSON), and a bad entry is refused naming its place as before."""
    from agentflan.data.formats.base import RecordError

    params = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "optional": []}
    search = {"name": "search", "description": "Find pages.", "parameters": params}
    tricky = {"name": "echo", "description": "x}, {'name': 'y", "parameters": {"type": "object", "properties": {}}}
    pick = {"name": "pick", "description": "It's one of (1, 2).", "parameters": {"type": "object", "default": (1, 2)}}
    finish = {"name": "Finish", "description": "End.", "parameters": {}}

    def tools(*apis):
        system = "You are AutoGPT.\n" + toolbench.API_MARKER + repr(list(apis))
        return [(t.name, t.description, t.parameters) for t in toolbench.parse_api_list.__wrapped__(system)]

    wanted = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}  # "optional" dropped
    toolbench._api_tool.cache_clear()
    assert tools(search, pick, finish) == [
        ("search", "Find pages.", wanted),
        ("pick", "It's one of (1, 2).", {"type": "object", "default": [1, 2]}),
    ]
    assert tools(finish, search) == [("search", "Find pages.", wanted)]
    assert toolbench._api_tool.cache_info().hits == 2  # search and Finish, read once each
    text = repr([tricky, search])
    assert toolbench._tools_by_element(text) is None  # cut inside the description: read whole
    assert tools(tricky, search) == [
        ("echo", "x}, {'name': 'y", {"type": "object", "properties": {}}),
        ("search", "Find pages.", wanted),
    ]
    with pytest.raises(RecordError) as e:
        tools(search, {"description": "no name"})
    assert e.value.field == "conversations[0].value.apis[1]"


def test_agentinstruct_os_and_db_as_published(fixtures):
    out, stats, rejected = convert(fixtures / "agentinstruct.jsonl", react_fraction=0.0)
    assert rejected == [] and stats.converted == 2
    os_conv, db_conv = out
    assert os_conv.source == "agentinstruct/os" and db_conv.source == "agentinstruct/db"
    assert os_conv.query == "Find out how many groups with an index not greater than 50 exist in the system."
    assert [c.name for c in os_conv.calls] == ["bash", "bash", "bash"]
    assert os_conv.calls[-1].arguments == {"script": "awk -F: '$3<=50' /etc/group | wc -l"}
    # the 1-shot example stays unlearned; the real task is learned
    learned = [t for t in os_conv.turns if t.role == "assistant" and t.loss]
    example = [t for t in os_conv.turns if t.role == "assistant" and not t.loss]
    assert any("ls /etc" in str(t.to_dict()) for t in example) and not any(
        "ls /etc" in str(t.to_dict()) for t in learned
    )
    assert all(not t.trainable for t in example)
    assert learned[-1].part == "answer" and learned[-1].content == "29"
    # DB: the instruction-only prompt and its "Ok." are dropped in chat form; the SQL is parsed
    assert db_conv.query.startswith("What is the total number of wins")
    assert db_conv.calls[0].name == "execute_sql"
    assert db_conv.calls[0].arguments == {"sql": "SELECT SUM(`Wins`) FROM `Standings` WHERE `Losses` = 23;"}
    assert db_conv.turns[-1].content == '["15"]'
    assert not any(t.content == "Ok." for t in db_conv.turns)


def test_agentinstruct_react_style_keeps_loss_flags(fixtures):
    out, _, _ = convert(fixtures / "agentinstruct.jsonl", react_fraction=1.0)
    os_conv = out[0]
    flags = [(t.loss, t.content.split("\n")[0]) for t in os_conv.turns if t.role == "assistant"]
    assert flags[:3] == [
        (False, "Think: To count the files in /etc, I need to print all the files in it."),
        (
            False,
            "Think: The output has been truncated because it is too long, so I need to count files by script directly.",
        ),
        (False, "Think: Now I get the answer, it is 220."),
    ]
    assert all(loss for loss, _ in flags[3:])


def test_sharegpt_and_agentflan_release(fixtures):
    out, _, rejected = convert(fixtures / "sharegpt.jsonl")
    assert rejected == [] and out[0].kind == "general" and out[0].trainable_turns[0].part == "chat"
    out, _, rejected = convert(fixtures / "agentflan.jsonl")
    assert rejected == []
    react, negative = out
    assert react.style == "react" and negative.kind == "negative"
    assert [t.loss for t in negative.turns] == [False, False, True]  # assistant without `loss` is trained on


def test_format_detection(fixtures):
    def sample(name):
        return [r.data for r in iter_raw(fixtures / name)]

    assert detect(sample("toolbench_toolllama.json")) == "toolbench"
    assert detect(sample("agentinstruct.jsonl")) == "agentinstruct"
    assert detect(sample("sharegpt.jsonl")) == "sharegpt"
    assert detect(sample("agentflan.jsonl")) == "agentflan"
    assert detect([{"text": "hello"}]) is None


def test_chat_files_that_share_other_formats_field_or_role_names_are_read_as_what_they_are(tmp_path):
    # ShareGPT rows whose roles are "user"/"assistant" (ToolBench's role names, without its API list, function turns
    # or ReAct steps): read as chat, not quarantined as ToolBench records without an API list
    chat = [
        {
            "id": "a1",
            "conversations": [{"from": "user", "value": "Hi there"}, {"from": "assistant", "value": "Hello!"}],
        },
        {
            "id": "a2",
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "user", "value": "Capital of France?"},
                {"from": "assistant", "value": "Paris."},
            ],
        },
    ]
    assert detect(chat) == "sharegpt"
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chat))
    out, _, rejected = convert(path)
    assert rejected == [] and [c.kind for c in out] == ["general", "general"]
    assert [(t.role, t.content) for t in out[1].turns] == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
    ]
    # OpenAI messages under ShareGPT's field name
    rows = [{"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}]
    assert detect(rows) == "openai"
    path = tmp_path / "messages.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n")
    out, _, rejected = convert(path)
    assert rejected == [] and [(t.role, t.content) for t in out[0].turns] == [("user", "Hi"), ("assistant", "Hello!")]
