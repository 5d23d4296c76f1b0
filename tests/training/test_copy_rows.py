"""The synthetic copying rows of `scripts/sweep_tiny.py` (the copy warm-up lever of results/levers.md)."""

from __future__ import annotations

from types import SimpleNamespace

from agentflan.training.packing import IGNORE, Packed


def test_copy_rows_repeat_a_run_and_learn_only_the_repeat(sweep_tiny):
    corpus = Packed([[0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] * 20], [], [], [])  # rows of 240 tokens; 0 is special
    tokenizer = SimpleNamespace(all_special_ids=[0], pad_token_id=0)
    out = Packed([], [], [], [])
    sweep_tiny.add_copy_rows(out, 3, corpus, tokenizer, seed=7)
    assert out.rows == 3 and len(out.capabilities) == 3
    for ids, labels, segments, positions in zip(out.input_ids, out.labels, out.segments, out.positions):
        assert len(ids) == len(labels) == len(segments) == len(positions) == 240
        runs = sorted(set(segments) - {0})
        assert len(runs) >= 2  # runs of 8 to 48 tokens, each twice: at least two fit in 240
        for segment in runs:
            at = [i for i, s in enumerate(segments) if s == segment]
            assert at == list(range(at[0], at[0] + len(at)))  # one contiguous piece
            assert [positions[i] for i in at] == list(range(len(at)))  # its positions restart at 0
            run = [ids[i] for i in at]
            half = len(run) // 2
            assert len(run) % 2 == 0 and 8 <= half <= 48 and run[:half] == run[half:]
            assert 0 not in run  # no special token is copied
            learned = [labels[i] for i in at]
            # the first copy and the repeat's first token (no way to know where a run ends) are not learned
            assert learned == [IGNORE] * (half + 1) + run[half + 1 :]
        assert all(ids[i] == 0 and labels[i] == IGNORE for i, s in enumerate(segments) if s == 0)  # padding


def test_copy_rows_are_seeded(sweep_tiny):
    corpus = Packed([list(range(1, 201))], [], [], [])
    tokenizer = SimpleNamespace(all_special_ids=[0], pad_token_id=0)
    a, b, c = Packed([], [], [], []), Packed([], [], [], []), Packed([], [], [], [])
    sweep_tiny.add_copy_rows(a, 2, corpus, tokenizer, seed=1)
    sweep_tiny.add_copy_rows(b, 2, corpus, tokenizer, seed=1)
    sweep_tiny.add_copy_rows(c, 2, corpus, tokenizer, seed=2)
    assert a.input_ids == b.input_ids and a.input_ids != c.input_ids
