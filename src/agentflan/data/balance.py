"""Capability balancing: re-weight trainable tokens per capability by the `mix.*` weights.

Mechanism: loss masking by piece. A piece is what one assistant turn teaches of one capability: its content,
or a native call's name or its arguments (`Turn.pieces`), so `mix.retrieval=0.25` masks tool-name tokens only
and leaves the thought and the arguments of the same message learned. For each capability `c`, a seeded,
deterministic subset of its trainable pieces holding `mix.c` of its trainable tokens keeps its loss; the
others stay in the conversation as context, unlearned. Conversations left with nothing to learn are
dropped. Other capabilities are untouched, so lowering `mix.reasoning` changes the reasoning tokens
only, and each capability's trainable tokens land within one piece of `mix.c * before`.

Two streaming passes over the input: the first plans a hash threshold per capability (memory: one
(hash, tokens) pair per trainable piece, 16 bytes in flat arrays), the second applies it. A mix that samples
nothing (every weight 1, the default) needs no plan: one pass (`Balancer.plan_unsampled`).

Pure data: no MLflow, no GX, no torch.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agentflan.config import BalanceConfig, Mix
from agentflan.data.decompose import CapabilityTable, count_tokens
from agentflan.data.schema import CAPABILITIES, Conversation, Piece
from agentflan.data.seeded import text_hash


def piece_key(seed: int, conv_id: str, index: int, key: str) -> float:
    """The seeded hash that orders a piece (turn `index`'s content, or a call's name or arguments) for keeping."""
    # unit_hash(seed, "balance", conv_id, index[, key]), its parts joined here
    return text_hash(
        f"{seed}:balance:{conv_id}:{index}" if key == "content" else f"{seed}:balance:{conv_id}:{index}:{key}"
    )


class TurnKeys:
    """The (hash key, tokens) of every trainable turn of one capability, in two flat arrays (16 bytes a turn)."""

    def __init__(self, pairs: Iterable[tuple[float, int]] = ()):
        self.keys, self.tokens = array("d"), array("q")
        for key, tokens in pairs:
            self.add(key, tokens)

    def add(self, key: float, tokens: int) -> None:
        self.keys.append(key)
        self.tokens.append(tokens)

    def extend(self, other: TurnKeys) -> None:
        self.keys.extend(other.keys)
        self.tokens.extend(other.tokens)


def plan_thresholds(candidates: dict[str, TurnKeys], mix: Mix) -> dict[str, float]:
    """Per capability, the hash threshold whose kept turns (key <= threshold) best hit `mix.c` of its tokens.

    Turns are kept in key order; the kept tokens grow with the threshold, so the gap to the target falls and then
    rises, and the threshold is the last key at the smallest gap (-1, keep nothing, when every prefix misses by
    more than the whole target)."""
    import numpy as np

    thresholds = {}
    for capability in CAPABILITIES:
        weight = mix.weight(capability)
        turns = candidates.get(capability)
        if weight >= 1 or turns is None or not turns.keys:
            thresholds[capability] = 1.0
            continue
        keys, tokens = np.frombuffer(turns.keys, dtype=np.float64), np.frombuffer(turns.tokens, dtype=np.int64)
        order = np.lexsort((tokens, keys))
        target = weight * float(tokens.sum())
        gaps = np.abs(np.cumsum(tokens[order]) - target)
        best = gaps.min()
        thresholds[capability] = -1.0 if best > target else float(keys[order][np.flatnonzero(gaps == best)[-1]])
    return thresholds


@dataclass
class BalanceResult:
    before: CapabilityTable
    after: CapabilityTable
    mix: Mix
    dropped: int = 0

    def target_shares(self) -> dict[str, float]:
        weighted = {c: self.mix.weight(c) * self.before.tokens[c] for c in CAPABILITIES}
        total = sum(weighted.values()) or 1
        return {c: round(weighted[c] / total, 6) for c in CAPABILITIES}

    def to_metrics(self) -> dict[str, Any]:
        target = self.target_shares()
        after = self.after.shares()
        return {
            "before": self.before.to_metrics(),
            "after": self.after.to_metrics(),
            "target_share": target,
            "share_error": {c: round(after[c] - target[c], 6) for c in CAPABILITIES},
            "conversations_dropped": self.dropped,
        }

    def mix_rows(self) -> list[dict[str, Any]]:
        """The frame the `balanced_mix` suite checks: one row per capability."""
        target, after = self.target_shares(), self.after.shares()
        return [
            {
                "capability": c,
                "target_share": target[c],
                "share": after[c],
                "deviation": abs(after[c] - target[c]),
                "tokens_before": self.before.tokens[c],
                "tokens_after": self.after.tokens[c],
            }
            for c in CAPABILITIES
        ]


def sampled(mix: Mix) -> frozenset[str]:
    """The capabilities whose pieces are sampled (weight below 1): only theirs need a hash key (a key is below 1, so a
    weight of 1 keeps every piece)."""
    return frozenset(c for c in CAPABILITIES if mix.weight(c) < 1)


@dataclass
class Candidates:
    """What the first pass gathers: the trainable tokens per capability before balancing, and the (hash key, tokens)
    of every trainable piece of a `sampled` capability. Gathered per chunk of records and merged in file order, it is
    the whole file's."""

    before: CapabilityTable = field(default_factory=CapabilityTable)
    pieces: dict[str, TurnKeys] = field(default_factory=lambda: defaultdict(TurnKeys))

    def add(self, conv: Conversation, seed: int, keyed: frozenset[str]) -> None:
        self.before.conversations += 1
        for i, turn in enumerate(conv.turns):
            for piece in turn.pieces():
                if piece.loss:
                    tokens = count_tokens(piece.text)
                    self.before.add_piece(piece, tokens)
                    if piece.capability in keyed:
                        self.pieces[piece.capability].add(piece_key(seed, conv.id, i, piece.key), tokens)

    def merge(self, other: Candidates) -> None:
        self.before.merge(other.before)
        for capability, turns in other.pieces.items():
            self.pieces[capability].extend(turns)


