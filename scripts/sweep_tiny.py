"""What the tiny default model learns under different budgets: train + evaluate configs on the current data.

Evidence for the defaults in params.yaml (`model.tiny`, `train.*`): each config trains on
data/final/{train,validation}.jsonl and is scored on data/benchmark/agent_h.jsonl in all protocols,
without DVC or MLflow, so it runs wherever torch is (a GPU machine gives the same learning per step in
seconds). Prints one JSON line per config; the CPU cost of a config is measured by `dvc repro` itself.

    python scripts/sweep_tiny.py '{"hidden_size": 128, "max_steps": 300, "lr": 0.003}' ...
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from agentflan.config import ModelConfig, TinyConfig, TrainConfig, load_params
from agentflan.data.jsonio import iter_raw, read_conversations
from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.generation import PROTOCOLS, predictions, run_protocol
from agentflan.evaluation.scoring import score
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.curves import learning_speed
from agentflan.training.loop import train
from agentflan.training.model import load_model_and_tokenizer
from agentflan.training.packing import encode, pack

KEYS = (
    "hscore",
    "over_refusal_rate",
    "tool_name_accuracy_seen",
    "tool_name_accuracy_unseen",
    "call_format_validity",
    "argument_accuracy",
    "fabrication_rate",
    "plain_quality",
)


def run(overrides: dict, params) -> dict:
    tiny = TinyConfig(
        **{**params.model.tiny.model_dump(), **{k: v for k, v in overrides.items() if k in TinyConfig.model_fields}}
    )
    cfg = TrainConfig(
        **{
            **params.train.model_dump(),
            "mixed_precision": "no",
            **{k: v for k, v in overrides.items() if k in TrainConfig.model_fields},
        }
    )
    folder = overrides.get("data")  # another final split, e.g. one written with negatives off
    train_convs = list(read_conversations(Path(folder, "train.jsonl") if folder else params.paths["train"]))
    val_convs = list(read_conversations(Path(folder, "validation.jsonl") if folder else params.paths["validation"]))
    torch.manual_seed(cfg.seed)
    model, tokenizer, _ = load_model_and_tokenizer(ModelConfig(tiny=tiny), (chatml_text(c) for c in train_convs))
    fmt = ChatFormat.of(tokenizer)
    train_set = pack(
        (encode(fmt, c) for c in train_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations
    )
    val_set = pack((encode(fmt, c) for c in val_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, model, result = train(model, train_set, val_set, cfg, Path(tmp), echo=lambda s: None)
    wall = time.perf_counter() - started
    model.eval()
    samples = [Sample.from_dict(r.data) for r in iter_raw(params.paths["benchmark"])]
    protocols = overrides.get("protocols", PROTOCOLS)  # e.g. ["native"]: the default protocol only, faster
    preds = [
        p
        for protocol in protocols
        for p in predictions(samples, run_protocol(model, tokenizer, samples, protocol, 64, 40), protocol)
    ]
    metrics = score(preds)
    if overrides.get("save"):  # a folder: the model and its predictions, to read the answers behind the numbers
        model.save_pretrained(overrides["save"])
        tokenizer.save_pretrained(overrides["save"])
        with open(Path(overrides["save"], "predictions.jsonl"), "w") as f:
            f.writelines(json.dumps(p.to_dict()) + "\n" for p in preds)
    out = {
        "config": overrides,
        "val_loss": round(result.val_loss, 4),
        "train_s": round(wall, 1),
        "learning_speed": {c: v["relative_area"] for c, v in learning_speed(result.capability_history).items()},
        **{f"{p}.{k}": metrics["by_protocol"][p][k] for p in protocols for k in KEYS},
    }
    calls = [p for p in preds if p.protocol == protocols[0] and p.expected == "call"][:3]
    out["examples"] = [p.tool_calls or p.content or p.turns or p.response for p in calls]
    return out


if __name__ == "__main__":
    params = load_params()
    for arg in sys.argv[1:]:
        print(json.dumps(run(json.loads(arg), params)), flush=True)
