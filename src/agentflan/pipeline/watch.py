"""Ends a pipeline's parent MLflow run once its `dvc` process has exited (run detached by tracking)."""

from __future__ import annotations

import sys
import time

from agentflan.pipeline.tracking import STAGE_TAG, _proc_stat


def main(uri: str, run_id: str, pid: int, started: str, poll_s: float = 1.0, limit_s: float = 7 * 24 * 3600) -> None:
    deadline = time.time() + limit_s
    while time.time() < deadline:
        stat = _proc_stat(pid)
        if stat is None or stat[1] != started:
            break
        time.sleep(poll_s)
    import mlflow

    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'")
    failed = any(c.info.status in ("FAILED", "KILLED") or c.info.status == "RUNNING" for c in children
                 if STAGE_TAG in c.data.tags)
    client.set_terminated(run_id, "FAILED" if failed else "FINISHED")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
