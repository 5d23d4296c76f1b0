"""Real-shaped files of the user's own in `data.sources`, through `dvc repro`: what the converter accepts, every
later Great Expectations suite accepts too."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, make_project, run, small_demo
from upstream_records import hallucinated_call

pytestmark = pytest.mark.e2e


def with_sources(*extra: dict):
    def update(params: dict) -> None:
        small_demo(params)
        params["data"]["sources"] += list(extra)

    return update


def test_a_toolbench_file_with_a_hallucinated_call_runs_through_dvc_repro(tmp_path):
    """ToolBench holds trajectories that call an API their own list lacks: `agentflan convert` accepted such a record
    and the `converted` suite then stopped `dvc repro`. Now the converter drops it by a named, counted rule."""
    records = json.loads((FIXTURES / "toolbench_toolllama.json").read_text())
    bad = {
        **hallucinated_call(records[-1], "get_product_reviews_for_real_time_product_search"),
        "id": "Step 6: made-up API",
    }
    repo = make_project(
        tmp_path / "repo", with_sources({"path": "data/raw/toolbench/toolllama_G1.json", "format": "toolbench"})
    )
    broken = {**records[-1], "id": "Step 7: broken", "conversations": [{"from": "robot", "value": "?"}]}
    (repo / "data/raw/toolbench").mkdir(parents=True)
    (repo / "data/raw/toolbench/toolllama_G1.json").write_text(json.dumps([*records, bad, broken]))
    run(["dvc", "repro", "decompose", "benchmark"], repo)
    metrics = json.loads((repo / "metrics/details/convert.json").read_text())
    assert metrics["dropped_by_rule"]["unoffered_tool"] == 1
    # a malformed record is quarantined in the stage's quarantine folder, naming its file, record and field
    (entry,) = [json.loads(x) for x in (repo / "data/converted/quarantine/records.jsonl").read_text().splitlines()]
    assert (entry["file"].endswith("toolllama_G1.json"), entry["record"], entry["id"]) == (
        True,
        len(records) + 2,
        broken["id"],
    )
    assert entry["field"].startswith("conversations[0]")
    assert metrics["by_source"]["toolbench"] > 1  # the demo's trajectories and the file's good one
    ids = {json.loads(line)["id"] for line in (repo / "data/converted/conversations.jsonl").read_text().splitlines()}
    assert records[-1]["id"] in ids and bad["id"] not in ids


def test_function_calling_files_of_three_formats_run_through_dvc_repro_into_the_benchmark(tmp_path, fixtures):
    import shutil

    from agentflan.data.heldout import query_key

    names = {
        "openai_messages.jsonl": "openai",
        "llamafactory_toolcall.json": "llamafactory",
        "glaive_function_calling_v2.json": "glaive",
    }

    def update(params):
        with_sources(*({"path": f"data/raw/extra/{n}", "format": f} for n, f in names.items()))(params)
        params["benchmark"].update(heldout_agent_queries=0.5, heldout_general_queries=0.5)

    repo = make_project(tmp_path / "repo", update)
    (repo / "data/raw/extra").mkdir(parents=True)
    for name in names:
        shutil.copy(fixtures / "formats" / name, repo / "data/raw/extra" / name)
    run(["dvc", "repro"], repo)
    convert = json.loads((repo / "metrics/details/convert.json").read_text())
    assert convert["quarantined"] == 0 and {"openai", "llamafactory", "glaive"} <= set(convert["by_source"])
    assert list((repo / "data/converted/quarantine").iterdir()) == []  # nothing quarantined: no empty file
    ours = {
        json.loads(line)["query"]: json.loads(line)["source"]
        for line in (repo / "data/converted/conversations.jsonl").read_text().splitlines()
        if json.loads(line)["source"] in names.values()
    }
    samples = [json.loads(line) for line in (repo / "data/benchmark/agent_h.jsonl").read_text().splitlines()]
    from_files = [s for s in samples if s["query"] in ours]
    assert {ours[s["query"]] for s in from_files} >= {
        "openai",
        "llamafactory",
        "glaive",
    }  # samples built from each file
    assert any(s["expected"] == "call" for s in from_files)  # with their own tools and arguments
    heldout = set(json.loads((repo / "data/benchmark/heldout.json").read_text())["queries"])
    trained = {
        query_key(next(t["content"] for t in c["turns"] if t["role"] == "user"))
        for split in ("train", "validation")
        for c in map(json.loads, (repo / f"data/final/{split}.jsonl").read_text().splitlines())
    }
    assert {query_key(q) for q in ours} & heldout and not trained & heldout  # held out, and never trained on
    by_source = json.loads((repo / "metrics/details/decompose.json").read_text())["by_source"]
    assert (
        by_source["glaive"]["reasoning"] == 0 and by_source["glaive"]["retrieval"] > 0
    )  # glaive calls come without thoughts
    assert json.loads((repo / "metrics/evaluate.json").read_text())["samples"] == len(samples)
