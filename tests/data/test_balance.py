from __future__ import annotations

import random

import pytest

from agentflan.config import BalanceConfig, Mix
from agentflan.data.balance import Balancer, Candidates, TurnKeys, candidates, piece_key, plan_thresholds
from agentflan.data.schema import CAPABILITIES
from agentflan.data.seeded import unit_hash

from recipe_helpers import labelled_corpus

PAPER = {"reasoning": 1.0, "retrieval": 0.25, "understanding": 0.75}


def balance(mix: Mix, seed: int = 0):
    balancer = Balancer(mix, BalanceConfig(seed=seed))
    balancer.plan(labelled_corpus())
    out = list(balancer.apply(labelled_corpus()))
    return out, balancer.result


def test_reasoning_0_3_hits_its_target_share_and_leaves_the_others_alone():
    _, base = balance(Mix(**PAPER))
    _, moved = balance(Mix(**{**PAPER, "reasoning": 0.3}))
    target = moved.target_shares()["reasoning"]
    achieved = moved.after.shares()["reasoning"]
    assert abs(achieved - target) < 0.02 * target  # within 2% of the target share (relative)
    assert (
        abs(moved.after.tokens["reasoning"] - 0.3 * moved.before.tokens["reasoning"])
        < 0.01 * moved.before.tokens["reasoning"]
    )
    for c in CAPABILITIES:
        if c != "reasoning":
            assert moved.after.tokens[c] == base.after.tokens[c]  # the others keep their tokens exactly
    assert moved.after.shares()["reasoning"] < base.after.shares()["reasoning"]


def test_the_papers_mix_keeps_its_ratio_of_each_capability():
    _, result = balance(Mix(**PAPER))
    before, after = result.before.tokens, result.after.tokens
    for c, w in PAPER.items():
        assert abs(after[c] - w * before[c]) <= max(25, 0.01 * before[c])
    for c in ("instruction_following", "general"):
        assert after[c] == before[c]


def test_masking_keeps_text_and_drops_conversations_with_nothing_to_learn():
    corpus = labelled_corpus()
    out, result = balance(Mix(reasoning=0, retrieval=0, understanding=0, instruction_following=0, general=1))
    assert result.after.tokens["reasoning"] == 0
    assert all(c.kind == "general" for c in out)
    assert result.dropped == len(corpus) - len(out) > 0
    # a masked turn stays in the conversation as context
    partial, _ = balance(Mix(reasoning=0))
    conv = next(c for c in partial if any(t.part == "thought" for t in c.turns))
    assert all(not t.loss for t in conv.turns if t.part == "thought")


def test_the_learned_pieces_applied_gives_are_the_balanced_conversations_own():
    balancer = Balancer(Mix(reasoning=0.5, retrieval=0.25, understanding=0.6), BalanceConfig(seed=3))
    balancer.plan(labelled_corpus())
    applied = list(balancer.applied(labelled_corpus()))
    assert len(applied) < len(labelled_corpus())  # some conversations were left with nothing to learn, and dropped
    assert all(learned == conv.learned_pieces() and conv.trainable_turns for conv, learned in applied)
    assert any(not p.loss for conv, _ in applied for t in conv.turns for p in t.pieces())  # masking happened
    assert piece_key(3, "c1", 2, "content") == unit_hash(3, "balance", "c1", 2)  # the keys the planning pass drew
    assert piece_key(3, "c1", 2, "name:0") == unit_hash(3, "balance", "c1", 2, "name:0")


def test_balance_is_deterministic_and_seeded():
    first, _ = balance(Mix(reasoning=0.5))
    again, _ = balance(Mix(reasoning=0.5))
    other, _ = balance(Mix(reasoning=0.5), seed=7)
    assert [c.to_json() for c in first] == [c.to_json() for c in again]
    assert [c.to_json() for c in first] != [c.to_json() for c in other]


def test_thresholds_pick_the_closest_prefix():
    pairs = {"reasoning": TurnKeys([(0.3, 10), (0.1, 10), (0.4, 10), (0.2, 10)])}
    t = plan_thresholds(pairs, Mix(reasoning=0.5))
    assert t["reasoning"] == 0.2 and t["general"] == 1.0
    assert plan_thresholds(pairs, Mix(reasoning=0.0))["reasoning"] == -1.0


