"""A run's headline: the few figures it is judged by. Each stage's DVC metrics file holds only these (what
`dvc metrics show` and `dvc exp show` print); its details file holds every breakdown. `agentflan results` reads
them back from the workspace or a DVC experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# what a model is judged by (the evaluate stage's headline, its report's and its comparison with a server's)
EVALUATION = (
    "hscore",
    "over_refusal_rate",
    "fabrication_rate",
    "plain_quality",
    "tool_name_accuracy_seen",
    "tool_name_accuracy_unseen",
    "tool_name_accuracy_chance",
    "argument_accuracy",
    "call_format_validity",
    "hallucinated_tool_rate",
    "multi_step_accuracy",
    "multi_step_fabrication_rate",
)

# per stage metrics file (its `paths` key): the dotted keys it keeps, about 50 numbers in all
METRICS_FILE_KEYS: dict[str, tuple[str, ...]] = {
    "demo_metrics": ("records",),
    "convert_metrics": ("read", "converted", "dropped", "quarantined", "format_samples", "written"),
    "benchmark_metrics": ("samples", "heldout_tools", "heldout_queries", "source", "md5"),
    "decompose_metrics": ("conversations", "trainable_tokens"),
    "balance_metrics": ("after.conversations", "after.trainable_tokens", "conversations_dropped"),
    "negatives_metrics": ("total", "split", "kinds.negative"),
    "train_metrics": (
        "val_loss",
        "unigram_val_loss",
        "val_loss_vs_unigram",
        "val_loss_by_capability",
        "train_loss",
        "steps",
        "parameters",
        "tokens_per_s",
        "train_wall_s",
    ),
    "eval_metrics": (
        "protocol",
        "samples",
        "plain_samples",
        "call_samples",
        *EVALUATION,
        "judge_calibration.false_positive_rate",
        "judge_calibration.false_negative_rate",
        "benchmark_md5",
    ),
}

# (metrics file, dotted key, label): what `dvc exp show --keep ...` would show, without knowing the flags
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("evaluate.json", "hscore", "HScore (1 - hallucination)"),
    ("evaluate.json", "over_refusal_rate", "over-refusal"),
    ("evaluate.json", "fabrication_rate", "fabrication"),
    ("evaluate.json", "plain_quality", "plain answer quality (chrF, on subject)"),
    ("evaluate.json", "tool_name_accuracy_seen", "tool accuracy, seen tools"),
    ("evaluate.json", "tool_name_accuracy_unseen", "tool accuracy, unseen tools"),
    ("evaluate.json", "tool_name_accuracy_chance", "  chance level"),
    ("evaluate.json", "argument_accuracy", "argument accuracy"),
    ("evaluate.json", "call_format_validity", "call format validity"),
    ("evaluate.json", "multi_step_accuracy", "multi-step: next turn right"),
    ("evaluate.json", "multi_step_fabrication_rate", "multi-step: numbers no result gave"),
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


def select(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The part of `data` at these dotted keys, nested as in `data` (keys it lacks left out)."""
    out: dict[str, Any] = {}
    for dotted in keys:
        *parents, last = dotted.split(".")
        source, target = data, out
        for part in parents:
            source = source.get(part) if isinstance(source, dict) else None
            target = target.setdefault(part, {})
        if isinstance(source, dict) and last in source:
            target[last] = source[last]
    return {k: v for k, v in out.items() if v != {}}


def by_file_name(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`{metrics file path: its data}` (as `dvc exp show` keys them) by file name: `evaluate.json` -> data."""
    return {Path(k).name: v for k, v in metrics.items()}


def headline(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """label -> value, from `{metrics file path: its data}` (paths matched by their file name)."""
    by_name = by_file_name(metrics)
    return {label: lookup(by_name.get(file) or {}, key) for file, key, label in HEADLINE}


def workspace(metrics_dir: str | Path = "metrics") -> dict[str, dict[str, Any]]:
    """The workspace's metrics files, `{path: data}` (those that exist)."""
    files = {file for file, _, _ in HEADLINE}
    return {
        str(Path(metrics_dir, f)): json.loads(Path(metrics_dir, f).read_text())
        for f in sorted(files)
        if Path(metrics_dir, f).is_file()
    }
