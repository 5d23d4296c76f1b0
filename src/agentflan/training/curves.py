"""Learning speed per capability from its validation-loss curve, and the `mix.*` that evidence suggests.

The paper chose its mix from per-capability loss curves: capabilities a model learns fast need fewer
of their tokens. Each capability's curve is read relative to where it started, r(t) = L(t) / L(0), and
its speed is the area under r over the run (time scaled to 0..1): what is still unlearned, as a share
of the start, averaged over training. A capability whose loss falls early and far has a small area; one
that falls slowly, or stalls high, has a large one. (Normalising by each curve's own drop instead would
call a capability that stalls at a high loss "converged"; measured on a constructed case, it ranked an
unlearned copying task as faster than a trivial one.) Every evaluation counts, so a coarse grid moves
the area little. `steps_to_90pct`, the first step by which 90% of the capability's drop is done, is
reported beside it.
"""

from __future__ import annotations

from typing import Any

from agentflan.data.schema import CAPABILITIES


def learning_speed(history: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per capability with at least two evaluations: start and final loss, steps to 90% of its drop, and
    the relative area (`history` rows: {"step", <capability>: loss, ...}, the step-0 evaluation first)."""
    out: dict[str, dict[str, Any]] = {}
    for capability in CAPABILITIES:
        points = [(row["step"], row[capability]) for row in history if row.get(capability) is not None]
        if len(points) < 2 or points[-1][0] <= points[0][0] or points[0][1] <= 0:
            continue
        (first, start), (last, end) = points[0], points[-1]
        drop = start - end
        rel = [((step - first) / (last - first), loss / start) for step, loss in points]
        area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(rel, rel[1:]))
        out[capability] = {
            "start": round(start, 4),
            "final": round(end, 4),
            "steps_to_90pct": next((s for s, loss in points if start - loss >= 0.9 * drop), None) if drop > 0 else None,
            "relative_area": round(area, 4),
        }
    return out


def suggest_mix(speed: dict[str, dict[str, Any]], floor: float = 0.05) -> dict[str, float]:
    """`mix.*` weights proportional to each capability's relative area: the slowest keeps all of its tokens
    (1.0), one with half its area keeps half; never below `floor`."""
    slowest = max((s["relative_area"] for s in speed.values()), default=0.0)
    if slowest <= 0:
        return {c: 1.0 for c in speed}
    return {c: round(min(1.0, max(floor, s["relative_area"] / slowest)), 2) for c, s in speed.items()}
