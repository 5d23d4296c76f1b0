"""Loss masks, packing and the chat-template text the model trains on."""

from __future__ import annotations

import pytest
import torch
from recipe_helpers import labelled_corpus

from agentflan.data.schema import Conversation, Tool, ToolCall, Turn
from agentflan.training.chat_template import IM_END, IM_START
from agentflan.training.packing import IGNORE, collate, encode, pack, render_with_spans, unigram_loss
from agentflan.training.tokenizer import train_bpe


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe((render_with_spans(c)[0] for c in labelled_corpus()), vocab_size=600)


def known() -> Conversation:
    tools = [Tool("get_weather", "Current weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}})]
    call = ToolCall("get_weather", {"city": "Oslo"})
    return Conversation("known", "test", "agent", "chat", [
        Turn("system", "You are helpful."),
        Turn("user", "Weather in Oslo?"),
        Turn("assistant", "I need the weather service.", loss=False, part="thought"),
        Turn("user", "Which tool?"),
        Turn("assistant", "get_weather", loss=True, part="tool_choice"),
        Turn("user", "Arguments?"),
        Turn("assistant", '{"city": "Oslo"}', loss=True, part="arguments", call=call),
        Turn("tool", '{"temperature": 3}'),
        Turn("assistant", "It is 3 degrees in Oslo.", loss=True, part="answer"),
    ], tools, "Weather in Oslo?")


def trained_text(tokenizer, ids, labels):
    return tokenizer.decode([i for i, l in zip(ids, labels) if l != IGNORE])


def test_rendered_text_is_the_chat_templates(tokenizer):
    for conv in [known(), *labelled_corpus()[:200]]:
        text, _ = render_with_spans(conv)
        assert text == tokenizer.apply_chat_template(conv.to_messages(), tools=conv.tools_openai(), tokenize=False)


def test_loss_mask_is_exactly_the_trainable_turns_and_their_end_of_turn(tokenizer):
    enc = encode(tokenizer, known())
    expected = "".join(t.content + IM_END for t in known().turns if t.trainable)
    assert trained_text(tokenizer, enc.input_ids, enc.labels) == expected
    assert "weather service" not in trained_text(tokenizer, enc.input_ids, enc.labels)  # loss: false thought


def test_mask_survives_packing_across_a_row_boundary(tokenizer):
    enc = encode(tokenizer, known())
    expected = "".join(t.content + IM_END for t in known().turns if t.trainable)
    boundary = tokenizer.convert_tokens_to_ids(IM_START)
    max_length = len(enc.input_ids) // 2 + 8  # forces a cut: the conversation spans two rows
    packed = pack([enc], max_length, tokenizer.pad_token_id, boundary)
    assert packed.split_documents == 1 and packed.rows == 2
    # the cut falls on a turn boundary, so every trainable token is still trained, in order
    pieces = sorted(range(packed.rows), key=lambda r: packed.input_ids[r][0] != tokenizer.convert_tokens_to_ids(IM_START))
    text = "".join(trained_text(tokenizer, packed.input_ids[r], packed.labels[r]) for r in (0, 1))
    assert sorted(text) == sorted(expected) and packed.trainable_tokens == enc.trainable
    assert all(packed.input_ids[r][0] == boundary for r in range(packed.rows)) and pieces


def test_cut_inside_a_turn_drops_only_the_orphaned_first_label(tokenizer):
    enc = encode(tokenizer, known())
    packed = pack([enc], 7, tokenizer.pad_token_id, boundary_id=None)  # no boundary: cut every 7 tokens
    lost = sum(1 for r in range(1, packed.rows) for i, l in enumerate(packed.labels[r][:1]) if l == IGNORE
               and enc.labels[r * 7] != IGNORE)
    assert packed.trainable_tokens == enc.trainable - lost


def test_packing_prevents_cross_conversation_attention(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, max_position_embeddings=1024)).eval()
    encs = [e for e in (encode(tokenizer, c) for c in labelled_corpus()) if len(e.input_ids) < 300][:8]
    packed = pack(encs, 1024, tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids(IM_START))
    assert packed.rows < len(encs)  # several conversations share a row
    batch = collate(packed, list(range(packed.rows)))
    labels = batch.pop("labels")
    with torch.no_grad():
        packed_logits = model(**batch).logits
        for enc in encs:
            alone = model(input_ids=torch.tensor([enc.input_ids])).logits[0]
            row, start = next((r, i) for r in range(packed.rows) for i in range(1024 - len(enc.input_ids) + 1)
                              if packed.input_ids[r][i:i + len(enc.input_ids)] == enc.input_ids and packed.positions[r][i] == 0)
            torch.testing.assert_close(packed_logits[row, start:start + len(enc.input_ids)], alone, atol=1e-4, rtol=1e-4)
    assert (labels != IGNORE).sum().item() == sum(e.trainable for e in encs)


def test_padding_is_what_first_fit_leaves(tokenizer):
    encs = [encode(tokenizer, c) for c in labelled_corpus()[:300]]
    packed = pack(encs, 1024, tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids(IM_START))
    total = sum(len(e.input_ids) for e in encs)
    assert packed.tokens - packed.pad_tokens == total
    naive_rows = sum(-(-len(e.input_ids) // 1024) for e in encs)  # one conversation per row
    assert packed.rows < naive_rows and packed.padding_fraction < 1 - total / (naive_rows * 1024)


def test_unigram_baseline_is_a_real_cross_entropy(tokenizer):
    encs = [encode(tokenizer, c) for c in labelled_corpus()[:100]]
    packed = pack(encs, 1024, tokenizer.pad_token_id)
    loss = unigram_loss(packed, packed, len(tokenizer))
    assert 1.0 < loss < torch.log(torch.tensor(float(len(tokenizer)))).item()