def candidates(conversations: Iterable[Conversation], seed: int, mix: Mix) -> Candidates:
    """The first pass over (a chunk of) the records, keyed for the mix's `sampled` capabilities only."""
    found, keyed = Candidates(), sampled(mix)
    for conv in conversations:
        found.add(conv, seed, keyed)
    return found


class Balancer:
    """`plan()` over one pass of the records, then `apply()` over a second pass (or `plan_from` what chunks of the
    first pass gathered, and `apply` in chunks, each with a copy: `chunk()`, whose results `merge` adds up)."""

    def __init__(self, mix: Mix, config: BalanceConfig, thresholds: dict[str, float] | None = None):
        self.mix = mix
        self.config = config
        self.thresholds = thresholds
        self.result = BalanceResult(CapabilityTable(), CapabilityTable(), mix)

    def plan(self, conversations: Iterable[Conversation]) -> dict[str, float]:
        return self.plan_from(candidates(conversations, self.config.seed, self.mix))

    def plan_from(self, found: Candidates) -> dict[str, float]:
        self.result.before = found.before
        self.thresholds = plan_thresholds(found.pieces, self.mix)
        return self.thresholds

    def plan_unsampled(self) -> bool:
        """Plan without a first pass where the mix samples no capability (every weight 1, the default): every piece is
        kept, and what that pass would have counted (`result.before`) is what the second counts plus the conversations
        it drops (`finish`). False, planning nothing, where some capability is sampled."""
        if sampled(self.mix):
            return False
        self.thresholds = dict.fromkeys(CAPABILITIES, 1.0)
        return True

    def finish(self) -> None:
        """After the second pass (every chunk merged), where the mix samples nothing: `result.before` from it, what a
        first pass counts (the same whether one ran or `plan_unsampled` skipped it)."""
        if not sampled(self.mix):
            after = self.result.after
            self.result.before = CapabilityTable(
                Counter(after.turns), Counter(after.tokens), after.conversations + self.result.dropped
            )

    def chunk(self) -> Balancer:
        """A planned balancer with nothing applied yet (for one chunk of the second pass)."""
        return Balancer(self.mix, self.config, self.thresholds)

    def merge(self, part: Balancer) -> None:
        """What a chunk's balancer applied, added to this one's result."""
        self.result.after.merge(part.result.after)
        self.result.dropped += part.result.dropped

    def apply(self, conversations: Iterable[Conversation]) -> Iterator[Conversation]:
        return (conv for conv, _ in self.applied(conversations))

    def applied(self, conversations: Iterable[Conversation]) -> Iterator[tuple[Conversation, list[Piece]]]:
        """`apply`, each kept conversation with its learned pieces after balancing (computed once: counted here, and
        what the stage's profile row reads)."""
        for conv in conversations:
            kept = self.balanced(conv)
            if kept is not None:
                yield conv, kept[0]

    def balanced(self, conv: Conversation) -> tuple[list[Piece], bool] | None:
        """One conversation balanced in place: its learned pieces after balancing and whether any piece was masked;
        None when nothing is left to learn (the conversation is dropped, and counted)."""
        if self.thresholds is None:
            raise RuntimeError("Balancer.apply() needs plan() first")
        seed, thresholds = self.config.seed, self.thresholds
        learned, masked = [], False  # conv.learned_pieces() once balanced, gathered on the way
        for i, turn in enumerate(conv.turns):
            for piece in turn.pieces():
                if not piece.loss:
                    continue
                threshold = thresholds[piece.capability]  # 1.0 keeps every piece: no key needed
                if threshold < 1 and piece_key(seed, conv.id, i, piece.key) > threshold:
                    turn.set_loss(piece.key, False)
                    masked = True
                else:
                    learned.append(piece)
        if not learned:  # no trainable turn left
            self.result.dropped += 1
            return None
        self.result.after.add(conv, learned)
        return learned, masked
