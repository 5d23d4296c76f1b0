"""A corrupt or truncated checkpoint is skipped with a warning, never loaded."""

from __future__ import annotations

import json

import pytest
import torch

from agentflan.config import TinyConfig, TrainConfig
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.loop import checkpoint_problem, latest_checkpoint, train
from agentflan.training.model import build_tiny
from agentflan.training.packing import encode, pack
from agentflan.training.tokenizer import train_bpe

from recipe_helpers import labelled_corpus


@pytest.fixture(scope="module")
def setup():
    convs = labelled_corpus()[:60]
    tokenizer = train_bpe((chatml_text(c) for c in convs), vocab_size=1024)
    data = pack((encode(ChatFormat.of(tokenizer), c) for c in convs), 1024, tokenizer.pad_token_id)
    cfg = TrainConfig(
        max_length=1024,
        batch_tokens=4096,
        max_steps=4,
        warmup_steps=1,
        eval_every=2,
        checkpoint_every=2,
        keep_checkpoints=3,
        mixed_precision="no",
    )
    return tokenizer, data, cfg


def model(tokenizer):
    torch.manual_seed(0)
    return build_tiny(
        tokenizer,
        TinyConfig(
            vocab_size=1024,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=1024,
        ),
    )


def test_truncated_and_corrupt_checkpoints_are_skipped(setup, tmp_path):
    tokenizer, data, cfg = setup
    ckpt = tmp_path / "ckpt"
    train(
        model(tokenizer),
        data,
        data,
        cfg.model_copy(update={"max_steps": 2, "checkpoint_every": 1}),
        ckpt,
        echo=lambda s: None,
    )
    good = latest_checkpoint(ckpt)
    assert good is not None and checkpoint_problem(good) is None
    newer = ckpt / "step_000009"  # a newer checkpoint whose weights were cut short by a crash
    newer.mkdir()
    for f in good.iterdir():
        (newer / f.name).write_bytes(f.read_bytes())
    weights = next(newer.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (newer / "progress.json").write_text(json.dumps({"step": 9, "train_history": [], "val_history": []}))
    warnings: list[str] = []
    assert latest_checkpoint(ckpt, warnings.append) == good
    assert (
        warnings
        and "skipping checkpoint" in warnings[0]
        and "step_000009" in warnings[0]
        and "does not read back" in warnings[0]
    )
    (good / "progress.json").write_text("{not json")  # now no intact checkpoint is left
    messages: list[str] = []
    _, _, result = train(model(tokenizer), data, data, cfg, ckpt, echo=messages.append)
    assert result.resumed_from_step == 0 and result.steps == 4  # trained from scratch, loaded nothing
    assert sum("skipping checkpoint" in m for m in messages) >= 2
