"""The model card (Hugging Face convention: README.md with YAML front matter) written next to the weights, and the
exact identity of the base model it records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from agentflan.config import ModelConfig
from agentflan.pipeline.project import folder_sha256

TAGS = ["agent", "tool-use", "function-calling", "agent-flan", "agentflan"]
CARD_METRICS = (
    "hscore",
    "h_react",
    "h_general",
    "over_refusal_rate",
    "tool_name_accuracy_seen",
    "tool_name_accuracy_unseen",
    "call_format_validity",
    "argument_validity",
    "argument_accuracy",
)


def base_identity(cfg: ModelConfig) -> dict[str, str]:
    """Which base the model was trained from, exactly: for a local folder the sha256 of its files (names and
    contents; DVC tracks `model.base` only as a param, so this is what shows that the files changed), for a hub
    id the commit its revision resolves to in the hub cache (the one `from_pretrained` just loaded)."""
    if cfg.base == "tiny":
        return {"base": "tiny", "kind": "built from params"}
    if Path(cfg.base).is_dir():
        return {"base": cfg.base, "kind": "local folder", "sha256": folder_sha256(cfg.base)}
    from transformers.utils.hub import resolve_revision

    resolved = resolve_revision(cfg.base, cfg.revision or None, local_files_only=True)
    commit = getattr(resolved, "resolved", None) or (
        resolved if resolved and re.fullmatch(r"[0-9a-f]{40}", resolved) else ""
    )
    return {"base": cfg.base, "kind": "hub", "revision": cfg.revision, "commit": commit}


def render(base: dict[str, str], sources: list[dict[str, str]], train: dict[str, Any]) -> str:
    """The card as training leaves it: what the model was trained from (`base_identity`) and on, and
    how training went."""
    base_model = base["base"]
    front: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": "text-generation", "tags": TAGS}
    if base_model != "tiny":
        front["base_model"] = base_model
        front["agentflan_base_model"] = base
    front["agentflan_training_data"] = sources
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        "# agentflan",
        "",
        "A language model agent-tuned with the Agent-FLAN recipe (arXiv 2403.12881) by the agentflan pipeline: "
        "agent trajectories aligned to chat, capabilities re-balanced, hallucination negatives added.",
        "",
        "- Base model: "
        + ("a tiny Llama built from scratch (`model.base: tiny`)" if base_model == "tiny" else f"`{base_model}`")
        + "".join(f", {k} `{base[k]}`" for k in ("revision", "commit", "sha256") if base.get(k)),
        "- Load it with `AutoModelForCausalLM.from_pretrained` and prompt it through its own chat template (tools "
        "passed as `tools=`).",
        "",
        "## Training data",
        "",
    ]
    lines += [f"- `{s['path']}` ({s['format']}), md5 `{s['md5']}`" for s in sources]
    lines += ["", "## Training", ""] + [f"- {k}: {v}" for k, v in train.items()]
    return "\n".join(lines) + "\n"


def split(card: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a card."""
    if card.startswith("---\n") and "\n---\n" in card[4:]:
        head, body = card[4:].split("\n---\n", 1)
        return yaml.safe_load(head) or {}, body
    return {}, card


def join(front: dict[str, Any], body: str) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=False).strip() + "\n---\n" + body


def with_evaluation(card: str, evaluation: dict[str, Any]) -> str:
    """The card with the evaluation's results: `model-index` in the front matter and a table in the body."""
    front, body = split(card)
    metrics = [{"type": k, "value": evaluation[k]} for k in CARD_METRICS if evaluation.get(k) is not None]
    front["model-index"] = [
        {
            "name": "agentflan",
            "results": [
                {
                    "task": {"type": "text-generation", "name": "Tool use and hallucination (Agent-H, chat protocol)"},
                    "dataset": {
                        "type": "agent-h",
                        "name": "Agent-H built from held-out tools and queries",
                        "revision": evaluation.get("benchmark_md5", ""),
                    },
                    "metrics": metrics,
                }
            ],
        }
    ]
    table = [
        "## Evaluation (chat protocol; every protocol is in the pipeline's metrics/evaluate.json)",
        "",
        "| metric | value |",
        "|---|---|",
    ] + [f"| {m['type']} | {m['value']} |" for m in metrics]
    return join(front, body.rstrip("\n") + "\n\n" + "\n".join(table) + "\n")


def add_history(card: str, entry: str) -> str:
    """The card with one more line under "## History" (added when missing)."""
    if "\n## History\n" not in card:
        card = card.rstrip("\n") + "\n\n## History\n"
    return card.rstrip("\n") + f"\n- {entry}\n"
