"""MLflow tracking: one parent run per pipeline execution, one nested child run per stage.

Every DVC stage is its own process, so stages find their parent run through a key each of them can
recompute without files (no run-id file ever becomes a DVC dependency): the nearest `dvc` process above
them (its pid and start time, read with psutil, so any OS), plus `DVC_EXP_NAME` when DVC sets it. That
process lives for exactly one execution under `dvc repro`, `dvc exp run`, `--temp` and each queued
experiment. Two `dvc repro` of the same commit are two executions, so two parents; a stage run by hand
gets a parent of its own.

No process outlives a stage: each stage sets the parent RUNNING as it starts and, as it ends, leaves it as
the execution would be if it were the last stage, FINISHED with an end time, or FAILED when the stage
failed; the next stage of the same execution sets it RUNNING again. The tracking URI defaults to an
absolute `sqlite:///<repo>/mlflow.db` (artifacts in `<repo>/mlartifacts`), resolved to the real repository
root even inside a `dvc exp run --queue/--temp` copy; `MLFLOW_TRACKING_URI` overrides it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentflan.pipeline.project import file_md5, file_sha256, git_commit, git_diff_sha256, project_root

EXPERIMENT = "agentflan"
KEY_TAG = "agentflan.pipeline_key"
STAGE_TAG = "agentflan.pipeline.stage"


def default_tracking_uri() -> str:
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


class TrackingUnavailable(RuntimeError):
    """The tracking server cannot be reached; the message names the URI."""


def check_reachable(uri: str | None = None, timeout: float = 3.0) -> None:
    """For an HTTP tracking URI, ask the server's /health within `timeout` seconds; a local store needs nothing."""
    import urllib.error
    import urllib.request

    uri = uri or tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310 - the configured server
            if response.status != 200:
                raise TrackingUnavailable(f"MLflow tracking server {uri} answered /health with HTTP {response.status}")
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise TrackingUnavailable(f"MLflow tracking server {uri} is unreachable ({reason})") from None


def artifact_location() -> str | None:
    """Artifacts beside the default local store; another store (a server) decides its own.

    Compared by value: `mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI.
    """
    if tracking_uri() != default_tracking_uri():
        return None
    return (project_root() / "mlartifacts").as_uri()


def dvc_execution() -> tuple[int, float] | None:
    """(pid, start time) of the nearest `dvc` process above this one: the execution this stage belongs to."""
    import psutil

    for proc in psutil.Process().parents():
        try:
            names = [proc.name(), *(Path(a).name for a in proc.cmdline()[:3])]
            if "dvc" in names:
                return proc.pid, started(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def started(proc) -> float:
    """When a process started, in seconds since boot where /proc tells it (clock ticks: they never move), else
    psutil's epoch time. Not psutil's epoch time on Linux: it adds /proc/stat's boot time, which is the wall clock
    minus uptime and moves by a whole second when the clock is adjusted, so two stages of one `dvc` process could
    compute two keys (seen in CI: `dvc:5218:1796417723.030` and `dvc:5218:1796417724.030`)."""
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_bytes()
        return int(stat.rsplit(b")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return proc.create_time()


def boot_id() -> str:
    """This boot of the machine (a start since boot names a process only within one boot); "-" where Linux does not
    tell it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12] or "-"
    except OSError:
        return "-"


@lru_cache(maxsize=1)
def execution_id() -> str:
    """This execution: the boot, the `dvc` process's pid and its start, or this process alone when no DVC runs it."""
    found = dvc_execution()
    return f"dvc:{boot_id()}:{found[0]}:{found[1]:.3f}" if found else f"proc:{os.getpid()}:{time.time_ns()}"


def pipeline_key() -> str:
    """The parent run's key: the execution, and the experiment's name when DVC runs one."""
    exp = os.environ.get("DVC_EXP_NAME")
    return f"exp:{exp}@{execution_id()}" if exp else execution_id()


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys (`convert.react_fraction`), leaf values unchanged."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def as_params(d: dict[str, Any]) -> dict[str, str]:
    """MLflow params: dotted keys, text values within MLflow's length limit."""
    return {k: str(v)[:6000] for k, v in flatten(d).items()}


def _mlflow():
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # batch runs: no progress bars in logs
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def _experiment_id(mlflow, attempts: int = 5) -> str:
    """The project's experiment, created on first use. Two queue workers that open a SQLite store which does not exist
    yet race to create its tables (alembic: "expected to match one row"); the one that loses waits and looks again."""
    for attempt in range(attempts):
        try:
            exp = mlflow.get_experiment_by_name(EXPERIMENT)
            if exp is not None:
                return exp.experiment_id
            return mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location())
        except Exception:  # noqa: BLE001 - the race surfaces as alembic's or SQLAlchemy's error, or a duplicate name
            if attempt == attempts - 1 or not tracking_uri().startswith("sqlite:"):
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _parent_run_id(mlflow, experiment_id: str, key: str, all_params: dict[str, Any]) -> str:
    found = mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.`{KEY_TAG}` = '{key}'",
        max_results=1,
        order_by=["attributes.start_time ASC"],
        output_format="list",
    )
    if found:
        return found[0].info.run_id
    diff = git_diff_sha256()
    tags = {
        KEY_TAG: key,
        "git_commit": git_commit(),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
        "git_uncommitted_changes": str(bool(diff)).lower(),
        **({"git_diff_sha256": diff} if diff else {}),
    }
    client = mlflow.MlflowClient()
    run = client.create_run(experiment_id, tags=tags, run_name=os.environ.get("DVC_EXP_NAME") or f"pipeline {key}")
    client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in as_params(all_params).items()])
    return run.info.run_id


