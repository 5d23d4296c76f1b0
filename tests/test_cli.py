from __future__ import annotations

import subprocess
import sys
import time

HEAVY = ("torch", "transformers", "mlflow", "great_expectations", "pandas", "dvc")


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from agentflan.cli import app; print(','.join(m for m in " + repr(HEAVY) + " if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_help_is_fast_and_lists_commands():
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "agentflan.cli", "--help"], capture_output=True, text=True, check=True)
    assert time.perf_counter() - start < 5  # generous: a loaded CI machine; locally it is ~0.2 s
    for command in ("convert", "inspect", "demo"):
        assert command in proc.stdout


def test_inspect_shows_loss_and_parts(tmp_path, fixtures):
    out = tmp_path / "c.jsonl"
    subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "convert", str(fixtures / "agentinstruct.jsonl"), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "inspect", str(out), "--id", "db_0"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "PATH": ""},
    )
    assert "assistant | LEARN | thought" in proc.stdout and "tool | result of execute_sql" in proc.stdout
    assert "tool call [name LEARN, arguments LEARN]: execute_sql(" in proc.stdout
    elicited = tmp_path / "e.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agentflan.cli",
            "convert",
            str(fixtures / "agentinstruct.jsonl"),
            "-o",
            str(elicited),
            "--call-style",
            "elicited",
        ],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "inspect", str(elicited), "--id", "db_0"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "PATH": ""},
    )
    assert "assistant | LEARN | arguments | call=execute_sql" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "agentflan.cli", "inspect", str(out), "--id", "nope"], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "no conversation with id 'nope'" in missing.stderr
