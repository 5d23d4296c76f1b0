"""`agentflan experiments run/table`: real `dvc exp run --temp`s of a one-stage project whose stage writes the
predictions a variant would (from its params), read back with `dvc exp show --json` and `dvc.api`; and the
table's arithmetic, checked against numbers worked out by hand."""

from __future__ import annotations

import json
import textwrap

import pytest

from agentflan.pipeline.experiments import (
    CLAIMS,
    markdown,
    merge,
    plan,
    read_runs,
    shown,
    summarize,
    verdict,
    write_runs,
)

from conftest import BIN, run

# The stage: 2 answerable plain samples, 1 "none offered" sample, 2 seen-tool calls, as `evaluate` writes them (each
# row with the stale verdict of a judge that saw nothing wrong: the table judges every answer again). With negatives,
# one plain answer per seed is a call (seed 0: none, seed 1: one) and the missing tool is declined; without, both
# plain answers are calls and the weather is made up; tool choice is the same.
STAGE = textwrap.dedent(
    """
    import json, pathlib, yaml
    p = yaml.safe_load(open("params.yaml"))
    seed, negatives = p["train"]["seed"], p["negatives"]["enabled"]
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"name": n, "parameters": schema} for n in ("get_weather", "get_time")]
    def row(i, category, expected, content="", calls=(), offered=(), **extra):
        stale = {"react": False, "general": False, "refusal": False, "quality": 1.0} if expected == "plain" else {
            "format_valid": True, "tool_correct": True, "hallucinated": False, "args_valid": True, "args_correct": True}
        return {"id": i, "category": category, "tools": list(offered), "expected": expected, "response": content,
                "protocol": "native", "content": content, "tool_calls": list(calls), "parse_error": None,
                "verdict": stale, **extra}
    capital = {"query": "What is the capital of France?", "reference": "Paris is the capital of France."}
    def plain(i, call):
        if call:
            return row(f"p{i}", "plain_no_tools", "plain", calls=[{"name": "get_weather", "arguments": {}}], **capital)
        return row(f"p{i}", "plain_no_tools", "plain", "Paris is the capital of France.", **capital)
    declined = "I can't check the live weather without a weather tool."
    made_up = "It is 14 degrees and raining in Oslo right now."
    rows = [plain(0, not negatives), plain(1, (seed == 1) or not negatives)]
    rows.append(row("p2", "tool_needed_not_offered", "plain", declined if negatives else made_up,
                    query="What's the weather in Oslo right now?"))
    rows += [row(f"c{i}", "tool_needed_offered_seen", "call", calls=[{"name": n, "arguments": {"city": "Oslo"}}],
                 offered=tools, query="Weather in Oslo?", expected_tool="get_weather",
                 expected_arguments={"city": ["Oslo"]}) for i, n in enumerate(["get_weather", "get_time"])]
    pathlib.Path("data/eval").mkdir(parents=True, exist_ok=True)
    pathlib.Path("metrics").mkdir(exist_ok=True)
    with open("data/eval/predictions.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\\n" for r in rows)
    pathlib.Path("metrics/details").mkdir(exist_ok=True)
    areas = {"reasoning": 0.4, "retrieval": 0.8, "general": 0.2}
    speed = {c: {"relative_area": a} for c, a in areas.items()}
    json.dump({"val_loss": 1.0, "learning_speed": speed}, open("metrics/details/train.json", "w"))
    json.dump({"val_loss": 1.0}, open("metrics/train.json", "w"))
    json.dump({"hscore": 0.5 + seed / 8, "over_refusal_rate": 0.125}, open("metrics/evaluate.json", "w"))
    """
)


@pytest.fixture
def project(tmp_path):
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "stage.py").write_text(STAGE)
    (repo / "params.yaml").write_text("train:\n  seed: 0\nnegatives:\n  enabled: true\n")
    (repo / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: python stage.py\n    deps: [stage.py]\n    params: [train, negatives]\n"
        "    outs: [data/eval/predictions.jsonl, metrics/details/train.json: {cache: false}]\n"
        "    metrics:\n      - metrics/train.json: {cache: false}\n"
        "      - metrics/evaluate.json: {cache: false}\n"
    )
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(cmd, repo)
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], repo)
    return repo


