"""The MLflow model registry: register an evaluated model as a new version, and promote by alias.

`promote` moves alias `champion` to a candidate only when it passes the gate (`registry.gate`):
- floors that hold with or without a champion: over-refusal and fabrication at most their ceilings, plain
  quality, tool-name accuracy and call-format validity at least their floors (a model that refuses
  everything, answers gibberish or makes facts up fails one);
- against the champion, only on the same benchmark (its md5 is tagged on every version): for each gated
  metric (`GATED`: HScore, over-refusal, fabrication, plain quality, tool-name and argument accuracy, numbers made
  up after tool results) the paired bootstrap 95% interval of the candidate's per-sample difference from the
  champion, over the benchmark's samples (each version's logged predictions); promoted when no metric is worse
  beyond its interval (the interval lies below 0) and at least one is better beyond it (it lies above `min_gain`).
The old champion keeps alias `previous`; every decision, with its numbers, is appended to the
candidate's tags (`promotion.history.<time>`), never overwritten. `--force` overrides a refusal
(recorded as forced). Aliases are MLflow's mechanism (`models:/<name>@champion`); stages are deprecated.

Versions are `transformers` flavor models (`logged_model`), so `mlflow.transformers.load_model` and
`mlflow models serve -m models:/<name>@champion` take them.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from agentflan.config import Gate
from agentflan.evaluation.scoring import PROTOCOLS, bootstrap_mean, per_sample
from agentflan.pipeline.logged_model import logged_model_id, publish_card, read_card
from agentflan.pipeline.model_card import add_history

CHAMPION = "champion"
PREVIOUS = "previous"
BENCHMARK_TAG = "benchmark.md5"


@dataclass
class Decision:
    promoted: bool
    reason: str
    candidate: str
    champion: str | None
    dry_run: bool = False
    forced: bool = False
    checks: dict[str, Any] = field(default_factory=dict)  # each check's numbers, as the gate saw them

    def to_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "candidate": self.candidate,
            "champion": self.champion,
            "dry_run": self.dry_run,
            "forced": self.forced,
            "checks": self.checks,
        }


def register(client, name: str, source: str, run_id: str, tags: dict[str, Any], model_id: str | None = None) -> str:
    """A new version of `name` pointing at `source` (e.g. `runs:/<run>/model`), tagged; returns its number."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Agent-FLAN tuned models; promotion by alias, gated on Agent-H."
        )
    version = client.create_model_version(
        name, source=source, run_id=run_id, tags={k: str(v) for k, v in tags.items()}, model_id=model_id
    )
    return str(version.version)


def _metric(version, key: str) -> float | None:
    value = version.tags.get(key)
    try:
        return float(value) if value not in (None, "", "None") else None
    except ValueError:
        return None


# the metrics compared with the champion: (name, +1 where higher is better, -1 where lower is)
GATED = (
    ("hscore", 1),
    ("over_refusal_rate", -1),
    ("fabrication_rate", -1),
    ("plain_quality", 1),
    ("tool_name_accuracy", 1),
    ("argument_accuracy", 1),
    ("multi_step_accuracy", 1),  # after a tool result: the next call, or an answer that states what it returned
    ("multi_step_fabrication_rate", -1),  # numbers no tool result gave, in text turns after one (its pair: fewer
    # made up by saying nothing is no gain, the accuracy above falls)
)


def prediction_rows(client, version) -> list[dict[str, Any]] | None:
    """The rows of the predictions the version's evaluate run logged, in its primary protocol (the one its
    metrics are from); None when there are none."""
    run_id = version.tags.get("evaluate_run_id")
    if not run_id:
        return None
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="predictions.jsonl", dst_path=tmp, tracking_uri=client.tracking_uri
            )
        except Exception:  # noqa: BLE001 - a missing artifact means: nothing to compare
            return None
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    protocols = {r.get("protocol", "react") for r in rows}
    primary = next((p for p in PROTOCOLS if p in protocols), None)
    return [r for r in rows if r.get("protocol", "react") == primary]


def _protocol(rows: list[dict[str, Any]]) -> str:
    return rows[0].get("protocol", "react") if rows else "react"


def against_champion(cand: list[dict], champ: list[dict], gate: Gate) -> dict[str, dict[str, Any]]:
    """Per gated metric measured on both (the same samples): the candidate's mean paired gain over the champion
    (oriented so that positive is better) with its bootstrap 95% interval, and whether it is better or worse
    beyond that interval."""
    out = {}
    for metric, sign in GATED:
        mine, theirs = per_sample(cand, metric, _protocol(cand)), per_sample(champ, metric, _protocol(champ))
        ids = sorted(mine.keys() & theirs.keys())
        if not ids:
            continue  # not measured on this benchmark (argument accuracy needs expected arguments)
        deltas = [sign * (mine[i] - theirs[i]) for i in ids]
        gain, low, high = bootstrap_mean(deltas, gate.bootstrap_samples, gate.seed)
        out[f"{metric}.bootstrap"] = {
            "gain": round(gain, 4) + 0.0,  # + 0.0: no "-0.0" for a lower-is-better metric that did not move
            "ci95": [round(low, 4) + 0.0, round(high, 4) + 0.0],
            "samples": len(ids),
            "better": low > gate.min_gain,
            "worse": high < 0,
            "ok": high >= 0,
        }
    return out


