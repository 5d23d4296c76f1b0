"""A pipeline's MLflow parent run reads right however DVC runs it: FINISHED with an end time once its last stage has
ended, FAILED when a stage failed, each stage once under it, and no process of ours left behind (checked with `ps`)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import mlflow
import pytest

from conftest import make_project, run, small_demo
from test_queue import wait_for_the_queue

pytestmark = pytest.mark.e2e
STAGE_TAG = "agentflan.pipeline.stage"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("parents") / "repo", small_demo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    return repo


def ours_running(repo) -> list[str]:
    """Processes of ours still alive: anything started from the test repository (named in its command line, or
    working in it: a stage DVC runs there), as `ps` lists them. Another repository's pipeline on the same machine
    is not ours."""
    import psutil

    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout.splitlines()
    out = []
    for line in listing[1:]:
        pid, _, args = line.strip().partition(" ")
        try:
            cwd = psutil.Process(int(pid)).cwd()
        except (psutil.Error, ValueError):
            cwd = ""
        if (str(repo) in args or cwd.startswith(str(repo))) and "ps -eo" not in args:
            out.append(line)
    return out


def stop_dvc_workers(repo, timeout: float = 120.0) -> list[str]:
    """After `dvc queue stop`, wait up to `timeout` s for DVC's queue workers to leave, then terminate what is left
    (the stop is a message, and a worker busy as it is sent can miss it: seen in two CI runs of three), so that the
    test leaves nothing running; returns what had to be terminated."""
    import psutil

    deadline = time.monotonic() + timeout
    while (alive := ours_running(repo)) and time.monotonic() < deadline:
        time.sleep(2)
    for line in alive:
        with contextlib.suppress(psutil.Error):
            psutil.Process(int(line.split()[0])).terminate()
    return alive


def parent_of(client, where: str):
    """The one parent run matching `where` (a filter on tags), with its stage children."""
    experiment = client.get_experiment_by_name("agentflan")
    runs = client.search_runs([experiment.experiment_id], where, order_by=["attributes.start_time DESC"])
    parents = [r for r in runs if STAGE_TAG not in r.data.tags]
    assert parents, where
    parent = parents[0]
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return client.get_run(parent.info.run_id), children


def assert_ended(parent, children, stages, status="FINISHED"):
    assert parent.info.status == status and parent.info.end_time, (parent.info.status, parent.info.end_time)
    assert sorted(c.data.tags[STAGE_TAG] for c in children) == sorted(stages)  # each stage once
    assert parent.info.end_time >= max(c.info.end_time for c in children)


def test_repro_exp_run_temp_and_a_stage_by_hand_each_end_their_parent(repo):
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")  # the fixture ran `dvc repro`
    assert not ours_running(repo)
    parent, children = parent_of(client, "tags.dvc_exp_name = ''")
    assert_ended(
        parent, children, ["demo", "convert", "benchmark", "decompose", "balance", "negatives", "train", "evaluate"]
    )

    after_balance = ["balance", "negatives", "train", "evaluate"]
    run(["dvc", "exp", "run", "-n", "in-place", "-S", "mix.general=0.5"], repo)
    assert not ours_running(repo)
    assert_ended(*parent_of(client, "tags.dvc_exp_name = 'in-place'"), after_balance)
    run(["dvc", "exp", "run", "--temp", "-n", "in-temp", "-S", "mix.general=0.6"], repo)
    assert not ours_running(repo)
    assert_ended(*parent_of(client, "tags.dvc_exp_name = 'in-temp'"), after_balance)

    before = {r.info.run_id for r in client.search_runs([client.get_experiment_by_name("agentflan").experiment_id])}
    run([sys.executable, "stages/decompose.py"], repo)  # by hand: a parent of its own
    assert not ours_running(repo)
    new = [
        r
        for r in client.search_runs([client.get_experiment_by_name("agentflan").experiment_id])
        if r.info.run_id not in before
    ]
    (by_hand,) = [r for r in new if STAGE_TAG not in r.data.tags]
    assert_ended(client.get_run(by_hand.info.run_id), [r for r in new if STAGE_TAG in r.data.tags], ["decompose"])


def test_two_queued_experiments_on_two_workers_with_sqlite_one_failing_in_train(repo, tmp_path):
    """The sequence of the report: two queued experiments, `dvc queue start -j 2`, the default SQLite store; one of them
    fails in train. One parent FINISHED, one FAILED, both with end times."""
    run(["dvc", "exp", "run", "--queue", "-n", "q-good", "-S", "mix.reasoning=0.5", "-S", "train.max_steps=6"], repo)
    # 4-bit QLoRA without CUDA: the train stage starts (its MLflow run opens), then refuses as it loads the model
    run(
        [
            "dvc",
            "exp",
            "run",
            "--queue",
            "-n",
            "q-bad",
            "-S",
            "train.lora.enabled=true",
            "-S",
            "train.lora.quantize_4bit=true",
        ],
        repo,
    )
    started = run(["dvc", "queue", "start", "-j", "2"], repo, log=tmp_path / "queue-start.log")
    assert "Started '2'" in started.stdout, started.stdout
    try:
        status = wait_for_the_queue(repo, {}, timeout=2400)
    finally:
        run(["dvc", "queue", "stop"], repo, check=False, log=tmp_path / "queue-stop.log")
    assert status.count("Success") >= 1 and "Failed" in status, status
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    assert_ended(*parent_of(client, "tags.dvc_exp_name = 'q-good'"), ["balance", "negatives", "train", "evaluate"])
    assert_ended(*parent_of(client, "tags.dvc_exp_name = 'q-bad'"), ["train"], status="FAILED")
    assert not [line for line in ours_running(repo) if "stages/" in line]  # no stage outlives its run
    stop_dvc_workers(repo)
