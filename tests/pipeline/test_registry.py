"""Promotion against a real MLflow sqlite store: a worse candidate is refused, a better one becomes
champion, `previous` points at the old one, and `models:/<name>@champion` loads a working model. The
stand-in versions log per-sample predictions whose rates are the tags they are registered with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from agentflan.config import Gate
from agentflan.pipeline.logged_model import log_model
from agentflan.pipeline.registry import BENCHMARK_TAG, CHAMPION, PREVIOUS, promote, register

from conftest import ROOT, http_server
from standins import tiny_llama


@pytest.fixture
def tiny_model_dir(tmp_path):

    from agentflan.training.tokenizer import train_bpe

    out = tmp_path / "model"
    tokenizer = train_bpe(["the weather in Oslo is cold", "hello there"] * 10, vocab_size=280)
    tiny_llama(tokenizer, layers=1, hidden=16, seed=None).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


PLAIN = CALLS = 40  # plain-expected and call-expected samples of the stand-in benchmark
MULTI = 20  # its multi-step answers, where a version is given a rate of them made up


def new_version(
    client,
    model_dir,
    hscore,
    tool_acc,
    benchmark="b1",
    over_refusal=0.05,
    plain_quality=0.3,
    fabrication=0.0,
    made_up_after_results=None,
    right_after_results=None,
):
    """A registered version whose evaluate run logged per-sample predictions matching its tags: the first
    2 * PLAIN * (1 - hscore) plain samples carry a ReAct hallucination (so a better model's set is a subset),
    the last PLAIN * over_refusal refuse, the first CALLS * tool_acc calls name the right tool."""
    mlflow.set_tracking_uri(client.tracking_uri)  # other tests may have set the global URI elsewhere
    artifacts = Path(client.tracking_uri.removeprefix("sqlite:///")).parent / "artifacts"  # beside the test's database
    exp = client.get_experiment_by_name("reg") or client.get_experiment(client.create_experiment("reg", str(artifacts)))
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        info = log_model(model_dir, "---\nlibrary_name: transformers\n---\n# stand-in\n")
    bad, refused = round(2 * PLAIN * (1 - hscore)), round(PLAIN * over_refusal)
    rows = [
        {
            "id": f"p{i}",
            "expected": "plain",
            "category": "plain_no_tools",
            "verdict": {"react": i < bad, "general": False, "refusal": i >= PLAIN - refused, "quality": plain_quality},
        }
        for i in range(PLAIN)
    ]
    rows += [
        {
            "id": f"c{i}",
            "expected": "call",
            "category": "tool_needed_offered_seen",
            "verdict": {"tool_correct": i < round(CALLS * tool_acc), "format_valid": True, "hallucinated": False},
        }
        for i in range(CALLS)
    ]
    if made_up_after_results is not None:  # the first MULTI * made_up_after_results answers after a result make up;
        # the last MULTI * right_after_results are right (by default, those that make nothing up)
        made_up = round(MULTI * made_up_after_results)
        right = MULTI - made_up if right_after_results is None else round(MULTI * right_after_results)
        rows += [
            {
                "id": f"m{i}",
                "expected": "plain",
                "category": "multi_step_answer",
                "verdict": {
                    "react": False,
                    "general": False,
                    "fabricated": i < made_up,
                    "next_turn_right": i >= MULTI - right,
                },
            }
            for i in range(MULTI)
        ]
    with mlflow.start_run(experiment_id=exp.experiment_id) as evaluation:
        mlflow.log_text("".join(json.dumps(r) + "\n" for r in rows), "predictions.jsonl")
    return register(
        client,
        "agentflan",
        info.model_uri,
        run.info.run_id,
        {
            "hscore": hscore,
            "tool_name_accuracy": tool_acc,
            "call_format_validity": tool_acc,
            "over_refusal_rate": over_refusal,
            "plain_quality": plain_quality,
            "fabrication_rate": fabrication,
            "git_commit": "abc",
            BENCHMARK_TAG: benchmark,
            "evaluate_run_id": evaluation.info.run_id,
        },
        model_id=info.model_id,
    )


def test_gate_refuses_worse_promotes_better_and_keeps_previous(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    gate = Gate(min_gain=0.0)
    v1 = new_version(client, tiny_model_dir, 0.80, 0.50)
    first = promote(client, "agentflan", gate)
    assert first.promoted and first.reason.startswith("no champion yet")
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1

    v2 = new_version(client, tiny_model_dir, 0.78, 0.50)  # HScore lower by 2 samples of 40: inside the noise
    refused = promote(client, "agentflan", gate)
    assert not refused.promoted and "is not significant" in refused.reason
    assert refused.checks["hscore.bootstrap"]["gain"] == pytest.approx(0.775 - 0.80, abs=1e-4)  # 18 of 40 samples vs 16
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1
    assert client.get_model_version("agentflan", v2).tags["promotion.decision"] == "refused"

    v3 = new_version(client, tiny_model_dir, 0.90, 0.20)  # better HScore but 12 of 40 tool choices lost
    worse = promote(client, "agentflan", gate, v3)
    assert not worse.promoted and worse.reason.startswith("worse than champion v1 beyond the 95% interval")
    assert worse.checks["tool_name_accuracy.bootstrap"]["worse"] and worse.checks["hscore.bootstrap"]["better"]

    v4 = new_version(client, tiny_model_dir, 0.90, 0.49)  # better HScore, the same tool choices (20 of 40)
    dry = promote(client, "agentflan", gate, v4, dry_run=True)
    assert dry.promoted and str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v1
    promoted = promote(client, "agentflan", gate, v4)
    assert promoted.promoted and promoted.checks["hscore.bootstrap"]["ci95"][0] > 0
    assert str(client.get_model_version_by_alias("agentflan", CHAMPION).version) == v4
    assert str(client.get_model_version_by_alias("agentflan", PREVIOUS).version) == v1
    assert client.get_model_version("agentflan", v4).tags["promotion.decision"] == "promoted"

    forced = promote(client, "agentflan", gate, v2, force=True)
    assert forced.promoted and forced.forced and forced.reason.startswith("forced despite")
    history = [
        json.loads(v)
        for k, v in client.get_model_version("agentflan", v2).tags.items()
        if k.startswith("promotion.history.")
    ]
    assert [h["promoted"] for h in sorted(history, key=lambda h: h["at"])] == [False, True]  # every decision kept
    assert all(h["at"] and h["candidate"] == v2 and "champion" in h for h in history)


def test_an_always_refusing_model_with_higher_hscore_is_refused(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    assert promote(
        client, "agentflan", Gate(), new_version(client, tiny_model_dir, 0.80, 0.5, over_refusal=0.05)
    ).promoted
    refuser = new_version(client, tiny_model_dir, 1.0, 0.5, over_refusal=1.0)  # never hallucinates: never answers
    ceiling = promote(client, "agentflan", Gate(), refuser, dry_run=True)
    assert not ceiling.promoted and ceiling.reason.startswith("over_refusal_rate.ceiling: 1.0")
    relative = promote(client, "agentflan", Gate(max_over_refusal=1.0), refuser, dry_run=True)
    assert not relative.promoted and relative.reason.startswith("worse than champion v1 beyond the 95% interval")
    assert "over_refusal_rate -0.9500" in relative.reason  # 38 more of 40 answerable samples refused


def test_gibberish_and_fabricating_models_are_never_promoted(mlflow_uri, tiny_model_dir):
    """HScore 1.0 and no refusal, but the plain answers say nothing (or the missing-tool answers are made up)."""
    client = mlflow.MlflowClient(mlflow_uri)
    gibberish = new_version(client, tiny_model_dir, 1.0, 0.5, plain_quality=0.02)
    decision = promote(client, "agentflan", Gate(), gibberish, dry_run=True)  # no champion yet: floors alone
    assert not decision.promoted and decision.reason.startswith("plain_quality.floor: 0.02")
    fabricator = new_version(client, tiny_model_dir, 1.0, 0.5, fabrication=1.0)
    decision = promote(client, "agentflan", Gate(), fabricator, dry_run=True)
    assert not decision.promoted and decision.reason.startswith("fabrication_rate.ceiling: 1.0")
    assert promote(client, "agentflan", Gate(), new_version(client, tiny_model_dir, 0.8, 0.5), dry_run=True).promoted


def test_a_model_that_makes_up_more_after_tool_results_is_refused(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    champion = new_version(client, tiny_model_dir, 0.80, 0.5, made_up_after_results=0.2)
    assert promote(client, "agentflan", Gate(), champion).promoted
    candidate = new_version(client, tiny_model_dir, 0.90, 0.5, made_up_after_results=0.8)  # better HScore
    decision = promote(client, "agentflan", Gate(), candidate, dry_run=True)
    assert not decision.promoted and decision.reason.startswith("worse than champion v1 beyond the 95% interval")
    assert decision.checks["multi_step_fabrication_rate.bootstrap"]["gain"] == -0.6  # 12 more of 20 made up
    honest = new_version(client, tiny_model_dir, 0.90, 0.5, made_up_after_results=0.2)
    assert promote(client, "agentflan", Gate(), honest, dry_run=True).promoted


def test_a_model_that_makes_up_less_by_saying_nothing_is_refused(mlflow_uri, tiny_model_dir):
    """Fewer numbers made up after tool results, because the answers state none ("Here is what I found."): the
    made-up rate gains, multi-step accuracy, its pair, falls."""
    client = mlflow.MlflowClient(mlflow_uri)
    champion = new_version(client, tiny_model_dir, 0.80, 0.5, made_up_after_results=0.5, right_after_results=0.5)
    assert promote(client, "agentflan", Gate(), champion).promoted
    silent = new_version(client, tiny_model_dir, 0.80, 0.5, made_up_after_results=0.0, right_after_results=0.0)
    decision = promote(client, "agentflan", Gate(), silent, dry_run=True)
    assert decision.checks["multi_step_fabrication_rate.bootstrap"]["better"]
    assert not decision.promoted and decision.checks["multi_step_accuracy.bootstrap"]["worse"]
    assert "multi_step_accuracy -0.5000" in decision.reason


def test_a_gain_inside_the_noise_is_not_promoted(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    assert promote(client, "agentflan", Gate(), new_version(client, tiny_model_dir, 0.80, 0.5)).promoted
    decision = promote(client, "agentflan", Gate(), new_version(client, tiny_model_dir, 0.8125, 0.5), dry_run=True)
    assert not decision.promoted and "is not significant" in decision.reason  # one sample of 40 better


def test_with_no_champion_the_best_eligible_version_is_taken(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    best = new_version(client, tiny_model_dir, 0.90, 0.5)
    new_version(client, tiny_model_dir, 0.80, 0.5)
    new_version(client, tiny_model_dir, 0.99, 0.5, over_refusal=0.9)  # highest HScore, but refuses too much
    decision = promote(client, "agentflan", Gate())
    assert decision.promoted and decision.candidate == best


def test_versions_scored_on_different_benchmarks_are_not_compared(mlflow_uri, tiny_model_dir):
    client = mlflow.MlflowClient(mlflow_uri)
    gate = Gate()
    assert promote(client, "agentflan", gate, new_version(client, tiny_model_dir, 0.70, 0.5, benchmark="b1")).promoted
    other = new_version(client, tiny_model_dir, 0.99, 0.9, benchmark="b2")  # far better, on another benchmark
    refused = promote(client, "agentflan", gate, other)
    assert not refused.promoted and "scored on benchmark b2" in refused.reason and "not comparable" in refused.reason
    assert promote(client, "agentflan", gate, other, force=True).forced


def test_champion_alias_loads_with_the_transformers_flavor(mlflow_uri, tiny_model_dir):
    import mlflow.transformers

    from agentflan.pipeline.logged_model import read_card

    client = mlflow.MlflowClient(mlflow_uri)
    new_version(client, tiny_model_dir, 0.8, 0.5)
    promote(client, "agentflan", Gate())
    components = mlflow.transformers.load_model("models:/agentflan@champion", return_type="components")
    tokenizer, model = components["tokenizer"], components["model"]
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hello"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert (
        model.generate(**ids, max_new_tokens=3, do_sample=False, min_new_tokens=3).shape[1]
        == ids["input_ids"].shape[1] + 3
    )
    champion = client.get_model_version_by_alias("agentflan", CHAMPION)
    flavor = mlflow.models.get_model_info("models:/agentflan@champion").flavors["transformers"]
    assert flavor["task"] == "text-generation" and flavor["inference_task"] == "llm/v1/chat"
    assert "promoted to champion (the first champion)" in read_card(client, champion)  # recorded in the model's card


@pytest.mark.e2e
def test_the_champion_serves_chat_messages_over_http(mlflow_uri, tiny_model_dir, tmp_path):
    """`mlflow models serve` on 127.0.0.1 (a free port, local env) answers an OpenAI-style messages request for the
    champion through its chat template, and what is registered names no local path."""
    import os
    import urllib.request

    from transformers import AutoModelForCausalLM, AutoTokenizer

    client = mlflow.MlflowClient(mlflow_uri)
    new_version(client, tiny_model_dir, 0.8, 0.5)
    promote(client, "agentflan", Gate())
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    with http_server(
        [
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/agentflan@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
        ],
        "/ping",
        tmp_path / "serve.log",
        env,
    ) as url:
        messages = [{"role": "user", "content": "the weather in Oslo"}]
        body = json.dumps({"messages": messages, "max_tokens": 6}).encode()
        request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    # an OpenAI-style chat completion whose reply is the model's own, greedy, through its chat template
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    new = model.generate(**ids, max_new_tokens=6, do_sample=False)[0, ids["input_ids"].shape[1] :]
    (completion,) = answer  # one completion per request
    (choice,) = completion["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == tokenizer.decode(new, skip_special_tokens=True).lstrip()
    assert "the weather in Oslo" not in choice["message"]["content"]  # not the prompt echoed back
    mlmodel = Path(mlflow.artifacts.download_artifacts("models:/agentflan@champion/MLmodel", dst_path=str(tmp_path)))
    flavor = yaml.safe_load(mlmodel.read_text())["flavors"]["transformers"]
    assert flavor["source_model_name"] == tiny_model_dir.name  # the folder's name, not its path on this machine
    assert str(tiny_model_dir) not in mlmodel.read_text()


def test_promote_cli(mlflow_uri, tiny_model_dir, tmp_path):
    client = mlflow.MlflowClient(mlflow_uri)
    new_version(client, tiny_model_dir, 0.8, 0.5)
    new_version(client, tiny_model_dir, 0.7, 0.5)
    params = tmp_path / "params.yaml"
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["registry"] = {"model_name": "agentflan", "gate": {"min_gain": 0.0}}
    params.write_text(yaml.safe_dump(raw))

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "agentflan.cli", "promote", *args, "--params", str(params)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = cli("1")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["promoted"] is True
    worse = cli()
    assert worse.returncode == 1 and "worse than champion v1" in json.loads(worse.stdout)["reason"]
    again = cli("1", "--dry-run")  # the champion already: nothing to do, and no error
    assert again.returncode == 0 and "already the champion" in json.loads(again.stdout)["reason"], again.stdout
    missing = cli("9")
    assert missing.returncode == 2 and "no version 9" in missing.stderr
