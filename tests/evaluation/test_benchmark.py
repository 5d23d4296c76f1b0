from __future__ import annotations

from collections import Counter

import pytest
import torch

from agentflan.config import AgentHConfig
from agentflan.evaluation.benchmark import CATEGORIES, TOOLS_SYSTEM, Sample, build, sample_row
from agentflan.evaluation.generation import generate, predictions
from agentflan.evaluation.scoring import score
from agentflan.pipeline.validation import validate

HELDOUT = ("search_hotels", "track_package")


def test_benchmark_has_every_category_and_holds_out_training_queries():
    first = build(AgentHConfig(per_category=10), HELDOUT, set())
    taken = {s.query for s in first if s.category == "tool_needed_offered_seen"}
    again = build(AgentHConfig(per_category=10), HELDOUT, taken)
    assert Counter(s.category for s in again) == {c: 10 for c in CATEGORIES}
    assert not taken & {s.query for s in again}
    for s in again:
        if s.expected == "call":
            assert s.expected_tool in [t.name for t in s.tools] and s.system == TOOLS_SYSTEM
        if s.category == "tool_needed_offered_unseen":
            assert s.expected_tool in HELDOUT
        if s.category == "tool_needed_offered_seen":
            assert s.expected_tool not in HELDOUT
        if s.category in ("tool_needed_not_offered", "plain_no_tools"):
            assert s.tools == []
    assert [s.to_dict() for s in again] == [s.to_dict() for s in build(AgentHConfig(per_category=10), HELDOUT, taken)]
    assert Sample.from_dict(again[0].to_dict()) == again[0]
    validate([sample_row(s) for s in again], "agent_h")


@pytest.fixture(scope="module")
def tiny():
    from transformers import LlamaConfig, LlamaForCausalLM

    from agentflan.training.tokenizer import train_bpe

    samples = build(AgentHConfig(per_category=2), HELDOUT, set())
    tokenizer = train_bpe([s.query for s in samples] * 5 + [TOOLS_SYSTEM], vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, pad_token_id=tokenizer.pad_token_id)).eval()
    return model, tokenizer, samples


def test_batched_generation_matches_one_at_a_time(tiny):
    model, tokenizer, samples = tiny
    batched = generate(model, tokenizer, samples, max_new_tokens=8, batch_size=6)
    single = generate(model, tokenizer, samples, max_new_tokens=8, batch_size=1)
    assert len(batched) == len(samples) and batched == single  # left padding + KV cache change nothing


def test_predictions_carry_schemas_and_score(tiny):
    model, tokenizer, samples = tiny
    preds = predictions(samples, generate(model, tokenizer, samples, max_new_tokens=4, batch_size=12))
    call = next(p for p in preds if p.expected == "call")
    assert call.expected_tool in call.schemas
    metrics = score(preds)
    assert set(metrics["per_category"]) == set(CATEGORIES) and 0 <= metrics["hscore"] <= 1
