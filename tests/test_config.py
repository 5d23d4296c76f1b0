"""params.yaml enters the code in one place: typed sections, every bad value refused naming its key."""

from __future__ import annotations

import pytest
import yaml

from agentflan.config import SOURCE_FORMATS, ConvertConfig, Mix, Params, ParamsError, load_params, parse
from agentflan.data.formats import FORMATS
from agentflan.data.schema import CAPABILITIES

from conftest import ROOT


def project_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_are_valid_and_typed():
    params = load_params(ROOT / "params.yaml")
    assert params.negatives.enabled is True
    assert params.train.lora.target_modules == ["q_proj", "v_proj"]
    assert params.paths["model"].as_posix() == "models/agentflan"
    assert params.data.sources[0].format == "toolbench"


def test_sections_mirror_the_code():
    assert tuple(Mix.model_fields) == CAPABILITIES
    assert set(SOURCE_FORMATS) == {"auto", *FORMATS}
    assert set(Params.model_fields) == set(project_params())


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("negatives", {"no_tools": 1.5}, r"negatives\.no_tools: 1\.5 is not a fraction between 0 and 1"),
        ("negatives", {"val_fraction": -0.1}, r"negatives\.val_fraction"),
        ("negatives", {"enabled": "yes"}, r"negatives\.enabled: .*got 'yes'"),
        ("mix", {"reasoning": -0.5}, r"mix\.reasoning: -0\.5 is negative"),
        ("mix", {"retrieval": 1.5}, r"mix\.retrieval: 1\.5 is above 1"),
        ("mix", {"general": "all"}, r"mix\.general"),
        ("mix", {"memory": 0.2}, r"mix\.memory: unknown key \(known: general, instruction_following, reasoning"),
        ("mix", {"reasoning": float("nan")}, r"mix\.reasoning: a finite number expected"),
        ("train", {"lr": float("inf")}, r"train\.lr: a finite number expected"),
        ("train", {"max_steps": 0}, r"train\.max_steps: 0 is below 1"),
        ("train", {"batch_tokens": 8}, r"train\.batch_tokens: must hold at least one row"),
        ("train", {"mixed_precision": "fp8"}, r"train\.mixed_precision: 'fp8' is not one of"),
        ("train", {"lora": {"rank": 8}}, r"train\.lora\.rank: unknown key"),
        ("convert", {"react_fraction": "lots"}, r"convert\.react_fraction"),
        ("convert", {"reactfraction": 0.1}, r"convert\.reactfraction: unknown key"),
        ("convert", {"format_samples": -1}, r"convert\.format_samples: -1 must not be negative"),
        ("model", {"tiny": {"hidden_size": 130}}, r"model\.tiny\.num_attention_heads: must divide"),
        ("benchmark", {"per_category": 0}, r"benchmark\.per_category"),
        ("benchmark", {"heldout_agent_queries": 1.5}, r"benchmark\.heldout_agent_queries: 1\.5 is not a fraction"),
        ("eval", {"agent_h": {"per_category": 2}}, r"eval\.agent_h: unknown key"),
        (
            "eval",
            {"benchmark": "/home/me/bench.jsonl"},
            r"eval\.benchmark: '/home/me/bench\.jsonl' is not under data/raw/",
        ),
        ("eval", {"benchmark": "data/raw/../bench.jsonl"}, r"eval\.benchmark: .* is not under data/raw/"),
        ("eval", {"benchmark": "bench/agent_h.jsonl"}, r"eval\.benchmark: .* DVC would not see a change"),
        ("registry", {"gate": {"min_hscore_gain": -1}}, r"registry\.gate\.min_hscore_gain"),
        ("data", {"sources": []}, r"data\.sources"),
        (
            "data",
            {"sources": [{"path": "x.jsonl", "format": "csv"}]},
            r"data\.sources\[0\]\.format: 'csv' is not one of",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(section, values, message):
    raw = project_params()
    raw[section] = {**raw[section], **values}
    with pytest.raises(ParamsError, match=message):
        parse(Params, raw)


def test_a_section_parses_alone_and_sources_take_plain_paths():
    assert parse(ConvertConfig, {"react_fraction": 1}, "convert").react_fraction == 1.0
    with pytest.raises(ParamsError, match=r"^convert\.react_fraction: 1\.5 is not a fraction"):
        parse(ConvertConfig, {"react_fraction": 1.5}, "convert")
    raw = project_params()
    raw["data"]["sources"] = ["data/raw/x.jsonl"]
    assert parse(Params, raw).data.sources[0].format == "auto"


def test_unreadable_or_broken_params_file(tmp_path):
    with pytest.raises(ParamsError, match="No such file"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("mix: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
