"""Experiments in parallel: three queued `dvc exp run`s, two workers, one real `mlflow server` (sqlite
backend, local artifact root, 127.0.0.1 on a free port) that every worker tracks into."""

from __future__ import annotations

import time

import mlflow
import pytest

from conftest import BIN, http_server, make_project, run, small_demo

pytestmark = pytest.mark.e2e
EXPERIMENTS = {
    "reasoning-03": "mix.reasoning=0.3",
    "reasoning-06": "mix.reasoning=0.6",
    "general-05": "mix.general=0.5",
}


@pytest.fixture
def server(tmp_path):
    with http_server(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
        ],
        "/health",
        tmp_path / "server.log",
        timeout=120,
    ) as uri:
        yield uri


def wait_for_the_queue(repo, env, timeout: float) -> str:
    """Poll `dvc queue status` until nothing is queued or running; on timeout fail with the status and the
    workers' logs of what is still running."""
    deadline = time.time() + timeout
    while True:
        status = run(["dvc", "queue", "status"], repo, env).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        if time.time() > deadline:
            running = [line.split()[0] for line in status.splitlines() if "Running" in line]
            logs = [run(["dvc", "queue", "logs", task], repo, env, check=False).stdout[-3000:] for task in running]
            raise AssertionError(f"the queue did not finish in {timeout:.0f} s:\n{status}\n" + "\n".join(logs))
        time.sleep(5)


def test_three_queued_experiments_on_two_workers_all_land_on_the_server(tmp_path, server):
    repo = make_project(tmp_path / "repo", small_demo)
    env = {"MLFLOW_TRACKING_URI": server}
    run(["dvc", "repro"], repo, env)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    for name, change in EXPERIMENTS.items():
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", change], repo, env)
    started = run(["dvc", "queue", "start", "-j", "2"], repo, env, log=tmp_path / "queue-start.log")
    assert "Started '2'" in started.stdout, started.stdout
    try:
        status = wait_for_the_queue(repo, env, timeout=2400)
    finally:
        run(["dvc", "queue", "stop"], repo, env, check=False, log=tmp_path / "queue-stop.log")
    assert status.count("Success") == 3, status
    shown = run(["dvc", "exp", "show", "--csv"], repo, env).stdout
    assert all(name in shown for name in EXPERIMENTS), shown

    client = mlflow.MlflowClient(server)
    experiment = client.get_experiment_by_name("agentflan")
    for name in EXPERIMENTS:
        evaluations = client.search_runs(
            [experiment.experiment_id], f"tags.dvc_exp_name = '{name}' and tags.`agentflan.pipeline.stage` = 'evaluate'"
        )
        assert len(evaluations) == 1, name
        assert "hscore" in evaluations[0].data.metrics
        versions = client.search_model_versions("name = 'agentflan'")
        assert sum(v.tags.get("dvc_exp_name") == name for v in versions) == 1, name
    parents = client.search_runs([experiment.experiment_id], "tags.dvc_exp_name != ''")
    parent_ids = {r.data.tags.get("mlflow.parentRunId") for r in parents if r.data.tags.get("mlflow.parentRunId")}
    assert len(parent_ids) == 3
    for parent_id in parent_ids:  # closed by their last stage as each queued execution returned
        ended = client.get_run(parent_id).info
        assert ended.status == "FINISHED" and ended.end_time, (ended.status, ended.end_time)
