from __future__ import annotations

import json
import pickle
import random
import re
from collections import Counter

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import CapabilityTable, count_tokens, label
from agentflan.data.schema import (
    CAPABILITIES,
    Conversation,
    Piece,
    Tool,
    ToolCall,
    Turn,
    decode_conversation,
    with_capabilities,
)

from recipe_helpers import elicited_corpus, labelled_corpus

EXPECTED = {
    "thought": "reasoning",
    "tool_choice": "retrieval",
    "arguments": "understanding",
    "answer": "understanding",
    "react": "instruction_following",
    "format": "instruction_following",
    "chat": "general",
}


def test_every_piece_gets_the_capability_of_its_part():
    seen = set()
    for conv in labelled_corpus():
        for turn in conv.assistant_turns:
            assert turn.capability == EXPECTED[turn.part]
            for piece in turn.pieces():  # inside a native message: the thought, the tool name, the arguments
                assert piece.capability == EXPECTED[piece.part]
                seen.add(piece.part)
    assert seen == set(EXPECTED)


def test_the_elicited_form_labels_turns_the_same_way():
    seen = set()
    for conv in elicited_corpus():
        for turn in conv.assistant_turns:
            assert turn.capability == EXPECTED[turn.part] and [p.key for p in turn.pieces()] == ["content"]
            seen.add(turn.part)
    assert seen == set(EXPECTED)


def test_release_records_are_labelled_from_content(fixtures):
    (react, negative) = [
        label(c) for c in Converter(ConvertConfig()).run([Source(path=str(fixtures / "agentflan.jsonl"))])
    ]
    assert [t.capability for t in react.assistant_turns] == ["instruction_following", "understanding"]
    assert [t.capability for t in negative.assistant_turns] == ["general"]


def test_token_counts_are_words_and_punctuation():
    assert count_tokens('{"city": "Oslo"}') == 9  # { " city " : " Oslo " }
    assert count_tokens("It is 3 degrees.") == 5


def test_ascii_counts_equal_the_token_pattern_on_every_character_class():
    """The ASCII fast path against what it stands for, `\\w+|[^\\w\\s]` matched: random texts of every ASCII
    character (controls, the \\x1c-\\x1f separators that str.isspace() calls spaces, DEL), and non-ASCII ones."""
    rng = random.Random(0)
    alphabet = [chr(i) for i in range(128)] + ["é", "ß", "\u2003", "日"]
    for n in range(3000):
        chars = alphabet if n % 3 else alphabet[:128]
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 40)))
        assert count_tokens(text) == len(re.findall(r"\w+|[^\w\s]", text)), repr(text)
    assert count_tokens("") == 0
    assert count_tokens("a\x1cb\x00c") == 4  # a, b, the NUL (a mark) and c: \x1c separates as a space does


def test_table_counts_each_learned_piece_under_its_capability():
    call = ToolCall("get_weather", {"city": "Oslo"})
    turns = [
        Turn("user", "Weather in Oslo?"),
        Turn(
            "assistant",
            "I will check the weather.",
            loss=True,
            part="thought",
            tool_calls=[call],
            call_loss=[{"name": False, "arguments": True}],
        ),
        Turn("tool", '{"t": 3}', name="get_weather"),
        Turn("assistant", "It is 3 degrees.", loss=False, part="answer"),
    ]
    table = CapabilityTable()
    table.add(label(Conversation("c", "s", "agent", "native", turns, [], "Weather in Oslo?")))
    # "I will check the weather ." = 6; the name is masked; {"city": "Oslo"} = 9; the answer is not learned
    assert dict(table.tokens) == {"reasoning": 6, "understanding": 9} and dict(table.turns) == {
        "reasoning": 1,
        "understanding": 1,
    }

    table = CapabilityTable()
    for conv in labelled_corpus():
        table.add(conv)
    metrics = table.to_metrics()
    assert set(metrics["tokens"]) == set(CAPABILITIES) and abs(sum(metrics["share"].values()) - 1) < 1e-4
    assert all(metrics["tokens"][c] > 0 for c in CAPABILITIES)


