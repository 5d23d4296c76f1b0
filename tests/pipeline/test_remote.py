"""A DVC remote (a local directory standing in for S3/GCS): push data and model, clone afresh, pull,
and `dvc repro` has nothing to do."""

from __future__ import annotations

import pytest

from conftest import make_project, run, small_demo

pytestmark = pytest.mark.e2e


def test_push_clone_pull_and_repro_is_a_no_op(tmp_path):
    repo = make_project(tmp_path / "repo", small_demo)
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], repo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline outputs"], repo)
    run(["dvc", "push"], repo)
    assert any(p.is_file() for p in remote.rglob("*"))

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "models/agentflan").exists() and not (clone / "data/final/train.jsonl").exists()
    run(["dvc", "pull"], clone)
    for path in (
        "models/agentflan/model.safetensors",
        "data/final/train.jsonl",
        "data/benchmark/agent_h.jsonl",
        "data/eval/predictions.jsonl",
    ):
        assert (clone / path).read_bytes() == (repo / path).read_bytes(), path
    status = run(["dvc", "status"], clone)
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    repro = run(["dvc", "repro"], clone)
    assert "Data and pipelines are up to date" in repro.stdout, repro.stdout
    assert "Running stage" not in repro.stdout
