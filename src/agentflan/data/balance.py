"""Capability balancing: re-weight trainable tokens per capability by the `mix.*` weights.

Mechanism: turn-level loss masking. For each capability `c`, a seeded, deterministic subset of its
trainable turns holding `mix.c` of its trainable tokens keeps `loss: true`; the other turns stay in
the conversation as context with `loss: false`. Conversations left with nothing to learn are
dropped. Other capabilities are untouched, so lowering `mix.reasoning` changes the reasoning tokens
only, and each capability's trainable tokens land within one turn of `mix.c * before`.

Two streaming passes over the input: the first plans a hash threshold per capability (memory: one
(hash, tokens) pair per trainable turn), the second applies it.

Pure data: no MLflow, no GX, no torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agentflan.config import BalanceConfig, Mix
from agentflan.data.decompose import CapabilityTable, count_tokens
from agentflan.data.schema import CAPABILITIES, Conversation
from agentflan.data.seeded import unit_hash


def turn_key(seed: int, conv_id: str, index: int) -> float:
    return unit_hash(seed, "balance", conv_id, index)


def plan_thresholds(candidates: dict[str, list[tuple[float, int]]], mix: Mix) -> dict[str, float]:
    """Per capability, the hash threshold whose kept turns (key <= threshold) best hit `mix.c` of its tokens."""
    thresholds = {}
    for capability in CAPABILITIES:
        weight = mix.weight(capability)
        pairs = sorted(candidates.get(capability, []))
        if weight >= 1 or not pairs:
            thresholds[capability] = 1.0
            continue
        target = weight * sum(tokens for _, tokens in pairs)
        kept, best_key, best_gap = 0, -1.0, target  # keeping nothing misses by `target`
        for key, tokens in pairs:
            kept += tokens
            gap = abs(kept - target)
            if gap > best_gap:
                break
            best_key, best_gap = key, gap
        thresholds[capability] = best_key
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
        return [{"capability": c, "target_share": target[c], "share": after[c], "deviation": abs(after[c] - target[c]),
                 "tokens_before": self.before.tokens[c], "tokens_after": self.after.tokens[c]} for c in CAPABILITIES]


class Balancer:
    """`plan()` over one pass of the records, then `apply()` over a second pass."""

    def __init__(self, mix: Mix, config: BalanceConfig):
        self.mix = mix
        self.config = config
        self.thresholds: dict[str, float] | None = None
        self.result = BalanceResult(CapabilityTable(), CapabilityTable(), mix)

    def plan(self, conversations: Iterable[Conversation]) -> dict[str, float]:
        candidates: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for conv in conversations:
            self.result.before.add(conv)
            for i, turn in enumerate(conv.turns):
                if turn.trainable:
                    candidates[turn.capability].append((turn_key(self.config.seed, conv.id, i), count_tokens(turn.content)))
        self.thresholds = plan_thresholds(candidates, self.mix)
        return self.thresholds

    def apply(self, conversations: Iterable[Conversation]) -> Iterator[Conversation]:
        if self.thresholds is None:
            raise RuntimeError("Balancer.apply() needs plan() first")
        for conv in conversations:
            for i, turn in enumerate(conv.turns):
                if turn.trainable and turn_key(self.config.seed, conv.id, i) > self.thresholds[turn.capability]:
                    turn.loss = False
            if not conv.trainable_turns:
                self.result.dropped += 1
                continue
            self.result.after.add(conv)
            yield conv