def test_table_counts_texts_together_as_it_would_one_at_a_time():
    """`add`'s texts are counted when `tokens` is read, joined: a word at the end of one text and one at the start of
    the next stay two tokens, a mark stays one, an empty text adds none, a non-ASCII text is counted apart; reading
    twice counts once; a pickled table (a worker's) carries its counts."""
    table = CapabilityTable()
    texts = {"reasoning": ["ab", "cd", "It is", "3.", "", "x"], "understanding": ['{"a": 1}', "日本 語", "ok"]}
    for capability, group in texts.items():
        for text in group:
            table.add_piece(Piece("content", text, None, capability, True))
    assert dict(table.tokens) == {"reasoning": 7, "understanding": 10}  # ab cd It is 3 . x | { " a " : 1 } 日本 語 ok
    assert dict(table.tokens) == {"reasoning": 7, "understanding": 10} and dict(table.turns) == {
        "reasoning": 6,
        "understanding": 3,
    }
    table.add_piece(Piece("content", "one more", None, "reasoning", True))
    back = pickle.loads(pickle.dumps(table))
    assert back.tokens["reasoning"] == 9 and back == table

    rng = random.Random(1)
    alphabet = [chr(i) for i in range(128)] + ["é", "日"]
    table, expected = CapabilityTable(), Counter()
    for n in range(2000):
        chars = alphabet if n % 5 == 0 else alphabet[:128]
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 30)))
        capability = rng.choice(CAPABILITIES)
        table.add_piece(Piece("content", text, None, capability, True))
        expected[capability] += len(re.findall(r"\w+|[^\w\s]", text))
    assert table.tokens == expected


def _unlabelled(conv: Conversation) -> Conversation:
    for turn in conv.turns:
        turn.capability = None
    return conv


def test_labels_are_written_into_the_line_a_record_came_in_as_to_json_writes_them():
    """`with_capabilities`: convert's line (no capability yet) with decompose's labels in it is the labelled record's
    `to_json()`, in the native and the elicited form, every kind of turn and call; so is a labelled line labelled
    otherwise."""
    corpus = labelled_corpus() + elicited_corpus()
    assert {t.capability for c in corpus for t in c.turns} == {None, *CAPABILITIES}
    for conv in corpus:
        line = _unlabelled(conv).to_json()
        labelled = label(decode_conversation(line))
        assert with_capabilities(line, labelled) == labelled.to_json() != line
        for turn in labelled.assistant_turns:
            turn.capability = "general"
        assert with_capabilities(labelled.to_json(), label(decode_conversation(line))) == label(conv).to_json()


def test_a_line_with_the_capability_key_anywhere_else_is_left_to_to_json():
    """A tool's schema, a call's arguments or the meta holding a `capability` key, or a line not written compactly:
    the line cannot tell which key is a turn's, and None says so (the stage then encodes the record)."""
    conv = next(c for c in labelled_corpus() if c.tools and any(t.tool_calls for t in c.turns))
    k = next(i for i, t in enumerate(conv.turns) if t.tool_calls)
    with_tool, with_arguments, with_meta = (decode_conversation(conv.to_json()) for _ in range(3))
    with_tool.tools = [*with_tool.tools, Tool("rank", "", {"type": "object", "properties": {"capability": {}}})]
    call = with_arguments.turns[k].tool_calls[0]
    with_arguments.turns[k].tool_calls = [ToolCall(call.name, {"capability": None}, call.id)]
    with_meta.meta = {**with_meta.meta, "capability": "x"}
    for odd in (with_tool, with_arguments, with_meta):
        line = _unlabelled(odd).to_json()
        assert b'"capability":' in line and with_capabilities(line, label(decode_conversation(line))) is None
    spaced = json.dumps(json.loads(_unlabelled(conv).to_json()), ensure_ascii=False).encode()
    assert with_capabilities(spaced, label(decode_conversation(spaced))) is None
    assert with_capabilities(_unlabelled(conv).to_json(), label(conv)) == conv.to_json()  # the same record, compact
