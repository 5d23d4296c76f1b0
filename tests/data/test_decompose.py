from __future__ import annotations

import random
import re

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import CapabilityTable, count_tokens, label
from agentflan.data.schema import CAPABILITIES, Conversation, ToolCall, Turn

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
