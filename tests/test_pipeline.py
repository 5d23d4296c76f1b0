"""End to end on a real DVC repository: `dvc repro`, its no-op re-run, byte-identical outputs,
MLflow grouping, and a failed Great Expectations suite that publishes nothing."""

from __future__ import annotations

import hashlib
import json

import mlflow
import pytest

from conftest import make_project, run, small_demo

pytestmark = pytest.mark.e2e
OUTPUTS = ("data/raw/demo/toolbench.json", "data/converted/conversations.jsonl", "data/converted/quarantine.jsonl")


def digests(repo):
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in OUTPUTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("e2e") / "repo", small_demo)
    run(["dvc", "repro"], repo)
    return repo


def test_repro_writes_validated_outputs_whose_counts_add_up(repo):
    metrics = json.loads((repo / "metrics/convert.json").read_text())
    assert metrics["read"] == metrics["converted"] + metrics["dropped"] + metrics["quarantined"]
    assert metrics["written"] == metrics["converted"] + metrics["format_samples"] == 6 + metrics["converted"]
    lines = (repo / "data/converted/conversations.jsonl").read_text().splitlines()
    assert len(lines) == metrics["written"]
    assert json.loads((repo / "metrics/demo.json").read_text())["records"]["agentinstruct_os.jsonl"] == 8


def test_second_repro_is_a_no_op(repo):
    proc = run(["dvc", "repro"], repo)
    assert "Stage 'demo' didn't change, skipping" in proc.stdout
    assert "Stage 'convert' didn't change, skipping" in proc.stdout
    assert "Running stage" not in proc.stdout


def test_forced_rerun_is_byte_identical(repo):
    before = digests(repo)
    run(["dvc", "repro", "-f"], repo)
    assert digests(repo) == before
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_mlflow_groups_stages_under_one_pipeline_run(repo):
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("agentflan")
    assert exp.artifact_location == (repo / "mlartifacts").as_uri()
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "agentflan.stage" not in r.data.tags]
    assert len(parents) == 1  # the same commit and params: one pipeline execution key
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert {r.data.tags["agentflan.stage"] for r in children} == {"demo", "convert"}
    convert = next(r for r in children if r.data.tags["agentflan.stage"] == "convert")
    assert convert.data.params["convert.react_fraction"] == "0.1"
    assert convert.data.tags["data.converted.sha256"] == digests(repo)["data/converted/conversations.jsonl"]


def test_failed_suite_stops_the_pipeline_and_keeps_the_previous_output(repo):
    before = digests(repo)
    suite_path = repo / "expectations/converted.json"
    original = suite_path.read_text()
    suite = json.loads(original)
    suite["expectations"].append({"type": "expect_column_values_to_be_between", "kwargs": {"column": "n_trainable", "min_value": 50}})
    suite_path.write_text(json.dumps(suite))
    try:
        proc = run(["dvc", "repro"], repo, check=False)
    finally:
        suite_path.write_text(original)
    assert proc.returncode != 0
    assert "Data validation failed: suite 'converted'" in proc.stderr
    assert "column 'n_trainable'" in proc.stderr and "examples:" in proc.stderr
    assert "nothing published" in proc.stderr and "`dvc checkout` restores them" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((repo / "data/converted").glob(".*.tmp"))  # no half-written file left behind
    run(["dvc", "checkout"], repo)
    assert digests(repo) == before  # nothing lost: the last good output comes back byte for byte
