"""Promotion against a real MLflow sqlite store: a worse candidate is refused, a better one becomes
champion, `previous` points at the old one, and `models:/<name>@champion` loads a working model."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pytest
import yaml
from conftest import ROOT

from agentflan.config import Gate
from agentflan.pipeline.registry import CHAMPION, PREVIOUS, promote, register


@pytest.fixture
def tiny_model_dir(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from agentflan.training.tokenizer import train_bpe

    out = tmp_path / "model"
    tokenizer = train_bpe(["the weather in Oslo is cold", "hello there"] * 10, vocab_size=280)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def new_version(client, model_dir, hscore, tool_acc):
    mlflow.set_tracking_uri(client.tracking_uri)  # other tests may have set the global URI elsewhere
    exp = client.get_experiment_by_name("reg") or client.get_experiment(client.create_experiment("reg"))
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        mlflow.log_artifacts(str(model_dir), "model")
    return register(client, "agentflan", f"runs:/{run.info.run_id}/model", run.info.run_id,
                    {"hscore": hscore, "tool_name_accuracy": tool_acc, "git_commit": "abc"})


def test_gate_refuses_worse_promotes_better_and_keeps_previous(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    gate = Gate(min_hscore_gain=0.0, tool_accuracy_tolerance=0.02)
    v1 = new_version(client, tiny_model_dir, 0.80, 0.50)
    first = promote(client, "agentflan", gate)
    assert first.promoted and first.reason == "no champion yet"
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1

    v2 = new_version(client, tiny_model_dir, 0.78, 0.60)  # worse HScore
    refused = promote(client, "agentflan", gate)
    assert not refused.promoted and "does not beat champion" in refused.reason
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1
    assert client.get_model_version("agentflan", v2).tags["promotion.decision"] == "refused"

    v3 = new_version(client, tiny_model_dir, 0.90, 0.45)  # better HScore but tool accuracy drops by 0.05
    assert not promote(client, "agentflan", gate, v3).promoted

    v4 = new_version(client, tiny_model_dir, 0.90, 0.49)  # better, tool accuracy within tolerance
    dry = promote(client, "agentflan", gate, v4, dry_run=True)
    assert dry.promoted and str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1
    assert promote(client, "agentflan", gate, v4).promoted
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v4
    assert str(client.get_model_version_by_alias("agentflan", PREVIOUS).version) == v1
    assert client.get_model_version("agentflan", v4).tags["promotion.decision"] == "promoted"

    forced = promote(client, "agentflan", gate, v2, force=True)
    assert forced.promoted and forced.forced and forced.reason.startswith("forced despite")


def test_champion_alias_loads_a_working_model(mlflow_uri, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    client = mlflow.MlflowClient(mlflow_uri)
    new_version(client, tiny_model_dir, 0.8, 0.5)
    promote(client, "agentflan", Gate())
    local = mlflow.artifacts.download_artifacts("models:/agentflan@champion", dst_path=str(tmp_path / "dl"),
                                                registry_uri=mlflow_uri)
    tokenizer = AutoTokenizer.from_pretrained(local)
    model = AutoModelForCausalLM.from_pretrained(local)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    assert model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == ids["input_ids"].shape[1] + 3


def test_promote_cli(mlflow_uri, tiny_model_dir, tmp_path):
    client = mlflow.MlflowClient(mlflow_uri)
    new_version(client, tiny_model_dir, 0.8, 0.5)
    new_version(client, tiny_model_dir, 0.7, 0.5)
    params = tmp_path / "params.yaml"
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["registry"] = {"model_name": "agentflan", "gate": {"min_hscore_gain": 0.0, "tool_accuracy_tolerance": 0.02}}
    params.write_text(yaml.safe_dump(raw))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "agentflan.cli", "promote", *args, "--params", str(params)],
                              capture_output=True, text=True, timeout=120)

    first = cli("1")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["promoted"] is True
    worse = cli()
    assert worse.returncode == 1 and "does not beat champion" in json.loads(worse.stdout)["reason"]
    missing = cli("9")
    assert missing.returncode == 2 and "no version 9" in missing.stderr
