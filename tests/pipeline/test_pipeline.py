"""End to end on a real DVC repository: `dvc repro`, its no-op re-run, byte-identical outputs,
MLflow grouping, and a failed Great Expectations suite that publishes nothing."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import mlflow
import mlflow.transformers
import pytest
import yaml

from conftest import make_project, params_restored, run, small_demo

pytestmark = pytest.mark.e2e
OUTPUTS = (
    "data/raw/demo/toolbench.json",
    "data/converted/conversations.jsonl",
    "data/decomposed/conversations.jsonl",
    "data/balanced/conversations.jsonl",
    "data/final/train.jsonl",
    "data/final/validation.jsonl",
    "data/final/agentflan/train.jsonl",
    "data/final/agentflan/validation.jsonl",
)
STAGES = ("demo", "convert", "benchmark", "decompose", "balance", "negatives", "train", "evaluate")


def digests(repo):
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in OUTPUTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("e2e") / "repo", small_demo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline outputs"], repo)
    return repo


def test_repro_writes_validated_outputs_whose_counts_add_up(repo):
    metrics = json.loads((repo / "metrics/convert.json").read_text())
    assert metrics["read"] == metrics["converted"] + metrics["dropped"] + metrics["quarantined"]
    assert metrics["written"] == metrics["converted"] + metrics["format_samples"] == 6 + metrics["converted"]
    lines = (repo / "data/converted/conversations.jsonl").read_text().splitlines()
    assert len(lines) == metrics["written"]
    assert json.loads((repo / "metrics/demo.json").read_text())["records"]["agentinstruct_os.jsonl"] == 8


def _numbers(node) -> list[float]:
    if isinstance(node, bool):
        return []
    if isinstance(node, int | float):
        return [node]
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [x for v in values for x in _numbers(v)]


def test_dvc_metrics_show_holds_the_headline_and_the_details_files_the_rest(repo):
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    files = shown[""]["data"]  # the workspace
    assert set(files) == {f"metrics/{s}.json" for s in STAGES}
    assert len(_numbers(shown)) <= 60  # a person reads it
    headline = files["metrics/evaluate.json"]["data"]
    assert {"hscore", "over_refusal_rate", "tool_name_accuracy_seen", "argument_accuracy"} <= set(headline)
    assert "per_category" not in headline and "by_protocol" not in headline
    for stage in STAGES:  # each headline figure is the details file's own
        details = json.loads((repo / f"metrics/details/{stage}.json").read_text())
        for key, value in files[f"metrics/{stage}.json"]["data"].items():
            assert value == details[key] or value.items() <= details[key].items(), (stage, key)
    assert "per_category" in json.loads((repo / "metrics/details/evaluate.json").read_text())


def test_second_repro_is_a_no_op(repo):
    proc = run(["dvc", "repro"], repo)
    for name in STAGES:
        assert f"Stage '{name}' didn't change, skipping" in proc.stdout
    assert "Running stage" not in proc.stdout


def test_forced_rerun_is_byte_identical(repo):
    before = digests(repo)
    run(["dvc", "repro", "-f"], repo)
    assert digests(repo) == before
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_data_stages_write_the_same_bytes_over_several_workers(repo):
    """Records spread over 3 processes in chunks of 20 kB (dozens of chunks): the same outputs and metrics, and
    `data.workers` re-runs nothing."""
    metrics = ["metrics/decompose.json", "metrics/balance.json", "metrics/negatives.json", "metrics/benchmark.json"]
    before = {**digests(repo), **{m: (repo / m).read_bytes() for m in metrics}}
    with params_restored(repo):
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["data"].update(workers=3, chunk_bytes=20_000)
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        assert "up to date" in run(["dvc", "status"], repo).stdout  # not a stage parameter
        run(["dvc", "repro", "-f", "-s", "benchmark", "decompose", "balance", "negatives"], repo)
    assert {**digests(repo), **{m: (repo / m).read_bytes() for m in metrics}} == before
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_mlflow_groups_stages_under_one_pipeline_run(repo):
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("agentflan")
    assert exp.artifact_location == (repo / "mlartifacts").as_uri()
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if "agentflan.pipeline.stage" not in r.data.tags]
    # one parent per execution: the first `dvc repro` and the forced re-run of the same commit are two
    first, forced = parents[0], parents[1]
    assert first.data.tags["git_commit"] == run(["git", "rev-list", "--max-parents=0", "HEAD"], repo).stdout.strip()
    assert forced.data.tags["git_commit"] == run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    for parent in (first, forced):
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.data.tags["agentflan.pipeline.stage"] for r in children) == sorted(STAGES)  # each stage once
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == first.info.run_id]
    convert = next(r for r in children if r.data.tags["agentflan.pipeline.stage"] == "convert")
    assert convert.data.params["convert.react_fraction"] == "0.1"
    assert convert.data.metrics["read"] == json.loads((repo / "metrics/convert.json").read_text())["read"]
    for child in children:  # every stage logs its time and the part of it spent in Great Expectations
        gx_s, stage_s = child.data.metrics["gx_validation_s"], child.data.metrics["stage_s"]
        validates = child.data.tags["agentflan.pipeline.stage"] in (
            "demo",
            "convert",
            "benchmark",
            "decompose",
            "balance",
            "negatives",
        )
        assert 0 < gx_s < stage_s if validates else 0 <= gx_s <= stage_s, child.data.tags["agentflan.pipeline.stage"]
    assert len({r.data.tags["agentflan.pipeline_key"] for r in parents}) == len(parents)
    assert first.data.tags["agentflan.pipeline_key"].startswith("dvc:")  # keyed by the `dvc` process that ran it
    for parent in (first, forced):  # ended by their last stage as `dvc repro` returned
        ended = client.get_run(parent.info.run_id).info
        assert ended.status == "FINISHED" and ended.end_time >= max(
            c.info.end_time for c in runs if c.data.tags.get("mlflow.parentRunId") == parent.info.run_id
        )


def test_failed_suite_stops_the_pipeline_and_keeps_the_previous_output(repo):
    before = digests(repo)
    metrics_before = (repo / "metrics/convert.json").read_text()
    suite_path = repo / "expectations/converted.json"
    original = suite_path.read_text()
    suite = json.loads(original)
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n_trainable", "min_value": 50}}
    )
    suite_path.write_text(json.dumps(suite))
    try:
        proc = run(["dvc", "repro"], repo, check=False)
    finally:
        suite_path.write_text(original)
    assert proc.returncode != 0
    assert "Data validation failed: suite 'converted'" in proc.stderr
    assert "column 'n_trainable'" in proc.stderr and "examples:" in proc.stderr
    assert "nothing published" in proc.stderr and "`dvc checkout` restores them" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((repo / "data/converted").glob(".*.tmp"))  # no half-written file left behind
    # DVC deleted convert's metrics (cache: false) before running it; the failed run put them back
    assert (repo / "metrics/convert.json").read_text() == metrics_before and "metrics/convert.json" in proc.stderr
    run(["dvc", "checkout"], repo)
    assert digests(repo) == before  # nothing lost: the last good output comes back byte for byte


def _exp_metrics(node, found):
    """Every (experiment name or rev, balance metrics) pair in `dvc exp show --json` output."""
    if isinstance(node, dict):
        metrics = (node.get("data") or {}).get("metrics") or {}
        if "metrics/balance.json" in metrics:
            found[node.get("name") or node.get("rev")] = metrics["metrics/balance.json"]["data"]
        for value in node.values():
            _exp_metrics(value, found)
    elif isinstance(node, list):
        for value in node:
            _exp_metrics(value, found)
    return found


def test_exp_run_reruns_balance_and_after_only_and_exp_show_shows_the_change(repo):
    proc = run(["dvc", "exp", "run", "-n", "reasoning-03", "-S", "mix.reasoning=0.3"], repo)
    for name in ("demo", "convert", "decompose"):  # nothing before balance runs (a run-cache checkout is no run)
        assert f"Running stage '{name}'" not in proc.stdout
        assert f"Stage '{name}' didn't change" in proc.stdout or f"Stage '{name}' is cached" in proc.stdout
    for name in ("balance", "negatives", "train", "evaluate"):
        assert f"Running stage '{name}'" in proc.stdout
    found = _exp_metrics(json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout), {})
    # the workspace now holds the applied experiment; the baseline is the commit it branched from
    base = next(v for k, v in found.items() if k not in ("workspace", "reasoning-03"))
    exp = found["reasoning-03"]
    assert exp["after"]["trainable_tokens"] < base["after"]["trainable_tokens"]  # the headline shows the change
    # the breakdown is in the details file: the workspace's (the applied experiment) against the commit's
    mine = json.loads((repo / "metrics/details/balance.json").read_text())
    theirs = json.loads(run(["git", "show", "HEAD:metrics/details/balance.json"], repo).stdout)
    assert mine["after"]["tokens"]["reasoning"] < 0.35 * theirs["after"]["tokens"]["reasoning"]
    assert mine["after"]["tokens"]["retrieval"] == theirs["after"]["tokens"]["retrieval"]
    assert abs(mine["share_error"]["reasoning"]) < 0.02
    table = run(["dvc", "exp", "show", "--no-pager", "--md"], repo).stdout
    assert "after.trainable_tokens" in table and "reasoning-03" in table
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("agentflan").experiment_id], filter_string="tags.dvc_exp_name = 'reasoning-03'"
    )
    assert {r.data.tags.get("agentflan.pipeline.stage") for r in runs} >= {"balance", "negatives"}


def test_the_elicited_form_is_an_experiment_scored_on_the_same_benchmark(repo):
    before = json.loads((repo / "metrics/details/evaluate.json").read_text())
    run(["dvc", "exp", "run", "-n", "elicited", "-S", "convert.call_style=elicited"], repo)
    try:
        after = json.loads((repo / "metrics/details/evaluate.json").read_text())
        styles = {
            json.loads(line)["style"] for line in (repo / "data/converted/conversations.jsonl").read_text().splitlines()
        }
        assert "chat" in styles and "native" not in styles
        assert (
            after["benchmark_md5"] == before["benchmark_md5"]
        )  # the same samples, whatever form the training data took
        assert after["protocol"] == "native" and set(after["by_protocol"]) == set(before["by_protocol"])
    finally:
        run(["git", "checkout", "--", "."], repo)
        run(["dvc", "checkout", "--force"], repo)


def test_bad_params_are_refused_naming_the_key(repo):
    try:
        proc = run(["dvc", "exp", "run", "-S", "mix.reasoning=-0.5"], repo, check=False)
    finally:
        run(["git", "checkout", "params.yaml"], repo)
    assert proc.returncode != 0
    assert "error: mix.reasoning: -0.5 is negative" in proc.stderr
    assert "Traceback" not in proc.stderr
    # DVC removed balance's metrics and plots (cache: false) before the refused run; they are back
    assert (repo / "metrics/balance.json").exists() and (repo / "plots/balance.json").exists()


def test_final_export_loads_with_datasets(repo):
    import datasets

    ds = datasets.load_dataset("json", data_files=str(repo / "data/final/agentflan/train.jsonl"), split="train")
    metrics = json.loads((repo / "metrics/details/negatives.json").read_text())
    assert ds.num_rows == metrics["split"]["train"] and metrics["negatives"]["no_tools"] > 0


def test_evaluate_scores_and_registers_a_loadable_version(repo):
    from transformers import AutoTokenizer

    from agentflan.pipeline.model_card import split

    metrics = json.loads((repo / "metrics/details/evaluate.json").read_text())
    built = json.loads((repo / "metrics/details/benchmark.json").read_text())
    assert metrics["samples"] == built["samples"] == sum(built["per_category"].values())
    assert metrics["benchmark_md5"] == built["md5"]
    assert set(metrics["per_category"]) >= {"plain_tools_offered", "tool_needed_offered_unseen", "format_request"}
    preds = [json.loads(line) for line in (repo / "data/eval/predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 * metrics["samples"] and all("verdict" in p for p in preds)  # native, chat, react, json
    assert metrics["protocol"] == "native" and set(metrics["by_protocol"]) == {"native", "chat", "react", "json"}
    for key in ("tool_name_accuracy_seen", "argument_accuracy", "over_refusal_rate", "hscore"):
        assert key in metrics and metrics[key] == metrics["by_protocol"]["native"][key]
    native = [p for p in preds if p["protocol"] == "native"]
    assert all(isinstance(p["tool_calls"], list) and "turns" not in p for p in native)
    rescored = json.loads(run(["agentflan", "score", "data/eval/predictions.jsonl"], repo).stdout)
    # the file alone reproduces the metrics (the calibration is of the judges on the benchmark, not of the answers)
    assert rescored == {k: v for k, v in metrics.items() if k not in ("benchmark_md5", "judge_calibration")}
    calibration = metrics["judge_calibration"]  # the judges on the benchmark's own references, every protocol
    assert calibration["plain_references"] > 0 and calibration["call_references"] > 0
    assert calibration["false_positive_rate"] <= 0.02 and calibration["false_negative_rate"] <= 0.02
    # the new metrics, recomputed by hand from the rows (sacrebleu directly, arithmetic for chance), not by the scorer
    from sacrebleu.metrics import CHRF

    single = [p for p in native if not p["category"].startswith("multi_step")]  # multi-step: its own rate only
    plain = [p for p in single if p["expected"] == "plain" and p["reference"] is not None]

    def trigrams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return set(zip(words, words[1:], words[2:]))

    # an answer that repeats no 3 words of its question is scored whole: chrF times the share of the subject named
    own = [p for p in plain if not trigrams(p["content"]) & trigrams(p["query"])]
    assert own
    by_hand = [CHRF().sentence_score(p["content"].strip(), [p["reference"].strip()]).score / 100 for p in own]
    assert all(0 <= p["verdict"]["quality"] <= round(c, 4) + 1e-4 for p, c in zip(own, by_hand))
    quality = [p["verdict"]["quality"] for p in plain]
    assert abs(metrics["plain_quality"] - sum(quality) / len(plain)) < 1e-3
    calls = [p for p in single if p["expected"] == "call"]
    assert abs(metrics["tool_name_accuracy_chance"] - sum(1 / len(p["tools"]) for p in calls) / len(calls)) < 1e-3
    multi = [p for p in native if p["category"].startswith("multi_step")]
    for p in multi:  # judged right only where, by hand, the next call is the expected one or the answer states it all
        if p["verdict"]["next_turn_right"]:
            if p["expected"] == "call":
                assert p["tool_calls"][0]["name"] == p["expected_tool"]
            else:
                assert not p["tool_calls"] and all(v.lower() in p["content"].lower() for v in p["key_values"])
    right = sum(p["verdict"]["next_turn_right"] for p in multi)
    assert multi and metrics["multi_step_accuracy"] == pytest.approx(right / len(multi), abs=1e-4)
    missing_tool = metrics["per_category"].get("tool_needed_not_offered")  # fabrication is measured there only
    assert (metrics["fabrication_rate"] is None) == (missing_tool is None), missing_tool
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    versions = client.search_model_versions("name = 'agentflan'")
    assert versions
    newest = max(versions, key=lambda v: int(v.version))
    assert float(newest.tags["hscore"]) >= 0 and newest.tags["git_commit"] and newest.tags["data.train.md5"]
    assert newest.tags["benchmark.md5"] == built["md5"]
    uri, previous = f"sqlite:///{repo / 'mlflow.db'}", mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)  # the version's source (models:/m-...) resolves on the global tracking URI
    try:
        components = mlflow.transformers.load_model(f"models:/agentflan/{newest.version}", return_type="components")
        from agentflan.pipeline.logged_model import read_card

        served, served_body = split(read_card(client, newest))  # the registered copy adds the evaluation
    finally:
        mlflow.set_tracking_uri(previous)
    assert components["model"].num_parameters() > 0
    assert (
        components["tokenizer"].chat_template == AutoTokenizer.from_pretrained(repo / "models/agentflan").chat_template
    )
    front, body = split((repo / "models/agentflan/README.md").read_text())  # the card next to the weights
    assert (
        front["library_name"] == "transformers"
        and {s["path"] for s in front["agentflan_training_data"]} >= {"data/raw/demo/toolbench.json"}
        and all(len(s["md5"]) == 32 for s in front["agentflan_training_data"])
    )
    scored = {m["type"]: m["value"] for m in served["model-index"][0]["results"][0]["metrics"]}
    assert scored["hscore"] == metrics["hscore"] and f"registered as agentflan v{newest.version}" in served_body


def test_the_saved_tokenizer_writes_a_call_and_its_response_parser_reads_it_back(repo):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(repo / "models/agentflan")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    asked = [{"role": "user", "content": "Weather in Oslo and in Paris?"}]
    calls = [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
        for city in ("Oslo", "Paris")
    ]
    prompt = tok.apply_chat_template(asked, tools=tools, add_generation_prompt=True, tokenize=False)
    full = tok.apply_chat_template(
        [*asked, {"role": "assistant", "content": "Two lookups.", "tool_calls": calls}], tools=tools, tokenize=False
    )
    assert (
        full.startswith(prompt)
        and '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in full
    )
    reply = full[
        len(prompt) : full.rindex("<|im_end|>") + len("<|im_end|>")
    ]  # as generated: up to the end-of-turn token
    parsed = tok.parse_response(reply, prefix=prompt, tools=tools)
    assert parsed["content"] == "Two lookups." and parsed["tool_calls"] == calls  # parallel calls, in order


def test_the_report_and_every_dvc_plot_render(repo, tmp_path):
    """`dvc plots show --json` reports no error for any plot; the evaluation report has its figures and is
    logged to the evaluate run."""
    shown = json.loads(run(["dvc", "plots", "show", "--json"], repo).stdout)
    assert not shown.get("errors") and len(shown["data"]) >= 6
    for name, entries in shown["data"].items():
        assert all(not e.get("errors") for e in entries), name
    from agentflan.pipeline.report import FIGURES

    page = (repo / "reports/evaluation/index.html").read_text()
    assert all(
        f'<img src="{name}"' in page and (repo / "reports/evaluation" / name).stat().st_size > 1000 for name in FIGURES
    )
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    evaluation = client.search_runs(
        [client.get_experiment_by_name("agentflan").experiment_id],
        "tags.`agentflan.pipeline.stage` = 'evaluate'",
        max_results=1,
    )[0]
    logged = {f.path for f in client.list_artifacts(evaluation.info.run_id, "report")}
    assert logged == {f"report/{name}" for name in (*FIGURES, "index.html")}
    # every answer beside its verdicts: an MLflow table in the UI, three per category in the report
    table = json.loads(
        Path(client.download_artifacts(evaluation.info.run_id, "answers.json", str(tmp_path))).read_text()
    )
    predictions = (repo / "data/eval/predictions.jsonl").read_text().splitlines()
    assert len(table["data"]) == len(predictions) and {"query", "answer", "verdict", "reference"} <= set(
        table["columns"]
    )
    categories = {json.loads(line)["category"] for line in predictions}
    assert "Answers and their verdicts" in page and all(f"<td>{c}</td>" in page for c in categories)


def test_no_benchmark_query_and_no_held_out_tool_is_trained_on(repo):
    from agentflan.data.heldout import query_key

    heldout = json.loads((repo / "data/benchmark/heldout.json").read_text())
    samples = [json.loads(x) for x in (repo / "data/benchmark/agent_h.jsonl").read_text().splitlines()]
    assert heldout["tools"] == ["search_hotels", "track_package"] and samples
    for split in ("train", "validation"):
        convs = [json.loads(x) for x in (repo / f"data/final/{split}.jsonl").read_text().splitlines()]
        queries = {query_key(next(t["content"] for t in c["turns"] if t["role"] == "user")) for c in convs}
        tools = (
            {t["name"] for c in convs for t in c["tools"]}
            | {t["call"]["name"] for c in convs for t in c["turns"] if t.get("call")}
            | {call["name"] for c in convs for t in c["turns"] for call in t.get("tool_calls", [])}
        )
        assert not tools & set(heldout["tools"])
        assert not queries & set(heldout["queries"])
        assert not queries & {query_key(s["query"]) for s in samples if s["level"] == "action"}


def test_benchmark_from_added_upstream_files(tmp_path_factory, fixtures):
    """`data.sources` adds real-format files: the benchmark's held-out tool and its query come from them."""
    import shutil

    def add_fixtures(params):
        small_demo(params)
        params["data"]["sources"] += [
            {"path": "data/raw/extra/toolbench_toolllama.json", "format": "toolbench"},
            {"path": "data/raw/extra/agentinstruct.jsonl"},
            {"path": "data/raw/extra/agentflan.jsonl"},
            {"path": "data/raw/extra/sharegpt.jsonl", "format": "sharegpt"},
        ]
        params["benchmark"]["heldout_tools"] = ["product_reviews_for_real_time_product_search", "search_hotels"]

    repo = make_project(tmp_path_factory.mktemp("extra") / "repo", add_fixtures)
    (repo / "data/raw/extra").mkdir(parents=True)
    for name in ("toolbench_toolllama.json", "agentinstruct.jsonl", "agentflan.jsonl", "sharegpt.jsonl"):
        shutil.copy(fixtures / name, repo / "data/raw/extra" / name)
    run(["dvc", "repro", "negatives"], repo)
    samples = [json.loads(x) for x in (repo / "data/benchmark/agent_h.jsonl").read_text().splitlines()]
    shoes = next(s for s in samples if "running shoes" in s["query"])
    assert shoes["category"] == "tool_needed_offered_unseen"  # its only conversation is held out: never trained on
    assert shoes["expected_tool"] == "search_for_real_time_product_search"  # the ToolBench file's tool, real schema
    assert shoes["expected_arguments"] and any(
        t["name"] == shoes["expected_tool"] and t["parameters"]["properties"] for t in shoes["tools"]
    )
    train = (repo / "data/final/train.jsonl").read_text() + (repo / "data/final/validation.jsonl").read_text()
    assert "running shoes for my sister" not in train and "product_reviews_for_real_time_product_search" not in train
    counts = json.loads((repo / "metrics/details/benchmark.json").read_text())
    assert counts["per_category"]["tool_needed_offered_unseen"] >= 1