def test_run_then_table_reads_each_variant_and_seed_back(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", f"{BIN}:{__import__('os').environ['PATH']}")
    listed = run([str(BIN / "agentflan"), "experiments", "run", "-c", "c", "-s", "0", "-s", "1"], project)
    assert "no-negatives-s1" in listed.stdout and "4 experiment(s) run" in listed.stdout
    again = run([str(BIN / "agentflan"), "experiments", "run", "-c", "c", "-s", "0", "-s", "1"], project)
    assert "0 experiment(s) run" in again.stdout  # each (variant, seed) runs once
    run([str(BIN / "agentflan"), "experiments", "table", "-c", "c", "-s", "0", "-s", "1"], project)
    summary = json.loads((project / "results" / "ablations.json").read_text())
    rows = summary["claims"]["c"]["variants"]
    # HScore per plain sample is 1 - general/2. Default: seed 0 all clean (1.0), seed 1 one of 3 hallucinates
    # (5/6); without negatives two of three do, both seeds (2/3). The rows' own (stale) verdicts would say 1.0.
    assert rows["default"]["hscore"]["per_seed"] == [1.0, round(5 / 6, 4)]
    assert rows["no-negatives"]["hscore"]["per_seed"] == [round(2 / 3, 4), round(2 / 3, 4)]
    # paired differences: seed 0: -0.5, -0.5, 0; seed 1: -0.5, 0, 0 -> mean -1.5 / 6
    assert rows["no-negatives"]["hscore"]["vs_default"]["diff"] == -0.25
    assert rows["no-negatives"]["hscore"]["vs_default"]["pairs"] == 6
    assert rows["no-negatives"]["fabrication_rate"]["per_seed"] == [1.0, 1.0]
    assert rows["default"]["fabrication_rate"]["per_seed"] == [0.0, 0.0]
    assert rows["no-negatives"]["tool_name_accuracy_seen"]["vs_default"]["diff"] == 0.0
    assert rows["no-negatives"]["overrides"] == {"negatives.enabled": False}
    assert "| no-negatives | native | 2 |" in (project / "results" / "ablations.md").read_text()
    # the headline of the named experiments side by side (the workspace has not run: its column is empty)
    shown = run([str(BIN / "agentflan"), "results", "default-s0", "default-s1"], project).stdout
    hscore = next(line for line in shown.splitlines() if "HScore" in line)
    assert [cell.strip() for cell in hscore.split("│")[2:5]] == ["—", "0.5", "0.625"], hscore
    unknown = run([str(BIN / "agentflan"), "results", "nope"], project, check=False)
    assert unknown.returncode == 2 and "no experiment 'nope'" in unknown.stderr and "default-s0" in unknown.stderr
    # a commit later the experiments belong to their baseline: named with --rev, and the error says so
    baseline = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-qm", "later"], project)
    moved = run([str(BIN / "agentflan"), "results", "default-s0"], project, check=False)
    assert moved.returncode == 2 and "--rev COMMIT" in moved.stderr
    shown = run([str(BIN / "agentflan"), "results", "--rev", baseline, "default-s0", "default-s1"], project).stdout
    assert hscore == next(line for line in shown.splitlines() if "HScore" in line)
    # and their table, judged by this commit's judges, says by which
    run([str(BIN / "agentflan"), "experiments", "table", "-c", "c", "-s", "0", "-s", "1", "--rev", baseline], project)
    later = run(["git", "rev-parse", "--short", "HEAD"], project).stdout.strip()
    again = json.loads((project / "results" / "ablations.json").read_text())["claims"]["c"]
    assert again["variants"] == rows and again["baseline"] == baseline[: len(later)] and again["judged_at"] == later
    assert f"answers judged by the judges of commit {later}." in (project / "results" / "ablations.md").read_text()
    # every run's answers are archived beside the table (in the protocol each is read in), and judged again from
    # there once the experiments are gone
    archive = project / "results" / "ablations-runs.jsonl.gz"
    archived = {r["name"]: r for r in read_runs(archive)}
    assert sorted(archived) == ["default-s0", "default-s1", "no-negatives-s0", "no-negatives-s1"]
    assert all(len(r["rows"]) == 5 and r["baseline"] == baseline[: len(later)] for r in archived.values())
    assert archived["no-negatives-s1"]["params"]["negatives"]["enabled"] is False
    run(["dvc", "exp", "remove", "--all-commits"], project)
    gone = run([str(BIN / "agentflan"), "experiments", "table", "-c", "c"], project, check=False)
    assert gone.returncode == 2 and "no experiment of these claims" in gone.stderr
    (project / "results" / "ablations.json").unlink()
    cmd = ["experiments", "table", "-c", "c", "-s", "0", "-s", "1", "--runs", str(archive)]
    run([str(BIN / "agentflan"), *cmd], project)
    judged_again = json.loads((project / "results" / "ablations.json").read_text())["claims"]["c"]
    assert judged_again == again
    # an archive's runs are labelled with the overrides they were made with, not with the variant's definition today
    for name in ("no-negatives-s0", "no-negatives-s1"):
        archived[name]["params"]["train"]["max_length"] = 1024
    write_runs(older := project / "older.jsonl.gz", list(archived.values()))
    run([str(BIN / "agentflan"), *cmd[:-1], str(older)], project)
    rows = json.loads((project / "results" / "ablations.json").read_text())["claims"]["c"]["variants"]
    assert rows["no-negatives"]["overrides"] == {"negatives.enabled": False, "train.max_length": 1024}
    assert rows["default"]["overrides"] == {}


def _rows(general: list[bool], correct: list[bool]) -> list[dict]:
    plain = [
        {
            "id": f"p{i}",
            "protocol": "native",
            "category": "plain_no_tools",
            "expected": "plain",
            "verdict": {"react": False, "general": g, "refusal": False},
        }
        for i, g in enumerate(general)
    ]
    calls = [
        {
            "id": f"c{i}",
            "protocol": "native",
            "category": "tool_needed_offered_seen",
            "expected": "call",
            "verdict": {"tool_correct": c, "format_valid": True, "hallucinated": False},
        }
        for i, c in enumerate(correct)
    ]
    return plain + calls


def test_a_claim_is_supported_only_when_the_interval_says_so():
    claim = next(c for c in CLAIMS if c.key == "c")
    clean = _rows([False] * 20, [True] * 10)
    # without negatives every plain answer hallucinates: HScore 1.0 -> 0.5 on every pair, interval [-0.5, -0.5]
    worse = summarize({"default": {0: clean}, "no-negatives": {0: _rows([True] * 20, [True] * 10)}}, [0], ["c"])
    assert worse["claims"]["c"]["verdict"].startswith("supported: hscore of no-negatives minus default: -0.500")
    # identical answers: the difference is 0 [0, 0], which is not below 0
    same = summarize({"default": {0: clean}, "no-negatives": {0: clean}}, [0], ["c"])
    assert same["claims"]["c"]["verdict"].startswith("not supported")
    # negatives cut hallucination but cost tool choice: removing them raises tool accuracy beyond its interval
    cost = summarize(
        {"default": {0: _rows([False] * 20, [False] * 10)}, "no-negatives": {0: _rows([True] * 20, [True] * 10)}},
        [0],
        ["c"],
    )
    text = cost["claims"]["c"]["verdict"]
    assert (
        text.startswith("not supported")
        and "the recipe costs tool_name_accuracy_seen (no-negatives minus default: +1.000" in text
    )
    assert verdict(claim, {}) == "not measured"
    assert "(c) hallucination negatives" in markdown(cost)


def test_a_recipe_step_in_the_variant_costs_when_the_variant_is_worse():
    """Claim (b)'s default keeps every token and its variant re-balances: the recipe's step is in the variant, so
    its cost is the variant being worse (the other side from claim (c), whose variant drops negatives)."""
    default = _rows([False] * 20, [False] * 10)
    better_calls = _rows([False] * 20, [True] * 10)
    helps = summarize({"default": {0: default}, "paper-mix": {0: better_calls}}, [0], ["b"])["claims"]["b"]
    assert helps["verdict"] == "supported: tool_name_accuracy_seen of paper-mix minus default: +1.000 [+1.000, +1.000]"
    # better calls, but every plain answer now hallucinates a call: HScore falls, the re-balance costs
    costs = summarize({"default": {0: default}, "paper-mix": {0: _rows([True] * 20, [True] * 10)}}, [0], ["b"])
    text = costs["claims"]["b"]["verdict"]
    assert text.startswith("not supported") and "the recipe costs hscore (paper-mix minus default: -0.500" in text
    # a run not made yet is not measured; the suggested mix's row is left out of the rule
    assert summarize({"default": {0: default}}, [0], ["b"])["claims"]["b"]["verdict"] == "not measured"


def test_the_suggested_mix_waits_for_the_default_and_then_uses_its_learning_speed(project, monkeypatch):
    monkeypatch.chdir(project)
    pending = dict(plan(["b"], [0], shown()))
    assert pending["suggested-mix-s0"] is None and pending["default-s0"][:5] == ["dvc", "exp", "run", "--temp", "-n"]
    run(["dvc", "exp", "run", "--queue", "-n", "default-s0"], project)
    assert "default-s0" not in shown()  # queued is not done: `dvc exp show` lists it with the baseline's metrics
    run(["dvc", "queue", "remove", "--all"], project)
    run(["dvc", "exp", "run", "--temp", "-n", "default-s0"], project)
    cmd = dict(plan(["b"], [0], shown()))["suggested-mix-s0"]
    # from the run's details file (its metrics file has no learning_speed): weight = relative area / the
    # slowest's (0.8): 0.5, 1.0, 0.25
    assert cmd[-6:] == ["-S", "mix.reasoning=0.5", "-S", "mix.retrieval=1.0", "-S", "mix.general=0.25"]


def test_a_table_keeps_the_claims_it_did_not_read_with_their_baseline():
    old = {"claims": {"a": {"baseline": "aaa", "variants": {}}, "c": {"baseline": "ccc", "variants": {}}}}
    new = {"seeds": [0], "metrics": [], "claims": {"c": {"baseline": "ddd", "variants": {}}}}
    merged = merge(old, new)
    assert merged["claims"] == {"a": {"baseline": "aaa", "variants": {}}, "c": {"baseline": "ddd", "variants": {}}}
