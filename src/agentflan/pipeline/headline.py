"""A run's headline: the few figures it is judged by, read from its metrics files (the workspace's or a DVC
experiment's), for `agentflan results`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (metrics file, dotted key, label): what `dvc exp show --keep ...` would show, without knowing the flags
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("evaluate.json", "hscore", "HScore (1 - hallucination)"),
    ("evaluate.json", "over_refusal_rate", "over-refusal"),
    ("evaluate.json", "fabrication_rate", "fabrication"),
    ("evaluate.json", "plain_quality", "plain answer quality (chrF)"),
    ("evaluate.json", "tool_name_accuracy_seen", "tool accuracy, seen tools"),
    ("evaluate.json", "tool_name_accuracy_unseen", "tool accuracy, unseen tools"),
    ("evaluate.json", "tool_name_accuracy_chance", "  chance level"),
    ("evaluate.json", "argument_accuracy", "argument accuracy"),
    ("evaluate.json", "call_format_validity", "call format validity"),
    ("evaluate.json", "judge_calibration.false_positive_rate", "judges misreading references"),
    ("train.json", "val_loss", "validation loss"),
    ("train.json", "steps", "training steps"),
    ("train.json", "train_wall_s", "training seconds"),
)


def lookup(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def headline(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """label -> value, from `{metrics file path: its data}` (paths matched by their file name)."""
    by_name = {Path(k).name: v for k, v in metrics.items()}
    return {label: lookup(by_name.get(file) or {}, key) for file, key, label in HEADLINE}


def workspace(metrics_dir: str | Path = "metrics") -> dict[str, dict[str, Any]]:
    """The workspace's metrics files, `{path: data}` (those that exist)."""
    files = {file for file, _, _ in HEADLINE}
    return {
        str(Path(metrics_dir, f)): json.loads(Path(metrics_dir, f).read_text())
        for f in sorted(files)
        if Path(metrics_dir, f).is_file()
    }
