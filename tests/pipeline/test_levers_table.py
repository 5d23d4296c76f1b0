"""Levers against the default over seeds (`scripts/levers_table.py`): sweep rows archived by `sweep_tiny.py`, paired
with the claims' archived default runs by seed and benchmark sample."""

from __future__ import annotations

import json
from pathlib import Path

from agentflan.evaluation.scoring import Prediction
from agentflan.pipeline.experiments import METRICS, read_runs

ROOT = Path(__file__).resolve().parents[2]
CLAIMS_ARCHIVE = ROOT / "results" / "ablations-runs.jsonl.gz"


def test_a_lever_is_paired_with_the_default_by_seed_and_sample(tmp_path, sweep_tiny, levers_table):
    levers = tmp_path / "levers-runs.jsonl.gz"
    for run in (r for r in read_runs(CLAIMS_ARCHIVE, seeds=[0, 1, 2]) if r["variant"] == "default"):
        same = [Prediction.from_dict(row) for row in run["rows"]]
        # the same answers with every call taken out: a lever that never calls a tool
        mute = [
            Prediction.from_dict({**row, "response": "I can't help.", "content": "I can't help.", "tool_calls": None})
            for row in run["rows"]
        ]
        for lever, preds in (("same", same), ("mute", mute)):
            row = {"lever": lever, "lr": 0.003, "archive": str(levers), "protocols": ["native"]}
            sweep_tiny.archive(levers, row, run["seed"], preds, "native")

    assert [r["name"] for r in read_runs(levers)] == ["mute-s0", "mute-s1", "mute-s2", "same-s0", "same-s1", "same-s2"]
    out = levers_table.levers_table(levers, CLAIMS_ARCHIVE, [0, 1, 2])["levers"]
    assert list(out) == ["default", "mute", "same"]  # the archive keeps runs in order of name
    assert out["same"]["overrides"] == {"lr": 0.003} and out["same"]["seeds"] == [0, 1, 2]

    # the committed claims' table holds the default's figures, per seed, judged from the same archive
    committed = json.loads((ROOT / "results" / "ablations.json").read_text())["claims"]["c"]["variants"]["default"]
    for metric in METRICS:
        assert out["default"][metric]["per_seed"] == committed[metric]["per_seed"], metric
        assert out["same"][metric]["per_seed"] == committed[metric]["per_seed"], metric
        d = out["same"][metric]["vs_default"]
        assert (d["diff"], d["low"], d["high"]) == (0, 0, 0), metric
    seen = out["mute"]["tool_name_accuracy_seen"]
    assert seen["per_seed"] == [0.0, 0.0, 0.0]
    # every seen-tool sample the default got right is one lost, pair by pair
    assert seen["vs_default"]["diff"] == -committed["tool_name_accuracy_seen"]["mean"]
    assert seen["vs_default"]["high"] < 0
