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
    bad = {**hallucinated_call(records[-1], "get_product_reviews_for_real_time_product_search"), "id": "Step 6: made-up API"}
    repo = make_project(tmp_path / "repo", with_sources({"path": "data/raw/toolbench/toolllama_G1.json", "format": "toolbench"}))
    (repo / "data/raw/toolbench").mkdir(parents=True)
    (repo / "data/raw/toolbench/toolllama_G1.json").write_text(json.dumps([*records, bad]))
    run(["dvc", "repro", "decompose", "benchmark"], repo)
    metrics = json.loads((repo / "metrics/convert.json").read_text())
    assert metrics["dropped_by_rule"]["unoffered_tool"] == 1
    assert metrics["by_source"]["toolbench"] > 1  # the demo's trajectories and the file's good one
    ids = {json.loads(line)["id"] for line in (repo / "data/converted/conversations.jsonl").read_text().splitlines()}
    assert records[-1]["id"] in ids and bad["id"] not in ids
