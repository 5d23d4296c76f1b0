"""Levers against the default over seeds (`scripts/levers_table.py`): sweep rows archived by `sweep_tiny.py`, paired
with the claims' archived default runs by seed and benchmark sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentflan.evaluation.scoring import Prediction
from agentflan.pipeline.experiments import METRICS, read_runs

ROOT = Path(__file__).resolve().parents[2]
CLAIMS_ARCHIVE = ROOT / "results" / "ablations-runs-intel-6dec.jsonl.gz"  # the default the levers were run against


def muted(rows: list[dict]) -> list[Prediction]:
    """The same answers with every call taken out: a lever that never calls a tool."""
    return [
        Prediction.from_dict({**row, "response": "I can't help.", "content": "I can't help.", "tool_calls": None})
        for row in rows
    ]


def test_a_lever_is_paired_with_the_default_by_seed_and_sample(tmp_path, sweep_tiny, levers_table):
    levers = tmp_path / "levers-runs.jsonl.gz"
    for run in (r for r in read_runs(CLAIMS_ARCHIVE, seeds=[0, 1, 2]) if r["variant"] == "default"):
        same = [Prediction.from_dict(row) for row in run["rows"]]
        mute = muted(run["rows"])
        for lever, preds in (("same", same), ("mute", mute)):
            row = {"lever": lever, "lr": 0.003, "archive": str(levers), "protocols": ["native"]}
            sweep_tiny.archive(levers, row, run["seed"], preds, "native")

    assert [r["name"] for r in read_runs(levers)] == ["mute-s0", "mute-s1", "mute-s2", "same-s0", "same-s1", "same-s2"]
    out = levers_table.levers_table(levers, CLAIMS_ARCHIVE, [0, 1, 2])["levers"]
    assert list(out) == ["default", "mute", "same"]  # the archive keeps runs in order of name
    assert out["same"]["overrides"] == {"lr": 0.003} and out["same"]["seeds"] == [0, 1, 2]

    # that archive's claims table holds the default's figures, per seed, judged from the same archive
    committed = json.loads((ROOT / "results" / "ablations-intel-6dec.json").read_text())["claims"]["c"]["variants"][
        "default"
    ]
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


def test_the_default_at_seeds_the_claims_did_not_run_comes_from_the_levers_archive(tmp_path, sweep_tiny, levers_table):
    levers = tmp_path / "levers-runs.jsonl.gz"
    (run,) = [r for r in read_runs(CLAIMS_ARCHIVE, seeds=[0]) if r["variant"] == "default"]
    same = [Prediction.from_dict(row) for row in run["rows"]]
    mute = muted(run["rows"])
    # seed 0's answers stand in for a default run at seed 5, and two levers at seed 5 beside it
    for lever, preds in (("default", same), ("same", same), ("mute", mute)):
        sweep_tiny.archive(
            levers, {"lever": lever, "archive": str(levers), "protocols": ["native"]}, 5, preds, "native"
        )

    out = levers_table.levers_table(levers, CLAIMS_ARCHIVE, [0, 5])["levers"]
    assert out["default"]["seeds"] == [0, 5] and out["same"]["seeds"] == [5]
    seen = out["default"]["tool_name_accuracy_seen"]["per_seed"]
    assert seen[0] == seen[1] > 0  # the claims' seed 0 and the archived stand-in: the same answers
    assert out["same"]["tool_name_accuracy_seen"]["vs_default"]["diff"] == 0  # paired with seed 5's default alone
    assert out["mute"]["tool_name_accuracy_seen"]["vs_default"]["diff"] == -seen[1]

    only = levers_table.levers_table(levers, CLAIMS_ARCHIVE, [0, 5], only=["mute"])["levers"]
    assert list(only) == ["default", "mute"] and only["default"]["seeds"] == [0, 5]

    # a default run at a seed the claims ran is refused, not merged with theirs
    sweep_tiny.archive(levers, {"lever": "default", "archive": str(levers), "protocols": ["native"]}, 0, same, "native")
    with pytest.raises(SystemExit, match="default-s0 is a default run at a seed"):
        levers_table.levers_table(levers, CLAIMS_ARCHIVE, [0, 5])
