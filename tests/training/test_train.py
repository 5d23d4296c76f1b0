"""The train stage end to end: a loadable model, resumption after a kill, two processes, a local
base model, LoRA."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import BIN, free_port, make_project, params_restored, run, small_demo
from standins import tiny_llama

pytestmark = pytest.mark.e2e


def set_params(repo, **train):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for key, value in train.items():
        section, _, name = key.partition("__")
        if name:
            params[section][name] = value
        else:
            params["train"][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("train") / "repo", small_demo)
    run(["dvc", "repro", "negatives"], repo)
    return repo


@pytest.fixture
def repo(project):
    with params_restored(project):
        yield project


def metrics(repo):
    return json.loads((repo / "metrics/details/train.json").read_text())


def test_default_path_trains_beats_unigram_and_loads_with_plain_transformers(repo):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    set_params(repo, max_steps=150, eval_every=50)
    run([sys.executable, "stages/train.py"], repo)
    m = metrics(repo)
    assert m["val_loss"] < m["unigram_val_loss"] and m["steps"] == 150 and m["resumed_from_step"] == 0
    assert m["data"]["padding_fraction"] < 0.5 and m["data"]["trainable_tokens"] > 0
    model_dir = repo / "models/agentflan"
    assert (model_dir / "model.safetensors").exists() and not list(model_dir.glob("*.bin"))
    assert not (repo / ".agentflan/checkpoints").exists() or not any((repo / ".agentflan/checkpoints").iterdir())

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
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
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What's the weather in Oslo?"}],
        tools=tools,
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    reply = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert out.shape[1] > ids["input_ids"].shape[1] and isinstance(reply, str)
    assert "get_weather" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tools=tools, tokenize=False
    )


def test_identical_inputs_give_identical_weights(repo):
    import hashlib

    set_params(repo, max_steps=12, eval_every=6, checkpoint_every=6)
    digests = []
    for _ in range(2):  # two processes: the tokenizer, the initial weights and the data order all follow train.seed
        run([sys.executable, "stages/train.py"], repo)
        digests.append(hashlib.sha256((repo / "models/agentflan/model.safetensors").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_killed_run_resumes_from_its_last_checkpoint(repo):
    set_params(repo, max_steps=400, checkpoint_every=5, eval_every=200, keep_checkpoints=2)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "stages/train.py"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 180
    checkpoints = repo / ".agentflan/checkpoints"
    while time.time() < deadline and proc.poll() is None:
        if checkpoints.exists() and any(
            p.name.startswith("step_") and not p.name.endswith(".tmp") for p in checkpoints.glob("*/*")
        ):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = sorted(p.name for p in checkpoints.glob("*/step_*") if not p.name.endswith(".tmp"))
    assert saved, "no checkpoint survived the kill"
    rerun = run([sys.executable, "stages/train.py"], repo)
    assert "resuming from checkpoint step_" in rerun.stdout + rerun.stderr
    m = metrics(repo)
    assert 5 <= m["resumed_from_step"] < 400 and m["resumed_from_step"] % 5 == 0 and m["steps"] == 400


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(repo):
    import hashlib
    import shutil

    set_params(repo, max_steps=60, checkpoint_every=10, eval_every=30, keep_checkpoints=2)
    weights = repo / "models/agentflan/model.safetensors"
    checkpoints = repo / ".agentflan/checkpoints"
    shutil.rmtree(checkpoints, ignore_errors=True)
    run([sys.executable, "stages/train.py"], repo)
    uninterrupted = hashlib.sha256(weights.read_bytes()).hexdigest()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "stages/train.py"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if any(p.name.startswith("step_") and not p.name.endswith(".tmp") for p in checkpoints.glob("*/*")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = run([sys.executable, "stages/train.py"], repo)
    assert "resuming from checkpoint step_" in rerun.stdout + rerun.stderr and metrics(repo)["resumed_from_step"] > 0
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == uninterrupted


def test_accelerate_launch_two_processes_writes_a_loadable_model(repo):
    """Two CPU processes (gloo DDP). accelerate 1.15 runs `--cpu --num_processes 2` as ONE process
    unless MPI is installed (its multi-CPU path is mpirun); `--multi_gpu` is its torchrun path, and
    on a machine without CUDA our Accelerator(cpu=True) turns that into multi-CPU DDP."""
    from transformers import AutoModelForCausalLM

    set_params(repo, max_steps=6)
    run(
        [
            "accelerate",
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(free_port()),
            "stages/train.py",
        ],
        repo,
    )
    m = metrics(repo)
    assert m["processes"] == 2 and m["steps"] == 6
    assert AutoModelForCausalLM.from_pretrained(repo / "models/agentflan").num_parameters() == m["parameters"]


def test_the_fsdp_config_on_two_cpu_processes_trains_the_weights_of_one_process(repo, tmp_path):
    """configs/accelerate/fsdp.yaml (FSDP2, full shard, decoder-layer wrap, activation checkpointing) with only
    the machine changed: two CPU processes give the weights one process gives (token-weighted loss, global batches)."""
    import torch
    from safetensors.torch import load_file

    from conftest import ROOT

    set_params(repo, max_steps=4)
    run([sys.executable, "stages/train.py"], repo)
    alone = load_file(repo / "models/agentflan/model.safetensors")
    config = yaml.safe_load((ROOT / "configs/accelerate/fsdp.yaml").read_text())
    config.update(num_processes=2, use_cpu=True, mixed_precision="no")  # the machine, nothing else
    (tmp_path / "fsdp_cpu.yaml").write_text(yaml.safe_dump(config))
    run(
        [
            "accelerate",
            "launch",
            "--config_file",
            str(tmp_path / "fsdp_cpu.yaml"),
            "--main_process_port",
            str(free_port()),
            "stages/train.py",
        ],
        repo,
    )
    assert metrics(repo)["processes"] == 2
    sharded = load_file(repo / "models/agentflan/model.safetensors")
    assert sharded.keys() == alone.keys()
    for name, weight in alone.items():
        torch.testing.assert_close(sharded[name], weight, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    from conftest import ROOT

    config = load_config_from_file(str(ROOT / "configs/accelerate" / f"{name}.yaml"))
    assert config.num_processes == 8 and config.mixed_precision == "bf16"
    if name == "fsdp":
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    if name.startswith("deepspeed"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])


def test_a_local_base_model_is_loaded_with_from_pretrained(repo, tmp_path):
    from transformers import AutoModelForCausalLM

    from agentflan.training.tokenizer import train_bpe

    base = tmp_path / "base-model"
    tokenizer = train_bpe(["a local base model for the test", "hello world"] * 20, vocab_size=300)
    tokenizer.chat_template = None  # a base model's own tokenizer: our template gets attached
    tiny_llama(tokenizer, layers=1, seed=None).save_pretrained(base)
    tokenizer.save_pretrained(base)
    set_params(repo, max_steps=3, model__base=str(base))
    run([sys.executable, "stages/train.py"], repo)
    out = AutoModelForCausalLM.from_pretrained(repo / "models/agentflan")
    assert out.config.num_hidden_layers == 1 and out.config.vocab_size == len(tokenizer)


def test_lora_trains_and_saves_a_merged_plain_model(repo):
    from transformers import AutoModelForCausalLM

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["lora"]["enabled"] = True
    params["train"]["max_steps"] = 4
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, "stages/train.py"], repo)
    model_dir = repo / "models/agentflan"
    assert not (model_dir / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    # the adapters were trained and merged: against the base the stage started from (same seed, same tokenizer
    # corpus), exactly the target modules moved (and embedding rows of added tokens); the MLPs are untouched
    import torch
    from accelerate.utils import set_seed

    from agentflan.config import load_params
    from agentflan.data.jsonio import read_conversations
    from agentflan.training.chat_template import chatml_text
    from agentflan.training.model import load_model_and_tokenizer

    p = load_params(repo / "params.yaml")
    set_seed(p.train.seed)
    texts = (chatml_text(c) for c in read_conversations(repo / p.paths.train))
    base, _, _ = load_model_and_tokenizer(p.model, texts, p.train.lora)
    initial = dict(base.named_parameters())
    moved = {n for n, w in model.named_parameters() if not torch.equal(w, initial[n])}
    assert {n for n in moved if "q_proj" in n} and {n for n in moved if "v_proj" in n}, moved
    assert all(any(t in n for t in ("q_proj", "v_proj", "embed_tokens")) for n in moved), moved
