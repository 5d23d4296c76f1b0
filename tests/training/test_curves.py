"""Learning speed per capability: a capability that is trivial to predict converges first and gets the smallest mix."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from agentflan.config import TrainConfig
from agentflan.data.schema import Conversation, Turn
from agentflan.training.curves import learning_speed, suggest_mix


def test_speed_and_suggestion_on_hand_made_curves():
    history = [
        {"step": 0, "retrieval": 4.0, "reasoning": 4.0, "general": 3.0},
        {"step": 10, "retrieval": 1.1, "reasoning": 3.5, "general": 3.2},
        {"step": 20, "retrieval": 1.0, "reasoning": 2.5, "general": 3.1},
        {"step": 30, "retrieval": 1.0, "reasoning": 2.0, "general": 3.3},
    ]
    speed = learning_speed(history)
    assert speed["retrieval"]["steps_to_90pct"] == 10 and speed["reasoning"]["steps_to_90pct"] == 30
    assert speed["retrieval"]["relative_area"] < speed["reasoning"]["relative_area"]
    assert speed["general"]["relative_area"] > 1.0 and speed["general"]["steps_to_90pct"] is None  # never learned
    weights = suggest_mix(speed)
    assert weights["general"] == 1.0 and weights["retrieval"] == min(weights.values()) < weights["reasoning"] < 1.0


def constructed(n: int, seed: int) -> list[Conversation]:
    """Reasoning turns copy the user's digits back in reverse (learnable, slowly); retrieval turns are always
    "Done." (trivial)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        digits = [rng.choice("0123456789") for _ in range(8)]
        turns = [
            Turn("user", f"task {' '.join(digits)}"),
            Turn("assistant", " ".join(reversed(digits)), loss=True, part="thought", capability="reasoning"),
            Turn("user", "and?"),
            Turn("assistant", "Done.", loss=True, part="tool_choice", capability="retrieval"),
        ]
        out.append(Conversation(f"c{seed}_{i}", "test", "agent", "chat", turns, [], f"task {i}"))
    return out


def test_trivial_capability_converges_first_and_gets_the_smallest_weight(tmp_path):
    import torch

    from agentflan.config import TinyConfig
    from agentflan.training.chat_format import ChatFormat
    from agentflan.training.chat_template import chatml_text
    from agentflan.training.loop import train
    from agentflan.training.model import build_tiny
    from agentflan.training.packing import encode, pack
    from agentflan.training.tokenizer import train_bpe

    train_convs, val_convs = constructed(160, 0), constructed(24, 1)
    tokenizer = train_bpe((chatml_text(c) for c in train_convs), vocab_size=300)
    torch.manual_seed(0)
    model = build_tiny(
        tokenizer,
        TinyConfig(
            vocab_size=300,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=256,
        ),
    )
    cfg = TrainConfig(
        max_length=128,
        batch_tokens=1024,
        max_steps=60,
        lr=0.01,
        warmup_steps=2,
        eval_every=5,
        checkpoint_every=1000,
        mixed_precision="no",
    )
    train_set = pack((encode(ChatFormat.of(tokenizer), c) for c in train_convs), 128, tokenizer.pad_token_id)
    val_set = pack((encode(ChatFormat.of(tokenizer), c) for c in val_convs), 128, tokenizer.pad_token_id)
    _, _, result = train(model, train_set, val_set, cfg, tmp_path / "ckpt", echo=lambda s: None)
    assert result.capability_history[0]["step"] == 0 and len(result.capability_history) == 13
    start = result.capability_history[0]
    relative = [{c: row[c] / start[c] for c in ("reasoning", "retrieval")} for row in result.capability_history]
    assert all(r["retrieval"] < r["reasoning"] for r in relative[2:])  # retrieval's curve is ahead from step 10 on
    assert relative[-1]["retrieval"] < 0.1 < relative[-1]["reasoning"]  # and it converges; reasoning does not
    speed = learning_speed(result.capability_history)
    assert speed["retrieval"]["relative_area"] < speed["reasoning"]["relative_area"]
    weights = suggest_mix(speed)
    assert weights["retrieval"] < weights["reasoning"] == 1.0

    metrics = tmp_path / "train.json"
    metrics.write_text(json.dumps({"learning_speed": speed}))
    proc = subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "suggest-mix", str(metrics)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "150"},
    )
    assert proc.returncode == 0, proc.stderr
    command = proc.stdout.strip().splitlines()[-1]
    assert command == f"dvc exp run -S mix.reasoning=1.0 -S mix.retrieval={weights['retrieval']}"
    assert "relative area" in proc.stdout and "retrieval" in proc.stdout


@pytest.mark.parametrize(("arg", "message"), [("missing.json", "no such file"), (".", "is a directory")])
def test_suggest_mix_names_a_bad_source(arg, message):
    proc = subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "suggest-mix", arg],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent,
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
