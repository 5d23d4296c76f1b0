"""scripts/ablations_device.py, the claims' runs on a GPU machine without DVC, on the small demo: `prepare` writes
each variant's split through DVC and checks that the split it builds in one process for another mix is the stages'
(the suggested mix's, on the GPU machine); `run` trains every variant and seed, the suggested mix from the default's
first run; `table` reads them back into the claims' table."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import pytest

from agentflan.config import load_params
from agentflan.pipeline import experiments

from conftest import ROOT, make_project, run, small_demo

sys.path.insert(0, str(ROOT / "scripts"))
import ablations_device  # noqa: E402

pytestmark = pytest.mark.e2e

SMALL = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64, "num_hidden_layers": 2}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("ablations") / "repo", small_demo)
    run(["dvc", "repro", "negatives"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "data"], repo)  # its dvc.lock: a clone's unchanged stages come from the cache
    return repo


@pytest.fixture(scope="module")
def bundle(project, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    # raises if final_split's paper mix is not the stages' to the byte (the default and the paper mix: always made)
    ablations_device.prepare(folder, project, ["no-negatives"])
    return folder


def test_prepare_writes_every_variant_through_dvc(project, bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    names = ["default", "paper-mix", "no-negatives"]
    assert list(manifest["variants"]) == names
    default = gzip.decompress((bundle / "default" / "train.jsonl.gz").read_bytes())
    assert default == (project / "data/final/train.jsonl").read_bytes()  # the project's own split: HEAD's
    trains = {name: (bundle / name / "train.jsonl.gz").read_bytes() for name in names}
    assert len({gzip.decompress(data) for data in trains.values()}) == len(names)  # each variant its own split
    assert (bundle / "default" / "decomposed.jsonl.gz").exists()
    assert not (bundle / "no-negatives" / "decomposed.jsonl.gz").exists()


def test_final_split_is_checked_against_a_changed_stage(project, bundle, tmp_path):
    """The check `prepare` makes can fail: the paper mix built from the default's decomposed corpus with another
    retrieval weight is not the stages' paper-mix split."""
    source = tmp_path / "default"
    ablations_device.unpack(bundle, tmp_path, "default")
    params = load_params(bundle / "params.yaml")
    other = ablations_device.final_split(
        source / "decomposed.jsonl", source / "heldout.json", {"mix.retrieval": 0.3, "mix.understanding": 0.75}, params
    )
    paper = json.loads((bundle / "manifest.json").read_text())["variants"]["paper-mix"]["md5"]
    assert ablations_device.md5(other["train.jsonl"]) != paper["train.jsonl"]


def test_runs_every_variant_and_seed_and_tables_them(bundle, tmp_path, monkeypatch):
    out = tmp_path / "out"
    for key, value in {**SMALL, "batch_tokens": 2048}.items():
        monkeypatch.setitem(ablations_device.GPU, key, value)

    ablations_device.run(bundle, out, 900, 2, 6, ["default", "no-negatives", experiments.SUGGESTED])

    lines = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    names = {r["name"] for r in lines}
    assert names == {f"{v}-s{s}" for v in ("default", "no-negatives", "suggested-mix") for s in (0, 1, 2)}
    default0 = next(r for r in lines if r["name"] == "default-s0")
    assert all(r["config"]["max_steps"] == 6 and r["config"]["hidden_size"] == 32 for r in lines)
    suggested = [r for r in lines if r["variant"] == experiments.SUGGESTED]
    assert all(r["config"]["mix"] == experiments.suggested_overrides(default0) for r in suggested)
    assert all(r["rows"] and {row["protocol"] for row in r["rows"]} == {"native"} for r in lines)

    ablations_device.table(out / "runs.jsonl", tmp_path / "table", "bc")
    summary = json.loads((tmp_path / "table.json").read_text())
    c = summary["claims"]["c"]["variants"]
    assert c["default"]["seeds"] == c["no-negatives"]["seeds"] == [0, 1, 2]
    assert "vs_default" in c["no-negatives"]["hscore"] and "vs_default" not in c["default"]["hscore"]
    b = summary["claims"]["b"]
    assert b["variants"]["suggested-mix"]["overrides"] == suggested[0]["config"]["mix"]
    assert b["variants"]["paper-mix"]["seeds"] == [] and b["verdict"] == "not measured"
    assert (tmp_path / "table.md").read_text().startswith("CPU: cpu;")


def test_a_failed_prepare_leaves_the_bundle_and_unpack_checks_each_file(bundle, tmp_path):
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    before = (copy / "manifest.json").read_bytes()
    (tmp_path / "no-repository").mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        ablations_device.prepare(copy, tmp_path / "no-repository")  # fails while it stages: git finds no HEAD
    assert (copy / "manifest.json").read_bytes() == before and not (tmp_path / ".bundle.partial").exists()

    (copy / "default" / "train.jsonl.gz").write_bytes(gzip.compress(b'{"id": "changed"}\n'))
    with pytest.raises(SystemExit, match=r"default/train\.jsonl\.gz: md5 .*, the manifest says"):
        ablations_device.unpack(copy, tmp_path / "unpacked", "default")


def test_table_takes_knowledge_flags_from_the_benchmark(tmp_path):
    """Runs made before the benchmark marked the samples a model can answer from knowledge lack the flag: `table
    --benchmark` takes each sample's from the benchmark file, so a right definition asked with no tool offered is no
    fabrication there; a sample that file does not hold with the same query stops the table."""
    question = "What does 'petrichor' mean?"
    rows = [
        {
            "id": "tool_needed_not_offered_1",
            "category": "tool_needed_not_offered",
            "tools": [],
            "expected": "plain",
            "response": "Petrichor is the earthy smell of rain falling on dry soil, 42 percent of the time.",
            "protocol": "native",
            "query": question,
        }
    ]
    line = {
        "name": "default-s0",
        "variant": "default",
        "seed": 0,
        "config": {"max_steps": 6},
        "commit": "0" * 40,
        "device": "cpu",
        "train_s": 1.0,
        "rows": rows,
    }
    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps(line) + "\n")
    sample = {"id": "tool_needed_not_offered_1", "category": "tool_needed_not_offered", "query": question}
    benchmark = tmp_path / "agent_h.jsonl"

    def fabrication(flagged: bool) -> float:
        benchmark.write_text(json.dumps({**sample, "from_knowledge": True} if flagged else sample) + "\n")
        ablations_device.table(runs, tmp_path / "table", "c", benchmark)
        summary = json.loads((tmp_path / "table.json").read_text())
        return summary["claims"]["c"]["variants"]["default"]["fabrication_rate"]["per_seed"]

    assert fabrication(flagged=False) == [1.0]  # a made-up figure about the query's subject, judged as before
    assert fabrication(flagged=True) == []  # answerable from knowledge: no fabrication judged, no rate to give
    assert ablations_device.knowledge_flags(rows, benchmark, "default-s0")[0]["from_knowledge"] is True
    assert "from_knowledge" in (tmp_path / "table.md").read_text().splitlines()[0]
    benchmark.write_text(json.dumps({**sample, "query": "Define petrichor."}) + "\n")
    with pytest.raises(SystemExit, match="tool_needed_not_offered_1"):
        ablations_device.table(runs, tmp_path / "table", "c", benchmark)
