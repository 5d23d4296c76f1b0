"""Where the project is, which commit it is at, and the content hashes of its files.

`dvc exp run --temp/--queue` runs stages in a copy under `.dvc/tmp/exps/<tmp>`; anything that must
outlive the experiment (the MLflow store) resolves to the real repository root above that copy.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import lru_cache
from pathlib import Path

MARKERS = ("dvc.yaml", "params.yaml")


def workspace_root(start: str | Path | None = None) -> Path:
    """The directory the pipeline runs in (the experiment's temp copy, when there is one)."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if any((d / m).exists() for m in MARKERS):
            return d
    return here


def project_root(start: str | Path | None = None) -> Path:
    """The real repository root, also from inside a `dvc exp` temp copy."""
    ws = workspace_root(start)
    parts = ws.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return ws


@lru_cache(maxsize=8)
def git_commit(cwd: str | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or workspace_root(), capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def git_diff_sha256(cwd: str | None = None) -> str:
    """The sha256 of `git diff HEAD` (uncommitted changes to tracked files), or "" when there are none."""
    try:
        out = subprocess.run(["git", "diff", "HEAD"], cwd=cwd or workspace_root(), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return hashlib.sha256(out.stdout).hexdigest() if out.returncode == 0 and out.stdout else ""


def _file_digest(path: str | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    return _file_digest(path, "sha256")


def folder_sha256(folder: str | Path) -> str:
    """sha256 over every file under `folder`: each file's relative path and sha256, in path order; hidden entries
    (`.git`, `.cache`, ...) skipped."""
    folder, digest = Path(folder), hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if not any(part.startswith(".") for part in rel.parts):
            digest.update(f"{rel.as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def file_md5(path: str | Path) -> str:
    """The md5 of a file's bytes: what DVC 3 records in dvc.lock for a file output."""
    return _file_digest(path, "md5")


def process_rank() -> int:
    """This process's rank under `accelerate launch`/torchrun (0 when run alone)."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
