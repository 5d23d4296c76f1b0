from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
BIN = Path(sys.executable).parent

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ["AGENTFLAN_EXPECTATIONS"] = str(ROOT / "expectations")


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri():
    """`mlflow.set_tracking_uri` exports MLFLOW_TRACKING_URI; a test that calls it must not send the stages
    of later tests' `dvc repro` subprocesses to its store."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def script(name: str):
    """`scripts/<name>.py` as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sweep_tiny():
    """`scripts/sweep_tiny.py` as a module: the levers of results/levers.md."""
    return script("sweep_tiny")


@pytest.fixture(scope="session")
def levers_table():
    """`scripts/levers_table.py` as a module: each lever against the default over seeds."""
    return script("levers_table")


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True, log: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `cmd` with the venv's tools first on PATH. With `log`, its output goes to that file instead of a
    pipe: a command that leaves daemons behind (`dvc queue start`) would otherwise hold the pipe open and
    make the wait last as long as they do."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    full_env.pop("AGENTFLAN_EXPECTATIONS", None)
    if log is None:
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=900)
    else:
        with open(log, "w") as out:
            proc = subprocess.run(
                cmd, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=900
            )
        proc.stdout, proc.stderr = Path(log).read_text(), ""
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(
    cmd: list[str],
    ready: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Run a server on 127.0.0.1 and a free port (`{port}` in `cmd`) until `<url><ready>` answers; yield its URL,
    then stop its whole process group."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [part.format(port=port) for part in cmd],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    urllib.request.urlopen(f"{url}{ready}", timeout=2)
                    break
                except OSError:
                    assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
                    time.sleep(1)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have died already (its log says why)
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


@contextlib.contextmanager
def params_restored(repo: Path) -> Iterator[Path]:
    """The repository, with its params.yaml put back as it was afterwards (tests that edit params share a project)."""
    original = (repo / "params.yaml").read_text()
    try:
        yield repo
    finally:
        (repo / "params.yaml").write_text(original)


PROJECT_FILES = ("params.yaml", "dvc.yaml", "stages", "src", "expectations", "pyproject.toml")


def make_project(dest: Path, params_update=None) -> Path:
    """A fresh git + DVC repository holding this project's pipeline (code, params, suites)."""
    import yaml

    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    shutil.copy2(ROOT / ".gitignore", dest / ".gitignore")
    if params_update:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        params_update(params)
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest)
    run(["git", "config", "user.email", "ci@example.invalid"], dest)
    run(["git", "config", "user.name", "ci"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project"], dest)
    return dest


def small_demo(params: dict) -> None:
    """A pipeline that runs in seconds: a small corpus and a very small model trained for a few steps."""
    params["demo"].update(toolbench=60, agentinstruct_os=8, agentinstruct_db=8, sharegpt=20)
    params["convert"]["format_samples"] = 6
    params["model"]["tiny"].update(
        vocab_size=1024,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
    )
    params["train"].update(
        max_length=1024, batch_tokens=4096, max_steps=8, warmup_steps=2, eval_every=4, checkpoint_every=4, lr=0.01
    )
