"""What every stage script shares: params, readable failures, the MLflow child run, metrics files.

A stage script is wiring only: `with stage("convert") as s:` gives it the params and the tracking
run; expected failures (unusable input, failed validation, bad params) print a readable message
and exit non-zero without a traceback, and the outputs the stage had not yet published stay as they
were.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflan.config import Params, ParamsError, load_params
from agentflan.data.jsonio import InputError, write_json
from agentflan.pipeline.headline import METRICS_FILE_KEYS, select
from agentflan.pipeline.project import process_rank, workspace_root
from agentflan.pipeline.tracking import TrackingUnavailable
from agentflan.pipeline.validation import ValidationFailed, import_seconds, seconds_spent


@dataclass
class StageContext:
    name: str
    params: Params
    opener: Callable[[], Any]  # opens the stage's MLflow run (a tracking.StageRun) when first needed
    published: list[Path] = field(default_factory=list)  # the metrics and plots this run wrote
    _run: Any = None

    @property
    def run(self) -> Any:
        """The stage's MLflow run, opened on first use (`stage` opens it at once unless told `open_run=False`)."""
        if self._run is None:
            self._run = self.opener()
        return self._run

    def open(self) -> None:
        """Open the MLflow run and import Great Expectations (about 4 s together): a data stage calls it once its
        workers have their first chunks, so both happen while the records are read, not before."""
        from agentflan.pipeline.validation import import_gx

        self.run  # noqa: B018 - opens it
        import_gx()

    def path(self, key: str) -> Path:
        return self.params.paths[key]

    def workers(self) -> Any:
        """The processes the stage spreads its records over (`data.workers`, 0: every core; `data.chunk_bytes`), a
        `parallel.Workers` to enter before the stage starts any thread (`open()`). A data stage's garbage collector and
        allocator are tuned first (`tune_gc`, `tune_malloc`), so the workers it forks inherit them."""
        from agentflan.data.parallel import Workers, available_workers

        tune_gc()
        tune_malloc()
        return Workers(available_workers(self.params.data.workers), self.params.data.chunk_bytes)

    def write_metrics(self, key: str, metrics: dict[str, Any]) -> None:
        """All of `metrics` to the stage's details file (and MLflow); its headline to the DVC metrics file."""
        details = key.removesuffix("_metrics") + "_details"
        write_json(self.path(details), metrics)
        write_json(self.path(key), select(metrics, METRICS_FILE_KEYS[key]))
        self.published += [self.path(details), self.path(key)]
        self.run.log_metrics(metrics)

    def write_plot(self, key: str, rows: list[dict[str, Any]]) -> None:
        write_json(self.path(key), rows)
        self.published.append(self.path(key))


def tune_gc() -> None:
    """A data stage's garbage collector (and its forked workers'): what is loaded so far is frozen (never scanned
    again), and the youngest generation is collected every 50,000 allocations instead of 700. A data stage makes and
    drops a few dozen objects per record, and CPython's default collects every few records: 5% to 13% of a data
    stage's time at 100k trajectories on 2 cores (measured against the default, 4 Dec 2026). Memory stays bounded:
    collections still run; nothing a stage computes depends on when they do.

    Every stage's process also freezes what it holds as it exits (`stage` registers `gc.freeze` with atexit): the
    interpreter's teardown otherwise runs full collections over every object left (GX's, MLflow's and pandas' modules,
    the stage's profile columns), 0.8 to 1.1 s of a data stage's wall time after its work was done (5 Dec 2026); the
    OS frees the memory at once."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's `mallopt` parameters (malloc.h)


def tune_malloc() -> bool:
    """A data stage's C allocator (and its forked workers'), where it is glibc's: a buffer under 16 MiB (a chunk's
    bytes, its lines joined for output, a spooled result) comes from the heap, and up to 128 MiB freed at the heap's top
    is kept for the next chunk. By default glibc maps a buffer of a few MiB afresh and unmaps it when it is freed, or
    trims the heap under it, so each chunk paid a page fault for every 4 KiB it touched. At 500k trajectories, 2
    workers, interleaved (5 Dec 2026): convert 1.6M -> 0.27M faults, 65.9-67.9 -> 61.5-63.0 s; balance 780k -> 139k,
    9.53 -> 8.95 s (mean of 4); decompose 11.06 -> 10.71 s (of 4); negatives and benchmark the same within noise; peak
    memory within 2%. True where glibc took both."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, ValueError):  # not glibc: its own allocator's defaults stay
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    took = [mallopt(M_MMAP_THRESHOLD, 16 << 20), mallopt(M_TRIM_THRESHOLD, 128 << 20)]
    return all(took)


