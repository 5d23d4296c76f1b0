"""The evaluation report: matplotlib figures and one static HTML page that opens offline (no scripts or
styles from the internet), with the run's params and data hashes. Written by the evaluate stage next to
its metrics and logged to its MLflow run, so the MLflow UI shows the same figures beside the metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentflan.data.schema import CAPABILITIES

FIGURES = {
    "agent_h.png": "Agent-H per category (chat protocol), with 95% bootstrap intervals",
    "capabilities.png": "Share of trainable tokens per capability: decomposed, balanced, final training split",
    "loss.png": "Training and validation loss",
    "val_loss_by_capability.png": "Validation loss per capability (the learning speed behind mix.*)",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "svg.hashsalt": "agentflan"})
    return plt


def agent_h_figure(intervals: dict[str, dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    names = list(intervals)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    for y, name in enumerate(names):
        c = intervals[name]
        color = {"hscore": "#3b75af", "multi_step_accuracy": "#5a9e5a"}.get(c["metric"], "#d1742f")
        ax.barh(y, c["value"], color=color, alpha=0.85)
        ax.errorbar(c["value"], y, xerr=[[c["value"] - c["low"]], [c["high"] - c["value"]]], color="black", capsize=3)
        ax.text(
            1.01, y, f"{c['value']:.2f} [{c['low']:.2f}, {c['high']:.2f}] n={c['samples']}", va="center", fontsize=8
        )
    ax.set_yticks(range(len(names)), [f"{n} ({intervals[n]['metric']})" for n in names])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("HScore (plain answer expected) / tool-name accuracy (call expected) / multi-step: next turn right")
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def capabilities_figure(stages: dict[str, dict[str, float]], path: Path) -> None:
    """`stages`: stage name -> {capability: trainable tokens}; drawn as shares side by side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(1, len(stages))
    for k, (stage, tokens) in enumerate(stages.items()):
        total = sum(tokens.values()) or 1
        shares = [tokens.get(c, 0) / total for c in CAPABILITIES]
        ax.bar([i + k * width for i in range(len(CAPABILITIES))], shares, width, label=f"{stage} ({total:,.0f} tokens)")
    ax.set_xticks(
        [i + width * (len(stages) - 1) / 2 for i in range(len(CAPABILITIES))],
        [c.replace("_", "\n") for c in CAPABILITIES],
    )
    ax.set_ylabel("share of trainable tokens")
    ax.legend(fontsize=8)
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def loss_figure(train: list[dict[str, float]], val: list[dict[str, float]], unigram: float | None, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8, label="train loss")
    ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation loss")
    if unigram is not None:
        ax.axhline(unigram, color="grey", ls="--", lw=0.8, label="unigram baseline (validation)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.legend(fontsize=8)
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def capability_loss_figure(history: list[dict[str, float]], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for c in CAPABILITIES:
        points = [(r["step"], r[c]) for r in history if r.get(c) is not None]
        if points:
            ax.plot(*zip(*points), "o-", ms=3, label=c)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation loss")
    ax.legend(fontsize=8)
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def shown_answers(answers: list[dict[str, Any]], per_category: int = 3) -> list[dict[str, Any]]:
    """Three answers per category (the primary protocol's, in benchmark order), to show beside their verdicts."""
    shown: dict[str, list[dict[str, Any]]] = {}
    for a in answers:
        if len(shown.setdefault(a["category"], [])) < per_category:
            shown[a["category"]].append(a)
    return [a for group in shown.values() for a in group]


def page(
    title: str,
    headline: list[tuple[str, Any]],
    params: list[tuple[str, Any]],
    hashes: list[tuple[str, Any]],
    answers: list[dict[str, Any]] = (),
) -> str:
    """The report's HTML (`templates/report.html`, autoescaped: answers are model output)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agentflan.pipeline", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html").render(
        title=title,
        headline=headline,
        figures=FIGURES,
        answers=shown_answers(list(answers)),
        hashes=hashes,
        params=params,
    )


def write(
    out: Path,
    *,
    intervals,
    capability_tokens,
    train_history,
    val_history,
    capability_history,
    unigram,
    headline,
    params,
    hashes,
    answers=(),
    title="agentflan evaluation report",
) -> list[Path]:
    """All figures and `index.html` into `out` (created); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    agent_h_figure(intervals, out / "agent_h.png")
    capabilities_figure(capability_tokens, out / "capabilities.png")
    loss_figure(train_history, val_history, unigram, out / "loss.png")
    capability_loss_figure(capability_history, out / "val_loss_by_capability.png")
    (out / "index.html").write_text(page(title, headline, params, hashes, answers))
    return [out / name for name in (*FIGURES, "index.html")]
