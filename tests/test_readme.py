"""Every code block in README.md runs, in the order a reader meets them, against a pipeline the README's own
`dvc repro` built (the small demo): Python blocks share one namespace, as in one session; shell lines run in
the project; YAML blocks validate as params; a command synopsis is checked against the CLI's `--help`. A
block or line this test cannot run here (a GPU, hours of runs, commands another test runs as written) is
listed below with the reason; a new block must be run or listed."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, http_server, make_project, run, small_demo

pytestmark = pytest.mark.e2e

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

# a phrase of the block -> why it is not run here
NOT_RUN = {
    "pip install -e . && dvc repro": "the set-up command: .ci/run's fresh clone and this test's project run it",
    "pip install -e '.[dev]'": "the test command: .ci/run runs it",
    "accelerate launch --config_file": "paper scale: a 7B base on 8 GPUs",
    "mlflow server --backend-store-uri": "tests/pipeline/test_queue.py runs these commands against a real server",
    "dvc remote add -d storage": "tests/pipeline/test_remote.py runs these commands with a directory remote",
    "params.yaml  dvc.yaml": "the layout of the tree, not a command",
    "scripts/ablations_device.py prepare": "a GPU machine's runs: tests/pipeline/test_ablations_device.py runs "
    "prepare, run and table on the small demo",
}
# a line of a run block -> why it is not run here
LINE_NOT_RUN = {
    "agentflan experiments run  ": "21 whole pipeline runs (about 2 hours); its --dry-run is run",
    "agentflan experiments table": "needs those runs; tests/pipeline/test_experiments.py runs it on real ones",
    "agentflan results default-s0": "names those runs; tests/pipeline/test_experiments.py runs it",
}
SYNOPSIS = "agentflan convert INPUT..."  # the command-line block: each line's command must exist, with its options


def blocks() -> list[tuple[str, str]]:
    return [(lang, text) for lang, text in FENCE.findall((ROOT / "README.md").read_text())]


def logical_lines(script: str) -> list[str]:
    """Shell lines with their continuations joined, comments and blanks left out."""
    joined = re.sub(r"\\\n", " ", script)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("readme") / "repo", small_demo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline outputs"], repo)
    run(["agentflan", "promote", "--force"], repo)  # the small demo's model need not pass the gate to be served
    return repo


def _validate_yaml(text: str, tmp_path: Path) -> None:
    from agentflan.config import load_params

    fragment = yaml.safe_load(text if not text.startswith(" ") else "data:\n  sources:\n" + text)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in fragment.items():
        params[section] = {**params[section], **values}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    load_params(tmp_path / "params.yaml")  # raises, naming the key, on anything the README got wrong


def _check_synopsis(text: str, cwd: Path) -> None:
    for line in logical_lines(text):
        words = line.split("#")[0].split()
        command = [w for w in words[1:] if re.fullmatch(r"[a-z][a-z-]*", w)][:2]
        wide = {"COLUMNS": "250"}  # rich wraps the help to the terminal
        helped = run([str(BIN / "agentflan"), *command[:1], "--help"], cwd, env=wide).stdout
        if len(command) > 1 and command[1] in helped:  # a command group: its subcommand
            helped = run([str(BIN / "agentflan"), *command, "--help"], cwd, env=wide).stdout
        for option in re.findall(r"--[a-z][a-z-]*", line.split("#")[0]):
            assert option in helped, f"README: `{line.strip()}`: {option} is not an option of agentflan {command}"


def _shell(text: str, cwd: Path, tmp_path: Path, servers: contextlib.ExitStack, namespace: dict) -> None:
    for line in logical_lines(text):
        if any(phrase in line for phrase in LINE_NOT_RUN):
            continue
        command = line.split(" #")[0].strip()
        if command.startswith(("agentflan serve", "mlflow ui")):  # a server: on a free port, until the test ends
            port_free = re.sub(r"--port \d+", "", command) + " --port {port}"
            ready = "/health" if command.startswith("agentflan serve") else "/"
            url = servers.enter_context(
                http_server(["bash", "-c", port_free], ready, tmp_path / "server.log", cwd=cwd, env=_env())
            )
            namespace["SERVED"] = url
            continue
        run(["bash", "-ec", command], cwd)


def _env() -> dict[str, str]:
    import os

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def test_every_readme_block_runs(project, tmp_path, monkeypatch):
    monkeypatch.chdir(project)
    namespace: dict = {}
    printed = []
    ran = 0
    with contextlib.ExitStack() as servers:
        for lang, text in blocks():
            if any(phrase in text for phrase in NOT_RUN):
                continue
            ran += 1
            if lang == "yaml":
                _validate_yaml(text, tmp_path)
            elif SYNOPSIS in text:
                _check_synopsis(text, project)
            elif lang == "bash" and "BFCL_v3_simple.json" in text:  # BFCL's own file names: the fixtures have them
                bfcl = shutil.copytree(ROOT / "tests/fixtures/bfcl", tmp_path / "bfcl")
                (bfcl / "data/raw").mkdir(parents=True)
                for name in ("BFCL_v3_simple.json", "BFCL_v3_multiple.json"):  # the fixtures lack one answer on purpose
                    answered = (bfcl / "possible_answer" / name).read_text()
                    rows = (bfcl / name).read_text().splitlines()
                    kept = [r for r in rows if f'"{json.loads(r)["id"]}"' in answered]
                    (bfcl / name).write_text("\n".join(kept) + "\n")
                run(["bash", "-ec", logical_lines(text)[0]], bfcl)
                assert (bfcl / "data/raw/bfcl.jsonl").read_text().count("\n") > 0
            elif lang == "bash":
                _shell(text, project, tmp_path, servers, namespace)
            elif lang == "python":
                code = text
                if "SERVED" in namespace:  # the port the README's server line got here
                    code = code.replace("http://127.0.0.1:8000", namespace["SERVED"])
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
                printed.append(out.getvalue())
            else:
                raise AssertionError(f"README block ```{lang} is neither run nor listed in NOT_RUN:\n{text[:200]}")
    assert ran >= 8
    # the transformers snippet parsed a reply of the model into a message; the served one answered a completion
    assert "'role': 'assistant'" in printed[0], printed[0]
    assert re.match(r"(stop|tool_calls|length) ", printed[1]), printed[1]
