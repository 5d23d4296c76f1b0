"""Bring your own model: stand-in Llama-3-style and Qwen-style base models, built in the test, go through
`dvc repro train evaluate` in their own chat format, and LoRA trains the rows of tokens it adds."""

from __future__ import annotations

import json
import sys

import mlflow
import pytest
import yaml

from agentflan.data.jsonio import read_conversations
from agentflan.pipeline.model_card import split
from agentflan.pipeline.project import folder_sha256
from agentflan.training.chat_template import chatml_text

from conftest import make_project, params_restored, run, small_demo
from standins import save_standin

pytestmark = pytest.mark.e2e
END_OF_TURN = {"llama3": "<|eot_id|>", "qwen": "<|im_end|>"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = make_project(tmp_path_factory.mktemp("base") / "repo", small_demo)
    run(["dvc", "repro", "benchmark", "negatives"], repo)
    return repo


@pytest.fixture
def repo(project):
    with params_restored(project):
        yield project


def standin(repo, kind, dest):
    texts = [chatml_text(c) for c in read_conversations(repo / "data/final/train.jsonl")]
    return save_standin(kind, dest, texts, vocab_size=1024)


def set_params(repo, **sections):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in sections.items():
        for key, value in values.items():
            target = params[section]
            *parents, leaf = key.split(".")
            for p in parents:
                target = target[p]
            target[leaf] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


FRAME = set('<tool_call>{"name": "", "arguments": }</tool_call><|im_end|>\n ')


def assert_pieces_learned_as_marked(conv, trained: str) -> None:
    """Every learned piece is in the labels, in order; a masked call piece is not (unless a learned one has the same
    text); what is left is the template's text (Qwen2.5's call markers and end-of-turn token)."""
    rest, cursor = trained, 0
    for turn in conv.turns:
        for piece in (p for p in turn.pieces() if turn.trainable):
            text = piece.text.strip()
            if piece.loss:
                at = rest.find(text, cursor)
                assert at >= 0, (conv.id, piece.key, text)
                rest, cursor = rest[:at] + rest[at + len(text) :], at
            elif piece.key != "content":
                assert text not in trained or text in "".join(
                    p.text for t in conv.turns for p in t.pieces() if p.loss
                ), (conv.id, piece.key)
    assert set(rest) <= FRAME, (conv.id, rest)


@pytest.mark.parametrize(("kind", "call_style"), [("llama3", "elicited"), ("qwen", "native")])
def test_a_base_model_trains_evaluates_and_registers_in_its_own_chat_format(repo, tmp_path, kind, call_style):
    """Llama 3's template writes no tool calls: it trains on the elicited form; Qwen2.5's writes them: native."""
    from transformers import AutoTokenizer, GenerationConfig

    from agentflan.training.chat_format import ChatFormat
    from agentflan.training.packing import IGNORE, encode

    base = standin(repo, kind, tmp_path / kind)
    set_params(
        repo,
        model={"base": str(base)},
        train={"max_steps": 4, "max_length": 1024, "batch_tokens": 2048},
        eval={"max_new_tokens": 8},
        convert={"call_style": call_style},
    )
    run(["dvc", "repro", "train", "evaluate"], repo)

    tuned = AutoTokenizer.from_pretrained(repo / "models/agentflan")
    assert tuned.chat_template == AutoTokenizer.from_pretrained(base).chat_template  # the base template, kept
    assert len(tuned) == len(AutoTokenizer.from_pretrained(base))  # nothing added
    fmt = ChatFormat.of(tuned)
    eot = tuned.convert_tokens_to_ids(END_OF_TURN[kind])
    assert (
        eot in GenerationConfig.from_pretrained(repo / "models/agentflan").eos_token_id
    )  # generation stops on end of turn
    convs = list(read_conversations(repo / "data/final/train.jsonl"))
    assert any(t.tool_calls for c in convs for t in c.turns) == (call_style == "native")
    for conv in convs[:40]:  # labels: exactly the learned pieces and the template's text around them
        enc = encode(fmt, conv)
        trained = tuned.decode([i for i, label in zip(enc.input_ids, enc.labels) if label != IGNORE])
        if kind == "llama3":
            assert trained == "".join(t.content.strip() + END_OF_TURN[kind] for t in conv.turns if t.trainable), conv.id
        else:  # a BPE token that runs across a piece's edge (` {"`, `}}`) is left out when the piece is masked, so the
            # template's text around a masked piece may lose a character (exact case: tests/training/test_packing.py)
            assert_pieces_learned_as_marked(conv, trained)
    if kind == "llama3":
        assert enc.input_ids[0] == tuned.bos_token_id and enc.input_ids.count(tuned.bos_token_id) == 1

    train_metrics = json.loads((repo / "metrics/details/train.json").read_text())
    assert train_metrics["steps"] == 4 and train_metrics["data"]["trainable_tokens"] > 0
    identity = {"base": str(base), "kind": "local folder", "sha256": folder_sha256(base)}  # the base's files, traced
    assert train_metrics["base_model"] == identity
    front, _ = split((repo / "models/agentflan/README.md").read_text())
    assert front["base_model"] == str(base) and front["agentflan_base_model"] == identity
    evaluation = json.loads((repo / "metrics/evaluate.json").read_text())
    assert evaluation["samples"] > 0
    # native needs a template that writes calls and a response template that reads them (Qwen2: transformers' fallback)
    assert evaluation["protocol"] == ("native" if kind == "qwen" else "chat")
    assert (tuned.response_template is not None) == (kind == "qwen")
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    newest = max(client.search_model_versions("name = 'agentflan'"), key=lambda v: int(v.version))
    assert newest.source.startswith("models:/m-") and float(newest.tags["hscore"]) == evaluation["hscore"]


def test_native_calls_on_a_base_that_cannot_write_them_are_refused_naming_elicited(repo, tmp_path):
    base = standin(repo, "llama3", tmp_path / "llama3")
    set_params(repo, model={"base": str(base)}, train={"max_steps": 2, "max_length": 1024, "batch_tokens": 2048})
    proc = run(["dvc", "repro", "train"], repo, check=False)
    assert proc.returncode != 0 and "convert.call_style: elicited" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_lora_trains_the_rows_of_the_tokens_it_adds(repo, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = standin(repo, "llama3", tmp_path / "llama3")
    set_params(
        repo,
        model={"base": str(base), "chat_template": "chatml"},
        train={"max_steps": 3, "max_length": 1024, "batch_tokens": 2048, "lora.enabled": True, "lr": 0.01},
    )
    run([sys.executable, "stages/train.py"], repo)
    tuned = AutoTokenizer.from_pretrained(repo / "models/agentflan")
    added = tuned.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert len(tuned) == len(AutoTokenizer.from_pretrained(base)) + 2 and "<|im_start|>" in tuned.chat_template

    reference = AutoModelForCausalLM.from_pretrained(base)
    reference.resize_token_embeddings(len(tuned))  # the rows the added tokens start from
    start = reference.get_input_embeddings().weight.detach()
    weights = load_file(repo / "models/agentflan/model.safetensors")
    trained = weights["model.embed_tokens.weight"]
    assert not any("lora" in k or "trainable_tokens" in k for k in weights)  # merged: a plain model
    old = [i for i in range(len(tuned)) if i not in added]
    assert (trained[old] == start[old]).all()  # LoRA leaves the base vocabulary alone
    assert all(not (trained[i] == start[i]).all() for i in added)  # and trains the rows of the tokens it added
