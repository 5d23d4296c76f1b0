"""A stage stopped with SIGTERM unwinds: no temporary file is left and the output is untouched."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import ROOT

SCRIPT = """
import time

from agentflan.data.jsonio import atomic_writer
from agentflan.pipeline.stage import stage

with stage("slow") as s:
    with atomic_writer("out.jsonl") as f:
        f.write(b"partial")
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
"""


def test_sigterm_leaves_no_temporary_file(tmp_path, mlflow_uri):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "out.jsonl").write_text("previous")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert (tmp_path / "out.jsonl").read_text() == "previous"
    assert not list(tmp_path.glob(".out.jsonl.*"))


def test_an_unreachable_tracking_server_is_one_line_within_seconds(tmp_path):
    import os

    from conftest import free_port

    port = free_port()  # nothing listens on it
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    uri = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    assert time.perf_counter() - started < 20
    assert proc.returncode == 2 and "writing" not in proc.stdout  # checked before the stage did anything
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and uri in lines[0] and "unreachable" in lines[0] and "dvc checkout" in lines[0]


def test_sigkill_mid_write_leaves_the_output_whole_and_the_next_run_clears_the_litter(tmp_path, mlflow_uri):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "out.jsonl").write_text("previous")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)  # no unwinding at all
    proc.wait(timeout=60)
    assert (tmp_path / "out.jsonl").read_text() == "previous"  # never half-written: the write goes to a temporary file
    assert list(tmp_path.glob(".out.jsonl.*.tmp"))  # which a kill leaves behind
    finish = SCRIPT.replace("time.sleep(60)", "pass")
    subprocess.run([sys.executable, "-c", finish], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert (tmp_path / "out.jsonl").read_text() == "partial" and not list(tmp_path.glob(".out.jsonl.*.tmp"))
