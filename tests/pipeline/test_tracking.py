"""MLflow grouping against a real sqlite store: one parent run per pipeline key, a child per stage."""

from __future__ import annotations

import mlflow
import pytest

from agentflan.pipeline.project import project_root
from agentflan.pipeline.tracking import KEY_TAG, STAGE_TAG, stage_run


def test_stages_nest_under_one_parent(mlflow_uri, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "brisk-lamb")
    params = {"convert": {"react_fraction": 0.1}}
    with stage_run("demo", {}, params) as run:
        run.log_metrics({"records": {"toolbench.json": 10}})
    with stage_run("convert", params, params) as run:
        run.log_metrics({"read": 5, "dropped_by_rule": {"gave_up": 1}})
    client = mlflow.MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("agentflan")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if STAGE_TAG not in r.data.tags]
    children = [r for r in runs if STAGE_TAG in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.data.tags[KEY_TAG] == "exp:brisk-lamb" and parent.data.tags["dvc_exp_name"] == "brisk-lamb"
    assert parent.data.params["convert.react_fraction"] == "0.1"
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    convert = next(r for r in children if r.data.tags[STAGE_TAG] == "convert")
    assert convert.data.metrics == {"read": 5.0, "dropped_by_rule.gave_up": 1.0}


def test_a_failed_stage_is_marked_failed(mlflow_uri):
    with pytest.raises(RuntimeError):
        with stage_run("train", {}, {}):
            raise RuntimeError("boom")
    client = mlflow.MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("agentflan").experiment_id], filter_string=f"tags.`{STAGE_TAG}` = 'train'")
    assert runs[0].info.status == "FAILED"


def test_project_root_escapes_dvc_experiment_copies(tmp_path):
    repo = tmp_path / "repo"
    tmp_copy = repo / ".dvc" / "tmp" / "exps" / "tmpabc123"
    tmp_copy.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    (tmp_copy / "dvc.yaml").write_text("stages: {}\n")
    assert project_root(tmp_copy) == repo
    assert project_root(repo) == repo