def reference_threshold(pairs: list[tuple[float, int]], weight: float) -> float:
    """The plain walk over the sorted turns: keep adding while the gap to the target does not grow."""
    target = weight * sum(tokens for _, tokens in pairs)
    kept, best_key, best_gap = 0, -1.0, target
    for key, tokens in sorted(pairs):
        kept += tokens
        if abs(kept - target) > best_gap:
            break
        best_key, best_gap = key, abs(kept - target)
    return best_key


@pytest.mark.parametrize("seed", range(20))
def test_thresholds_match_the_plain_walk_over_sorted_turns(seed):
    rng = random.Random(seed)
    pairs = [(rng.random(), rng.choice([0, 0, 1, 3, 7, 40])) for _ in range(rng.randint(1, 60))]
    weight = rng.choice([0.0, 0.1, 0.33, 0.5, 0.9])
    assert plan_thresholds({"reasoning": TurnKeys(pairs)}, Mix(reasoning=weight))["reasoning"] == reference_threshold(
        pairs, weight
    )


def test_keys_only_for_sampled_capabilities_change_nothing_written():
    """The first pass keys only the pieces of capabilities the mix samples (weight below 1): the same thresholds,
    the same records and labels as keying every piece."""
    mix = Mix(**PAPER)
    keyed = candidates(labelled_corpus(), 0, mix)
    every = Candidates()
    for conv in labelled_corpus():
        every.add(conv, 0, frozenset(CAPABILITIES))
    assert set(keyed.pieces) == {"retrieval", "understanding"} and len(every.pieces) == len(CAPABILITIES)
    assert keyed.before.tokens == every.before.tokens
    assert plan_thresholds(keyed.pieces, mix) == plan_thresholds(every.pieces, mix)
    sampled_only, full = Balancer(mix, BalanceConfig(seed=0)), Balancer(mix, BalanceConfig(seed=0))
    sampled_only.plan_from(keyed)
    full.plan_from(every)
    assert [c.to_json() for c in sampled_only.apply(labelled_corpus())] == [
        c.to_json() for c in full.apply(labelled_corpus())
    ]


def test_a_mix_that_samples_nothing_needs_no_first_pass():
    """Every weight 1 (the default): `plan_unsampled` plans without reading the records, and one pass gives the records
    and every count two passes give, the conversations with nothing to learn dropped and counted before."""
    mix, corpus = Mix(), labelled_corpus()  # every weight 1
    empty = corpus[0].__copy__()
    empty.id = "nothing_to_learn"
    empty.turns = [t.__copy__() for t in corpus[0].turns]
    for t in empty.turns:
        t.loss, t.call_loss = False, [{"name": False, "arguments": False} for _ in t.call_loss]
    two_pass, one_pass = Balancer(mix, BalanceConfig(seed=0)), Balancer(mix, BalanceConfig(seed=0))
    two_pass.plan([*corpus, empty])
    expected = [c.to_json() for c in two_pass.apply([*labelled_corpus(), empty])]
    assert one_pass.plan_unsampled()
    part = one_pass.chunk()  # as the stage applies it: in chunks, merged
    assert [c.to_json() for c in part.apply([*labelled_corpus(), empty])] == expected
    one_pass.merge(part)
    one_pass.finish()
    assert one_pass.result.to_metrics() == two_pass.result.to_metrics()
    assert one_pass.result.dropped == 1 and one_pass.result.before.conversations == len(corpus) + 1
    assert not Balancer(Mix(retrieval=0.5), BalanceConfig()).plan_unsampled()  # sampling needs the plan


@pytest.mark.parametrize("mix", [Mix(**PAPER), Mix()], ids=["paper", "all-ones"])
def test_balanced_says_whether_it_changed_the_record(mix):
    """The stage writes a record that nothing was masked in as the line it came in (`parallel.Records`): `balanced`
    reports a mask exactly when the record's JSON changed."""
    balancer = Balancer(mix, BalanceConfig(seed=0))
    balancer.plan(labelled_corpus())
    reported = []
    for conv in labelled_corpus():
        before = conv.to_json()
        kept = balancer.balanced(conv)
        if kept is not None:
            learned, masked = kept
            assert masked == (conv.to_json() != before) and learned == conv.learned_pieces()
            reported.append(masked)
    assert any(reported) == (mix != Mix()) and not all(reported)
