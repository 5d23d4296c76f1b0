"""MLflow grouping against a real sqlite store: one parent run per pipeline key, a child per stage."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from agentflan.pipeline.project import project_root
from agentflan.pipeline.tracking import KEY_TAG, STAGE_TAG, stage_run


def test_stages_nest_under_one_parent(mlflow_uri, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "brisk-lamb")
    params = {"convert": {"react_fraction": 0.1}}
    client = mlflow.MlflowClient(mlflow_uri)
    with stage_run("demo", {}, params) as run:
        run.log_metrics({"records": {"toolbench.json": 10}})
        parent_id = client.get_run(run.run_id).data.tags["mlflow.parentRunId"]
        assert client.get_run(parent_id).info.status == "RUNNING"
    assert client.get_run(parent_id).info.status == "FINISHED"  # as if demo were the last stage
    with stage_run("convert", params, params) as run:
        assert client.get_run(parent_id).info.status == "RUNNING"  # the next stage of the execution opens it again
        run.log_metrics({"read": 5, "dropped_by_rule": {"gave_up": 1}})
    exp = client.get_experiment_by_name("agentflan")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if STAGE_TAG not in r.data.tags]
    children = [r for r in runs if STAGE_TAG in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.data.tags[KEY_TAG].startswith("exp:brisk-lamb@") and parent.data.tags["dvc_exp_name"] == "brisk-lamb"
    assert parent.info.status == "FINISHED" and parent.info.end_time >= max(c.info.end_time for c in children)
    assert parent.data.tags["git_uncommitted_changes"] in ("true", "false")
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
    runs = client.search_runs(
        [client.get_experiment_by_name("agentflan").experiment_id], filter_string=f"tags.`{STAGE_TAG}` = 'train'"
    )
    assert runs[0].info.status == "FAILED"
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FAILED" and parent.info.end_time


def test_project_root_escapes_dvc_experiment_copies(tmp_path):
    repo = tmp_path / "repo"
    tmp_copy = repo / ".dvc" / "tmp" / "exps" / "tmpabc123"
    tmp_copy.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    (tmp_copy / "dvc.yaml").write_text("stages: {}\n")
    assert project_root(tmp_copy) == repo
    assert project_root(repo) == repo


SCRIPT = """
from agentflan.pipeline.tracking import stage_run
for name in ("demo", "convert"):
    with stage_run(name, {}, {"demo": {"seed": 0}}):
        pass
"""


def test_each_execution_gets_its_own_parent_which_ends_with_it(mlflow_uri, tmp_path):
    import subprocess
    import sys

    for _ in range(2):  # two executions of the same code and params
        subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    client = mlflow.MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("agentflan")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if STAGE_TAG not in r.data.tags]
    # ended by their own last stage, the moment the execution ended: nothing is left running to close them
    assert len(parents) == 2 and all(p.info.status == "FINISHED" and p.info.end_time for p in parents)
    for parent in parents:
        stages = [r.data.tags[STAGE_TAG] for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(stages) == ["convert", "demo"]  # each stage once per execution


def test_a_process_start_does_not_move_when_the_clock_is_adjusted(monkeypatch):
    import subprocess
    import sys

    import psutil

    from agentflan.pipeline.tracking import started

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        proc = psutil.Process(child.pid)
        before = started(proc)
        epoch = proc.create_time()
        # the wall clock stepped by a second: psutil's epoch start moves with /proc/stat's boot time (as in CI, where
        # one `dvc` process was keyed 1796417723.030 and then 1796417724.030); the start since boot does not
        booted = psutil._psplatform.boot_time()
        monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: booted + 1.0)
        moved = psutil.Process(child.pid)
        assert moved.create_time() == pytest.approx(epoch + 1.0)
        assert started(moved) == before
        assert 0 < before <= time_since_boot()
    finally:
        child.kill()
        child.wait()


def time_since_boot() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def test_the_execution_key_names_the_boot_as_well_as_the_dvc_process(monkeypatch):
    from agentflan.pipeline import tracking

    # a start since boot names a process only within one boot: the same pid at the same uptime after a reboot (a
    # container running `dvc repro` first thing) must not find the old execution's parent run
    monkeypatch.setattr(tracking, "dvc_execution", lambda: (4242, 17.5))
    tracking.execution_id.cache_clear()
    try:
        key = tracking.execution_id()
    finally:
        tracking.execution_id.cache_clear()
    boot = Path("/proc/sys/kernel/random/boot_id")
    this_boot = boot.read_text().strip().replace("-", "")[:12] if boot.exists() else "-"
    assert key == f"dvc:{this_boot}:4242:17.500"
    monkeypatch.setattr(tracking, "boot_id", lambda: "0123456789ab")
    tracking.execution_id.cache_clear()
    try:
        assert tracking.execution_id() == "dvc:0123456789ab:4242:17.500" != key
    finally:
        tracking.execution_id.cache_clear()
