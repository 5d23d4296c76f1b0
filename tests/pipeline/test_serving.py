"""Models served the way agents call them: `agentflan serve` runs `transformers serve` on the registered champion, an
OpenAI client sends the user's message and the tools, and `tool_calls` come back; the benchmark scored through a
server (`agentflan evaluate --endpoint`, `eval.endpoint`) gives the in-process native protocol's verdicts."""

from __future__ import annotations

import json
import os
import random
import time

import mlflow
import pytest
import yaml

from agentflan.config import BenchmarkConfig, TinyConfig, TrainConfig
from agentflan.data.heldout import choose
from agentflan.data.jsonio import write_jsonl
from agentflan.data.schema import Conversation, Turn
from agentflan.evaluation.benchmark import MULTI_STEP, build
from agentflan.evaluation.generation import predictions, run_native
from agentflan.evaluation.scoring import judge, score

from conftest import BIN, free_port, http_server, make_project, run, small_demo
from recipe_helpers import labelled_corpus

pytestmark = pytest.mark.e2e
SECRET = "sk-agentflan-test-0123456789abcdef"


def server_env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def verdict_key(v: dict) -> tuple:
    return tuple(
        sorted(
            (k, v[k])
            for k in ("react", "general", "tool_correct", "format_valid", "hallucinated", "args_correct")
            if k in v
        )
    )


@pytest.fixture(scope="module")
def memorized(tmp_path_factory):
    """A tiny model trained (with this project's loop) on the benchmark's own queries until it answers them: the calls
    of the call samples, plain text for the rest; registered as the champion of a fresh MLflow store in `root`."""
    import torch

    from agentflan.pipeline.logged_model import log_model
    from agentflan.pipeline.registry import CHAMPION, register
    from agentflan.training.chat_format import ChatFormat
    from agentflan.training.chat_template import chatml_text
    from agentflan.training.loop import train
    from agentflan.training.model import build_tiny, save_model
    from agentflan.training.packing import encode, pack
    from agentflan.training.tokenizer import train_bpe

    root = tmp_path_factory.mktemp("served")
    corpus = labelled_corpus()
    cfg = BenchmarkConfig(heldout_tools=["search_hotels", "track_package"], per_category=6)
    samples, _ = build(corpus, choose(corpus, cfg), cfg)
    # single-turn samples only: `transformers serve` 5.24 drops the content of an assistant message that carries
    # tool_calls (its chat_completion.py), so a multi-step history reaches it without the thoughts the in-process
    # prompt keeps, and the two prompts differ by design (the default model: 13 of 40 multi-step verdicts alike)
    samples = [s for s in samples if s.category not in MULTI_STEP]
    answers = [
        Turn("assistant", "", loss=True, part="thought", tool_calls=[_call(s)])
        if s.expected == "call"
        else Turn("assistant", f"A plain answer, number {i}.", loss=True, part="chat")
        for i, s in enumerate(samples)
    ]
    convs = [
        Conversation(f"m{i}", "test", "agent", "native", [Turn("user", s.query), a], s.tools, s.query)
        for i, (s, a) in enumerate(zip(samples, answers))
    ] * 4
    random.Random(0).shuffle(convs)
    tokenizer = train_bpe((chatml_text(c) for c in convs), vocab_size=1024)
    fmt = ChatFormat.of(tokenizer)
    data = pack((encode(fmt, c) for c in convs), 1024, tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = build_tiny(
        tokenizer,
        TinyConfig(
            vocab_size=1024,
            hidden_size=96,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=192,
            max_position_embeddings=1024,
        ),
    )
    train_cfg = TrainConfig(
        max_length=1024,
        batch_tokens=4096,
        max_steps=250,
        lr=0.005,
        warmup_steps=10,
        eval_every=250,
        checkpoint_every=1000,
        mixed_precision="no",
    )
    _, model, _ = train(model, data, data, train_cfg, root / "ckpt", echo=lambda s: None)
    save_model(model, tokenizer, root / "model", fmt.end_of_turn_ids)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)  # log_model logs into the active run of the global store: this test's, for now
    try:
        experiment = client.create_experiment("served", (root / "mlartifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment) as logged:
            info = log_model(root / "model", "---\nlibrary_name: transformers\n---\n# memorized test model\n")
    finally:  # later tests' `dvc repro` subprocesses must not track into this store
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            mlflow.set_tracking_uri(previous)
    version = register(client, "agentflan", info.model_uri, logged.info.run_id, {}, model_id=info.model_id)
    client.set_registered_model_alias("agentflan", CHAMPION, version)
    return root, samples


def _call(sample):
    from agentflan.data.schema import ToolCall

    return ToolCall(sample.expected_tool, {k: v[0] for k, v in sample.expected_arguments.items()})


def test_the_champion_served_answers_tool_calls_with_the_in_process_verdicts(memorized, tmp_path):
    from openai import OpenAI
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, samples = memorized
    model_dir = root / "model"
    local = predictions(
        samples,
        run_native(
            AutoModelForCausalLM.from_pretrained(model_dir).eval(),
            AutoTokenizer.from_pretrained(model_dir),
            samples,
            64,
            8,
        ),
        "native",
    )
    called = [(s, p) for s, p in zip(samples, local) if p.tool_calls]
    assert len(called) >= 5, "the memorized model makes its calls in process"
    with http_server(
        [str(BIN / "agentflan"), "serve", "--host", "127.0.0.1", "--port", "{port}", "--device", "cpu"],
        "/health",
        tmp_path / "serve.log",
        env=server_env(),
        cwd=root,
    ) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="none")
        for sample, p in called[
            :5
        ]:  # as an agent framework asks: the user's message and the tools, no system prompt of ours
            reply = client.chat.completions.create(
                model="agentflan",
                messages=[{"role": "user", "content": sample.query}],
                tools=[t.to_openai() for t in sample.tools],
                temperature=0,
                max_tokens=64,
            )
            message = reply.choices[0].message
            assert reply.choices[0].finish_reason == "tool_calls"
            assert [c.function.name for c in message.tool_calls] == [c["name"] for c in p.tool_calls]
            assert message.tool_calls[0].function.name in {t.name for t in sample.tools}
            assert [json.loads(c.function.arguments) for c in message.tool_calls] == [
                c["arguments"] for c in p.tool_calls
            ]

        benchmark = tmp_path / "benchmark.jsonl"
        with open(benchmark, "wb") as f:
            write_jsonl(f, (s.to_dict() for s in samples))
        out = tmp_path / "served.jsonl"
        proc = run(
            [
                "agentflan",
                "evaluate",
                "--endpoint",
                f"{url}/v1",
                "--model",
                "agentflan",
                "--benchmark",
                str(benchmark),
                "--out",
                str(out),
            ],
            root,
        )
    metrics = json.loads(proc.stdout)
    assert metrics["protocol"] == "native" and metrics["samples"] == len(samples)
    in_process = score(local)
    for key in ("hscore", "call_format_validity", "tool_name_accuracy"):  # one scorer, the same calls: the same figures
        assert metrics[key] == pytest.approx(in_process[key], abs=0.05), key
    through_server = [json.loads(line) for line in out.read_text().splitlines()]
    same = sum(verdict_key(row["verdict"]) == verdict_key(judge(p)) for row, p in zip(through_server, local))
    assert same / len(samples) >= 0.95, (same, len(samples))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("endpoint") / "repo", small_demo)
    run(["dvc", "repro"], repo)
    return repo


