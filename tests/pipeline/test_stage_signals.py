"""A stage stopped with SIGTERM unwinds: no temporary file is left and the output is untouched."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import ROOT

SCRIPT = '''
import time

from agentflan.data.jsonio import atomic_writer
from agentflan.pipeline.stage import stage

with stage("slow") as s:
    with atomic_writer("out.jsonl") as f:
        f.write(b"partial")
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
'''


def test_sigterm_leaves_no_temporary_file(tmp_path, mlflow_uri):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "out.jsonl").write_text("previous")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert (tmp_path / "out.jsonl").read_text() == "previous"
    assert not list(tmp_path.glob(".out.jsonl.*"))
