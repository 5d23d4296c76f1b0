"""The loss is token-weighted across micro-batches: every labelled token weighs the same."""

from __future__ import annotations

import pytest
import torch

from agentflan.config import TinyConfig, TrainConfig
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.loop import BatchSchedule, train
from agentflan.training.model import build_tiny
from agentflan.training.packing import IGNORE, collate, encode, pack

from recipe_helpers import labelled_corpus


@pytest.fixture(scope="module")
def setup():
    convs = labelled_corpus()[:80]
    from agentflan.training.tokenizer import train_bpe

    tokenizer = train_bpe((chatml_text(c) for c in convs), vocab_size=1024)
    fmt = ChatFormat.of(tokenizer)
    data = pack((e for e in (encode(fmt, c) for c in convs) if len(e.input_ids) <= 512), 512, tokenizer.pad_token_id)
    return tokenizer, data


def fresh(tokenizer):
    torch.manual_seed(0)
    return build_tiny(
        tokenizer,
        TinyConfig(
            vocab_size=1024,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        ),
        "eager",
    )


def one_step(tokenizer, data, tmp_path, **cfg):
    config = TrainConfig(
        max_length=512,
        max_steps=1,
        warmup_steps=0,
        eval_every=1,
        checkpoint_every=1,
        mixed_precision="no",
        max_grad_norm=0.0,
        lr=0.01,
        **cfg,
    )
    _, model, result = train(
        fresh(tokenizer), data, data, config, tmp_path / str(sorted(cfg.items())), echo=lambda s: None
    )
    return model, result


def test_accumulated_micro_batches_train_like_one_batch_of_their_rows(setup, tmp_path):
    tokenizer, data = setup
    rows = BatchSchedule(data.rows, 4, 0).rows_for(0)
    per_row = [sum(1 for x in data.labels[r][1:] if x != IGNORE) for r in rows]
    assert per_row[:2] != per_row[2:] and sum(per_row[:2]) != sum(per_row[2:])  # micro-batches of unequal weight
    whole, whole_result = one_step(tokenizer, data, tmp_path, batch_tokens=2048, grad_accum=1)
    split, split_result = one_step(tokenizer, data, tmp_path, batch_tokens=1024, grad_accum=2)
    # atol: one step of AdamW at lr 0.01 turns float-order noise in a near-zero gradient into up to ~1e-5 (seen: 8e-6 in
    # one of 2,048 weights); weighting each micro-batch by its own tokens instead moves hundreds of weights by ~1e-3
    for (name, a), b in zip(whole.named_parameters(), split.parameters()):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-5, msg=name)
    assert whole_result.train_history[0]["loss"] == pytest.approx(split_result.train_history[0]["loss"], abs=1e-4)

    # and the logged loss is the mean over every labelled token of the step's rows
    model = fresh(tokenizer).eval()
    batch = collate(data, rows)
    labels = batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch, use_cache=False).logits
    token_mean = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE
    ).item()
    assert whole_result.train_history[0]["loss"] == pytest.approx(token_mean, abs=1e-4)


def test_logits_at_the_labelled_positions_give_transformers_loss_and_gradients(setup):
    """The output layer runs only where a labelled token is predicted: the same loss and gradients as transformers'
    own causal-LM loss over every position (the saving is measured in benchmarks/run.py, not here)."""
    from agentflan.training.loop import summed_loss, takes_logits_to_keep, target_logits

    tokenizer, data = setup
    batch = collate(data, [0, 1, 2])
    targets = sum(1 for r in (0, 1, 2) for x in data.labels[r][1:] if x != IGNORE)
    ours, theirs = fresh(tokenizer), fresh(tokenizer)
    assert takes_logits_to_keep(ours)
    logits, labels, keep = target_logits(ours, batch)
    assert 0 < len(keep) < batch["labels"].shape[1] // 2  # far fewer positions than the row has
    (summed_loss(logits, labels) / targets).backward()
    reference = theirs(**batch, use_cache=False, num_items_in_batch=targets).loss
    reference.backward()
    assert (summed_loss(logits, labels) / targets).item() == pytest.approx(reference.item(), rel=1e-6)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-7, rtol=1e-5, msg=name)
    # a model without logits_to_keep: every position, the same loss
    all_logits, all_labels, _ = target_logits(fresh(tokenizer), batch, selective=False)
    assert (summed_loss(all_logits, all_labels) / targets).item() == pytest.approx(reference.item(), rel=1e-6)