def test_the_pipeline_scores_a_server_beside_its_model_and_never_writes_its_key(repo, tmp_path):
    # the pipeline's own model, served under its folder's name, stands in for any server (a base, a hosted model)
    with http_server(
        [str(BIN / "transformers"), "serve", "agentflan", "--host", "127.0.0.1", "--port", "{port}", "--device", "cpu"],
        "/health",
        tmp_path / "serve.log",
        env=server_env(),
        cwd=repo / "models",
    ) as url:
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["eval"].update(endpoint=f"{url}/v1", endpoint_model="agentflan")
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        stage = run(["dvc", "repro", "evaluate"], repo, env={"OPENAI_API_KEY": SECRET})
    metrics = json.loads((repo / "metrics/details/evaluate.json").read_text())
    comparison = metrics["comparison"]
    assert set(comparison) == {"this model", "agentflan"}
    assert comparison["this model"]["hscore"] == metrics["hscore"]
    assert comparison["agentflan"]["hscore"] == pytest.approx(metrics["hscore"], abs=0.05)  # the same model, served
    assert SECRET not in stage.stdout + stage.stderr
    leaked = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts and SECRET.encode() in p.read_bytes()]
    assert leaked == []


def test_an_unreachable_endpoint_fails_in_seconds_with_one_line(tmp_path):
    from agentflan.evaluation.benchmark import Sample

    (tmp_path / "b.jsonl").write_text(
        json.dumps(Sample("s1", "plain_no_tools", "action", "Hi!", [], "plain").to_dict()) + "\n"
    )
    started = time.perf_counter()
    proc = run(
        [
            "agentflan",
            "evaluate",
            "--endpoint",
            f"http://127.0.0.1:{free_port()}/v1",
            "--model",
            "x",
            "--benchmark",
            str(tmp_path / "b.jsonl"),
        ],
        tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and time.perf_counter() - started < 20
    assert proc.stderr.startswith("error: http://127.0.0.1:") and "unreachable" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