def _kept(name: str) -> Path:
    return workspace_root() / ".agentflan" / "published" / name


def keep(ctx: StageContext) -> None:
    """Copies of a successful run's metrics and plots. DVC does not cache them (`cache: false`, so git
    shows them) and deletes them before the stage runs again; a failed re-run puts them back."""
    folder = _kept(ctx.name)
    shutil.rmtree(folder, ignore_errors=True)
    for path in ctx.published:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / path)


def put_back(name: str) -> list[str]:
    """The kept metrics and plots of the stage's last good run, wherever the workspace lacks them."""
    folder, restored = _kept(name), []
    for kept in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
        target = kept.relative_to(folder)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(kept, target)
            restored.append(str(target))
    return restored


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwind: temporary files are removed, the MLflow run is closed


def _put_back_and_say(name: str) -> None:
    restored = put_back(name)
    if restored:
        print(
            f"{name}: failed; the metrics and plots of its last good run are back in place: {', '.join(restored)}",
            file=sys.stderr,
        )


@contextlib.contextmanager
def stage(name: str, param_sections: tuple[str, ...] = (), open_run: bool = True) -> Iterator[StageContext]:
    """The stage's params and its MLflow run (opened at once, or with `open_run=False` when the stage first needs it or
    calls `open()`); readable failures (see the module docstring)."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    atexit.register(gc.freeze)  # see `tune_gc`: the interpreter's exit then leaves what the stage made to the OS
    try:
        try:
            params = load_params(workspace_root() / "params.yaml")  # the whole file, checked before any work
            from agentflan.pipeline.tracking import NullRun, check_reachable, stage_run

            check_reachable()  # seconds, not minutes of retries after the work is done

            if process_rank() != 0:  # one MLflow run per stage, from the main process only
                yield StageContext(name, params, NullRun)
                return
            everything = params.model_dump(mode="json")
            with contextlib.ExitStack() as runs:
                ctx = StageContext(
                    name,
                    params,
                    lambda: runs.enter_context(stage_run(name, {k: everything[k] for k in param_sections}, everything)),
                )
                started = time.perf_counter()
                if open_run:
                    ctx.run  # noqa: B018 - opens it
                try:
                    yield ctx
                except BaseException:
                    with contextlib.suppress(Exception):  # a stage that failed before its run opened is recorded too
                        ctx.run  # noqa: B018 - opens it, to end FAILED
                    raise
                keep(ctx)
                # what the stage's work took, and how much of it was Great Expectations (MLflow only: timings vary)
                ctx.run.log_metrics(
                    {
                        "stage_s": time.perf_counter() - started,
                        "gx_validation_s": seconds_spent(),
                        "gx_import_s": import_seconds(),
                    }
                )
        except BaseException:
            _put_back_and_say(name)  # any failure, before the work too: DVC removed them before the stage ran
            raise
    except ValidationFailed as e:
        print(e.report(), file=sys.stderr)
        print(
            f"{name}: nothing published. DVC removes a stage's outputs before running it; the previous "
            "ones are still in its cache and dvc.lock: `dvc checkout` restores them.",
            file=sys.stderr,
        )
        sys.exit(1)
    except (InputError, ParamsError) as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except TrackingUnavailable as e:
        print(
            f"{name}: error: {e}; nothing was run, and `dvc checkout` restores what DVC removed before the stage. "
            "Start the server, or unset MLFLOW_TRACKING_URI to track into the repository's mlflow.db.",
            file=sys.stderr,
        )
        sys.exit(2)