class StageRun:
    """What a stage logs into its child run."""

    def __init__(self, mlflow, run):
        self.mlflow = mlflow
        self.run = run

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        flat = {
            k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if flat:
            self.mlflow.log_metrics(flat, step=step)

    def log_files(self, paths: dict[str, str | Path]) -> None:
        """Lineage: each file's sha256 as a tag (`data.<name>.sha256`)."""
        tags = {}
        for name, p in paths.items():
            p = Path(p)
            if p.is_file():
                tags[f"data.{name}.sha256"] = file_sha256(p)
                tags[f"data.{name}.path"] = str(p)
        self.mlflow.set_tags(tags)

    def log_artifact(self, path: str | Path) -> None:
        self.mlflow.log_artifact(str(path))

    def log_dataset(self, path: str | Path, name: str, context: str) -> str:
        """`mlflow.log_input` of a data file by content hash (md5: the hash dvc.lock records for it)."""
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.data.sources import LocalArtifactDatasetSource

        digest = file_md5(path)
        dataset = MetaDataset(LocalArtifactDatasetSource(str(Path(path).resolve())), name=name, digest=digest)
        self.mlflow.log_input(dataset, context=context)
        self.mlflow.set_tag(f"data.{name}.md5", digest)
        return digest

    def log_model(self, path: str | Path, card: str) -> str:
        """Log the saved model folder as a `transformers` flavor model (the copy the registry serves)."""
        from agentflan.pipeline.logged_model import log_model

        info = log_model(path, card)
        self.mlflow.set_tags({"model_uri": info.model_uri, "model_id": info.model_id})
        return info.model_uri


class NullRun:
    """What non-main processes of a multi-process run log: nothing."""

    run_id = ""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextlib.contextmanager
def stage_run(stage: str, stage_params: dict[str, Any], all_params: dict[str, Any]) -> Iterator[StageRun]:
    """Open the stage's child run under the pipeline's parent run (set RUNNING); a failed stage ends FAILED and
    leaves the parent FAILED, a stage that succeeds leaves it FINISHED until a next stage of its execution starts."""
    mlflow = _mlflow()
    experiment_id = _experiment_id(mlflow)
    key = pipeline_key()
    parent = _parent_run_id(mlflow, experiment_id, key, all_params)
    client = mlflow.MlflowClient()
    if client.get_run(parent).info.status != "RUNNING":
        client.update_run(parent, status="RUNNING")  # a later stage of the same execution: open again
    tags = {
        KEY_TAG: key,
        STAGE_TAG: stage,
        "git_commit": git_commit(),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
    }
    outcome = "FAILED"
    try:
        with mlflow.start_run(run_name=stage, parent_run_id=parent, tags=tags, experiment_id=experiment_id) as run:
            mlflow.log_params(as_params(stage_params))
            yield StageRun(mlflow, run)
        outcome = "FINISHED"
    finally:
        client.set_terminated(parent, outcome)  # as if this stage were the execution's last


def client():
    """An MlflowClient on the project's tracking URI."""
    return _mlflow().MlflowClient()


def find_run_by_tag(key: str, value: str):
    """The newest run of the project's experiment with tag `key` = `value`, or None."""
    mlflow = _mlflow()
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return None
    runs = mlflow.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{key}` = '{value}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    return runs[0] if runs else None
