from __future__ import annotations

from recipe_helpers import labelled_corpus

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import CapabilityTable, count_tokens, label
from agentflan.data.schema import CAPABILITIES


def test_every_assistant_turn_gets_the_capability_of_its_part():
    expected = {"thought": "reasoning", "tool_choice": "retrieval", "arguments": "understanding", "answer": "understanding",
                "react": "instruction_following", "format": "instruction_following", "chat": "general"}
    seen = set()
    for conv in labelled_corpus():
        for turn in conv.assistant_turns:
            assert turn.capability == expected[turn.part]
            seen.add(turn.part)
    assert seen == set(expected)


def test_release_records_are_labelled_from_content(fixtures):
    (react, negative) = [label(c) for c in Converter(ConvertConfig()).run([Source(path=str(fixtures / "agentflan.jsonl"))])]
    assert [t.capability for t in react.assistant_turns] == ["instruction_following", "understanding"]
    assert [t.capability for t in negative.assistant_turns] == ["general"]


def test_token_counts_are_words_and_punctuation():
    assert count_tokens('{"city": "Oslo"}') == 9  # { " city " : " Oslo " }
    assert count_tokens("It is 3 degrees.") == 5


def test_table_counts_only_trainable_turns():
    table = CapabilityTable()
    corpus = labelled_corpus()
    for conv in corpus:
        table.add(conv)
    trainable = sum(count_tokens(t.content) for c in corpus for t in c.trainable_turns)
    assert table.total_tokens == trainable
    metrics = table.to_metrics()
    assert set(metrics["tokens"]) == set(CAPABILITIES) and abs(sum(metrics["share"].values()) - 1) < 1e-4
    assert all(metrics["tokens"][c] > 0 for c in CAPABILITIES)