def floors(candidate, gate: Gate) -> dict[str, dict[str, Any]]:
    """The checks that hold with or without a champion."""
    out = {}
    for key, limit, below in (
        ("over_refusal_rate", gate.max_over_refusal, False),
        ("plain_quality", gate.min_plain_quality, True),  # gibberish and empty answers fail it
        ("fabrication_rate", gate.max_fabrication_rate, False),
        ("tool_name_accuracy", gate.min_tool_name_accuracy, True),
        ("call_format_validity", gate.min_call_format_validity, True),
    ):
        value = _metric(candidate, key)
        ok = value is not None and (value >= limit if below else value <= limit)
        out[f"{key}.{'floor' if below else 'ceiling'}"] = {"candidate": value, "limit": limit, "ok": ok}
    return out


def evaluate_gate(candidate, champion, gate: Gate, scores=None) -> tuple[bool, str, dict[str, Any]]:
    """(passes, reason, checks). `scores(version)` gives the version's prediction rows (primary protocol)."""
    if _metric(candidate, "hscore") is None:
        return False, f"version {candidate.version} has no hscore tag", {}
    checks = floors(candidate, gate)
    failed = [k for k, c in checks.items() if not c["ok"]]
    if failed:
        c = checks[failed[0]]
        return False, f"{failed[0]}: {c['candidate']} is past the limit {c['limit']}", checks
    if champion is None:
        return True, "no champion yet (floors passed)", checks
    c_b, p_b = candidate.tags.get(BENCHMARK_TAG), champion.tags.get(BENCHMARK_TAG)
    if c_b != p_b:
        return (
            False,
            (
                f"version {candidate.version} was scored on benchmark {c_b or '(unknown)'}, champion "
                f"v{champion.version} "
                f"on {p_b or '(unknown)'}: scores on different benchmarks are not comparable"
            ),
            checks,
        )
    cand, champ = (scores(v) if scores else None for v in (candidate, champion))
    if not cand or not champ or {r["id"] for r in cand} != {r["id"] for r in champ}:
        checks["bootstrap"] = {"ok": False}
        return (
            False,
            "no per-sample predictions of both versions on the same samples: the gains cannot be tested",
            checks,
        )
    compared = against_champion(cand, champ, gate)
    checks.update(compared)

    def said(key: str) -> str:
        c = compared[key]
        return f"{key.removesuffix('.bootstrap')} {c['gain']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]"

    worse = [k for k, c in compared.items() if c["worse"]]
    better = [k for k, c in compared.items() if c["better"]]
    if worse:
        return (
            False,
            f"worse than champion v{champion.version} beyond the 95% interval: {'; '.join(map(said, worse))}",
            checks,
        )
    if not better:
        return (
            False,
            f"no gated metric is better than champion v{champion.version} beyond its 95% interval, so the gain is "
            f"not significant: {'; '.join(map(said, compared))}",
            checks,
        )
    return True, f"better than champion v{champion.version}: {'; '.join(map(said, better))}", checks


def promote(
    client, name: str, gate: Gate, version: str | None = None, dry_run: bool = False, force: bool = False
) -> Decision:
    """Gate `version` (default: the newest; with no champion yet, the best version that passes the floors)."""
    from mlflow.exceptions import MlflowException

    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise LookupError(f"registered model {name!r} has no versions")
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        champion = None
    if version:
        candidate = next((v for v in versions if str(v.version) == str(version)), None)
        if candidate is None:
            raise LookupError(f"registered model {name!r} has no version {version}")
    elif champion is None:
        eligible = [
            v for v in versions if _metric(v, "hscore") is not None and all(c["ok"] for c in floors(v, gate).values())
        ]
        candidate = max(eligible or versions, key=lambda v: (_metric(v, "hscore") or -1.0, int(v.version)))
    else:
        candidate = max(versions, key=lambda v: int(v.version))
    if champion is not None and str(champion.version) == str(candidate.version):
        return Decision(
            False,
            f"version {candidate.version} is already the champion",
            str(candidate.version),
            str(champion.version),
            dry_run,
        )
    ok, reason, checks = evaluate_gate(candidate, champion, gate, lambda v: prediction_rows(client, v))
    decision = Decision(
        ok or force,
        reason if ok or not force else f"forced despite: {reason}",
        str(candidate.version),
        str(champion.version) if champion else None,
        dry_run,
        force and not ok,
        checks,
    )
    if dry_run:
        return decision
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    record = {**decision.to_dict(), "at": stamp}
    client.set_model_version_tag(
        name, candidate.version, f"promotion.history.{stamp}", json.dumps(record)
    )  # a few hundred characters: never cut, so always valid JSON
    client.set_model_version_tag(
        name, candidate.version, "promotion.decision", "promoted" if decision.promoted else "refused"
    )
    client.set_model_version_tag(name, candidate.version, "promotion.reason", decision.reason)
    client.set_model_version_tag(name, candidate.version, "promotion.at", stamp)
    if decision.promoted:
        if champion is not None:
            client.set_registered_model_alias(name, PREVIOUS, champion.version)
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
        over = f"over v{champion.version}" if champion is not None else "(the first champion)"
        card = add_history(
            read_card(client, candidate) or f"# {name} v{candidate.version}\n",
            f"{stamp}: promoted to {CHAMPION} {over}{' (forced)' if decision.forced else ''}: {decision.reason}",
        )
        model_id = logged_model_id(candidate)
        if model_id:
            publish_card(client, model_id, card)
    return decision
