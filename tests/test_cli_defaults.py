"""Commands that mirror a stage behave as the stage does: the same defaults, never writing into what DVC owns, and
messages that name the real problem with the command that fixes it."""

from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import FIXTURES, ROOT


def cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "agentflan.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


def test_demo_writes_what_the_stage_writes_and_refuses_the_stage_folder(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    proc = cli("demo", str(tmp_path / "corpus"))
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "corpus" / "sharegpt.jsonl").read_text().splitlines()
    assert len(lines) == params["demo"]["sharegpt"]  # 400, as the stage writes (the CLI once wrote 200)
    refused = cli("demo", "data/raw/demo", cwd=tmp_path)
    assert refused.returncode == 2 and "dvc repro demo" in refused.stderr and not (tmp_path / "data").exists()


def test_convert_defaults_are_the_stages_and_leave_no_empty_quarantine(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    shown = cli("convert", "--help").stdout
    assert f"[default: {params['convert']['format_samples']}]" in shown  # 200, as the stage (once 0)
    out = tmp_path / "out.jsonl"
    proc = cli("convert", str(FIXTURES / "toolbench_toolllama.json"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0 and not (tmp_path / "out.quarantine.jsonl").exists()


def test_inspect_on_an_upstream_file_says_to_convert_it_first():
    proc = cli("inspect", str(FIXTURES / "sharegpt.jsonl"))
    assert proc.returncode == 2 and "agentflan convert" in proc.stderr and "Traceback" not in proc.stderr


def test_suggest_mix_on_an_unknown_run_says_there_is_no_such_run(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "HOME": str(tmp_path)}
    proc = cli("suggest-mix", "0123456789abcdef", env=env)
    assert proc.returncode == 2 and "no MLflow run '0123456789abcdef'" in proc.stderr, proc.stderr


def test_the_help_promises_only_commands_that_exist():
    shown = cli("--help").stdout
    assert "validate" not in shown.lower() and "convert" in shown  # the old help promised a `validate` command
