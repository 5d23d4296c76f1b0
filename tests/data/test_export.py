"""The final files export to the Agent-FLAN release schema, load with `datasets`, and every
conversation renders through the chat template."""

from __future__ import annotations

import datasets
import pytest

from agentflan.config import NegativesConfig
from agentflan.data.jsonio import atomic_writer, write_jsonl
from agentflan.data.negatives import NegativesStats, add_negatives, tool_pool
from agentflan.data.prompts import render_system, tool_call_text, tool_json
from agentflan.training.chat_template import IM_END, IM_START
from agentflan.training.tokenizer import train_bpe

from recipe_helpers import labelled_corpus
from standins import tiny_llama


def test_release_export_loads_and_renders(tmp_path):
    corpus = labelled_corpus()
    final = [c for _, c in add_negatives(corpus, tool_pool(corpus), NegativesConfig(), NegativesStats())]
    path = tmp_path / "train.jsonl"
    with atomic_writer(path) as f:
        write_jsonl(f, [c.to_agentflan() for c in final])

    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == len(final)
    assert set(ds.column_names) == {"id", "conversation"}
    row = ds[0]
    assert set(row["conversation"][0]) == {"role", "content", "loss"}
    assert all(t["role"] in ("system", "user", "assistant") for r in ds for t in r["conversation"])

    tokenizer = train_bpe((t["content"] for r in ds for t in r["conversation"]), vocab_size=512)
    for record, conv in zip(ds, final):
        messages = [{"role": t["role"], "content": t["content"]} for t in record["conversation"]]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        assert text.count(IM_START) == len(messages) == text.count(IM_END)
        # the canonical record, with structured tools, renders to the same text as its export
        canonical = tokenizer.apply_chat_template(
            [{"role": "user", "content": m["content"]} if m["role"] == "tool" else m for m in conv.to_messages()],
            tools=conv.tools_openai(),
            tokenize=False,
        )
        assert canonical == text, conv.id


def test_template_renders_tools_and_calls_like_the_export():
    corpus = labelled_corpus()
    conv = next(c for c in corpus if c.style == "native" and c.tools and any(t.tool_calls for t in c.turns))
    tokenizer = train_bpe(["hello world"], vocab_size=300)
    text = tokenizer.apply_chat_template(conv.to_messages(), tools=conv.tools_openai(), tokenize=False)
    assert conv.turns[0].role == "user"  # native: no system prompt of ours, the template writes the tools' system turn
    assert text.startswith(
        f"{IM_START}system\n{render_system('', conv.tools)}{IM_END}\n{IM_START}user\n{conv.turns[0].content}"
    )
    lines = text.split("\n")
    first = lines.index("<tools>") + 1
    assert lines[first] == tool_json(conv.tools[0]) and lines[first].startswith('{"name": "' + conv.tools[0].name + '"')
    call_turn = next(t for t in conv.turns if t.tool_calls)
    assert f"{IM_START}assistant\n{call_turn.content}\n{tool_call_text(call_turn.tool_calls[0])}{IM_END}\n" in text
    result = conv.turns[conv.turns.index(call_turn) + 1]
    assert f"{IM_START}tool\n<tool_response>\n{result.content}\n</tool_response>{IM_END}\n" in text
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tools=conv.tools_openai(), tokenize=False, add_generation_prompt=True
    )
    assert (
        prompt == f"{IM_START}system\n{render_system('', conv.tools)}{IM_END}\n"
        f"{IM_START}user\nhi{IM_END}\n{IM_START}assistant\n"
    )


def hf_export(tmp_path):
    corpus = labelled_corpus()
    final = [c for _, c in add_negatives(corpus, tool_pool(corpus), NegativesConfig(), NegativesStats())]
    path = tmp_path / "hf_train.jsonl"
    with atomic_writer(path) as f:
        write_jsonl(f, [c.to_hf() for c in final])
    return final, path


def test_hf_export_loads_and_renders_with_any_tool_capable_template(tmp_path):
    import json

    from standins import qwen_tokenizer

    final, path = hf_export(tmp_path)
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert ds.num_rows == len(final) and set(ds.column_names) == {"messages", "tools"}
    native = next(i for i, c in enumerate(final) if c.style == "native" and any(t.tool_calls for t in c.turns))
    row = ds[native]
    assert (
        row["messages"] == final[native].to_messages()
    )  # calls, ids and tool messages, exactly as the canonical record
    assert json.loads(row["tools"]) == final[native].tools_openai()
    tiny = train_bpe(["hello world"], vocab_size=300)
    for tokenizer in (tiny, qwen_tokenizer()):
        for record, conv in zip(ds.select(range(60)), final[:60]):
            text = tokenizer.apply_chat_template(
                record["messages"], tools=json.loads(record["tools"]) or None, tokenize=False
            )
            for call in (c for t in conv.turns for c in t.tool_calls):
                assert f'{{"name": "{call.name}", "arguments": {call.arguments_json()}}}' in text, (
                    conv.id
                )  # the call, rendered


def test_trl_sft_trainer_trains_on_the_hf_export(tmp_path):
    trl = pytest.importorskip("trl")
    import json

    final, path = hf_export(tmp_path)
    ds = datasets.load_dataset("json", data_files=str(path), split="train").select(range(40))
    tokenizer = train_bpe([json.dumps(r) for r in ds], vocab_size=600)
    model = tiny_llama(
        tokenizer,
        layers=1,
        seed=None,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    args = trl.SFTConfig(
        output_dir=str(tmp_path / "sft"),
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        max_length=1024,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        dataloader_num_workers=0,
    )
    from accelerate.state import AcceleratorState

    try:
        trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
        result = trainer.train()
    finally:  # the Trainer's accelerate state is process-wide: later tests build their own Accelerator
        AcceleratorState._reset_state(reset_partial_state=True)
    assert result.global_step == 3 and [h["loss"] for h in trainer.state.log_history if "loss" in h]
