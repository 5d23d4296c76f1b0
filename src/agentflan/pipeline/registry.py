"""The MLflow model registry: register a trained model as a new version, and promote by alias.

`promote` moves alias `champion` to a candidate only when it beats the current champion on the gate
(`registry.gate`: HScore higher by at least `min_hscore_gain`, tool-name accuracy not lower by more
than `tool_accuracy_tolerance`), keeps the old champion as alias `previous`, and records every decision
as tags on the candidate version. `--force` overrides a refusal (recorded as forced). Stages are
deprecated in MLflow; aliases are the mechanism (`models:/<name>@champion`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from agentflan.config import Gate

CHAMPION = "champion"
PREVIOUS = "previous"
GATED_METRICS = ("hscore", "tool_name_accuracy")


@dataclass
class Decision:
    promoted: bool
    reason: str
    candidate: str
    champion: str | None
    dry_run: bool = False
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason, "candidate": self.candidate,
                "champion": self.champion, "dry_run": self.dry_run, "forced": self.forced}


def register(client, name: str, source: str, run_id: str, tags: dict[str, Any]) -> str:
    """A new version of `name` pointing at `source` (e.g. `runs:/<run>/model`), tagged; returns its number."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Agent-FLAN tuned models; promotion by alias, gated on Agent-H.")
    version = client.create_model_version(name, source=source, run_id=run_id, tags={k: str(v) for k, v in tags.items()})
    return str(version.version)


def _metric(version, key: str) -> float | None:
    value = version.tags.get(key)
    try:
        return float(value) if value not in (None, "", "None") else None
    except ValueError:
        return None


def evaluate_gate(candidate, champion, gate: Gate) -> tuple[bool, str]:
    c_h, c_t = _metric(candidate, "hscore"), _metric(candidate, "tool_name_accuracy")
    if c_h is None:
        return False, f"version {candidate.version} has no hscore tag"
    if champion is None:
        return True, "no champion yet"
    p_h, p_t = _metric(champion, "hscore"), _metric(champion, "tool_name_accuracy")
    if p_h is not None and not c_h > p_h + gate.min_hscore_gain:
        return False, f"HScore {c_h:.4f} does not beat champion v{champion.version}'s {p_h:.4f} (+{gate.min_hscore_gain})"
    if c_t is not None and p_t is not None and c_t < p_t - gate.tool_accuracy_tolerance:
        return False, (f"tool-name accuracy {c_t:.4f} is more than {gate.tool_accuracy_tolerance} below champion "
                       f"v{champion.version}'s {p_t:.4f}")
    return True, f"HScore {c_h:.4f} beats champion v{champion.version}'s {p_h if p_h is not None else float('nan'):.4f}"


def promote(client, name: str, gate: Gate, version: str | None = None, dry_run: bool = False, force: bool = False) -> Decision:
    from mlflow.exceptions import MlflowException

    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise LookupError(f"registered model {name!r} has no versions")
    candidate = next((v for v in versions if str(v.version) == str(version)), None) if version else \
        max(versions, key=lambda v: int(v.version))
    if candidate is None:
        raise LookupError(f"registered model {name!r} has no version {version}")
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        champion = None
    if champion is not None and str(champion.version) == str(candidate.version):
        return Decision(False, f"version {candidate.version} is already the champion", str(candidate.version), str(champion.version), dry_run)
    ok, reason = evaluate_gate(candidate, champion, gate)
    decision = Decision(ok or force, reason if ok or not force else f"forced despite: {reason}", str(candidate.version),
                        str(champion.version) if champion else None, dry_run, force and not ok)
    if dry_run:
        return decision
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.set_model_version_tag(name, candidate.version, "promotion.decision", "promoted" if decision.promoted else "refused")
    client.set_model_version_tag(name, candidate.version, "promotion.reason", decision.reason)
    client.set_model_version_tag(name, candidate.version, "promotion.at", stamp)
    if decision.promoted:
        if champion is not None:
            client.set_registered_model_alias(name, PREVIOUS, champion.version)
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
    return decision
