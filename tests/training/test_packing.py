"""Loss masks under any chat template, long conversations in context, packing by position ids."""

from __future__ import annotations

import pytest
import torch

from agentflan.config import TrainConfig
from agentflan.data.schema import CAPABILITIES, Conversation, Tool, ToolCall, Turn
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.loop import train
from agentflan.training.packing import IGNORE, collate, encode, pack, target_count, unigram_loss
from agentflan.training.tokenizer import train_bpe

from recipe_helpers import elicited_corpus, labelled_corpus
from standins import llama3_tokenizer, qwen_tokenizer, tiny_llama

END_OF_TURN = {"tiny": "<|im_end|>", "llama3": "<|eot_id|>", "qwen": "<|im_end|>"}


@pytest.fixture(scope="module")
def tokenizers():
    texts = [chatml_text(c) for c in labelled_corpus()]
    return {"tiny": train_bpe(texts, vocab_size=600), "llama3": llama3_tokenizer(texts), "qwen": qwen_tokenizer(texts)}


@pytest.fixture(scope="module")
def tokenizer(tokenizers):
    return tokenizers["tiny"]


def known() -> Conversation:
    tools = [
        Tool(
            "get_weather", "Current weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
        )
    ]
    call = ToolCall("get_weather", {"city": "Oslo"})
    return Conversation(
        "known",
        "test",
        "agent",
        "chat",
        [
            Turn("system", "You are helpful."),
            Turn("user", "Weather in Oslo?"),
            Turn("assistant", "I need the weather service.", loss=False, part="thought"),
            Turn("user", "Which tool?"),
            Turn("assistant", "get_weather", loss=True, part="tool_choice"),
            Turn("user", "Arguments?"),
            Turn("assistant", '{"city": "Oslo"}', loss=True, part="arguments", call=call),
            Turn("tool", '{"temperature": 3}'),
            Turn("assistant", "It is 3 degrees in Oslo.", loss=True, part="answer"),
        ],
        tools,
        "Weather in Oslo?",
    )


def long_conversation(steps: int = 12) -> Conversation:
    """A ReAct-like trajectory much longer than a row: tool results and replies alternate."""
    tools = [
        Tool(
            "get_weather", "Current weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
        ),
        Tool("search_hotels", "Find hotels in a city.", {"type": "object", "properties": {"city": {"type": "string"}}}),
    ]
    turns = [
        Turn("system", "You are an agent. Use the tools."),
        Turn("user", "Plan a trip to Oslo and Paris, with hotels."),
    ]
    for i in range(steps):
        turns += [
            Turn(
                "assistant",
                f"Step {i}: I call get_weather for city number {i} and then check the hotels there.",
                loss=True,
                part="react",
            ),
            Turn("tool", f'{{"temperature": {i}, "conditions": "cloudy with some rain in the afternoon"}}'),
        ]
    turns.append(Turn("assistant", "Oslo is cold; Paris has hotels from 90 EUR.", loss=True, part="answer"))
    return Conversation("long", "test", "agent", "react", turns, tools, "Plan a trip")


def trained_text(tokenizer, ids, labels):
    return tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE])


@pytest.mark.parametrize("kind", ["tiny", "llama3", "qwen"])
def test_rendered_text_is_the_chat_templates(tokenizers, kind):
    fmt = ChatFormat.of(tokenizers[kind])
    corpus = (
        labelled_corpus() if fmt.renders_tool_calls else elicited_corpus()
    )  # Llama 3's template writes no tool calls
    for conv in [known(), *corpus[:100]]:
        messages, tools = fmt.messages(conv)
        text = fmt.render_with_spans(conv).text
        assert text == tokenizers[kind].apply_chat_template(messages, tools=tools, tokenize=False)
        if kind == "tiny":  # the text the tiny tokenizer is trained on, written without a tokenizer, is the same
            assert chatml_text(conv) == text


@pytest.mark.parametrize("kind", ["tiny", "llama3", "qwen"])
def test_loss_mask_is_exactly_the_trainable_turns_and_their_end_of_turn(tokenizers, kind):
    tokenizer = tokenizers[kind]
    enc = encode(ChatFormat.of(tokenizer), known())
    expected = "".join(t.content + END_OF_TURN[kind] for t in known().turns if t.trainable)
    assert trained_text(tokenizer, enc.input_ids, enc.labels) == expected
    assert "weather service" not in trained_text(tokenizer, enc.input_ids, enc.labels)  # loss: false thought


def test_bos_and_tools_as_each_template_takes_them(tokenizers):
    llama, qwen = ChatFormat.of(tokenizers["llama3"]), ChatFormat.of(tokenizers["qwen"])
    ids = encode(llama, known()).input_ids
    bos = tokenizers["llama3"].bos_token_id
    assert ids[0] == bos and ids.count(bos) == 1  # written by the template once, not added again
    assert (
        not llama.takes_tools
        and '<tools>\n{"name": "get_weather", "description"' in llama.render_with_spans(known()).text
    )
    assert (
        qwen.takes_tools
        and '<tools>\n{"type": "function", "function": {"name": "get_weather"' in qwen.render_with_spans(known()).text
    )
    eot = tokenizers["llama3"].convert_tokens_to_ids("<|eot_id|>")
    assert llama.end_of_turn_ids == [eot, tokenizers["llama3"].eos_token_id]
    assert qwen.end_of_turn_ids == [tokenizers["qwen"].convert_tokens_to_ids("<|im_end|>")]


@pytest.mark.parametrize("kind", ["tiny", "llama3", "qwen"])
@pytest.mark.parametrize("mode", ["repeat_context", "truncate"])
def test_no_labelled_token_is_ever_in_a_piece_without_its_tools(tokenizers, kind, mode):
    tokenizer = tokenizers[kind]
    enc = encode(ChatFormat.of(tokenizer), long_conversation())
    max_length = (
        enc.context_end + (len(enc.input_ids) - enc.context_end) // 3
    )  # the context and about a third of the rest
    packed = pack([enc], max_length, tokenizer.pad_token_id, mode)
    assert packed.split_documents == 1
    pieces = []
    for r in range(packed.rows):
        for segment in set(packed.segments[r]) - {0}:
            at = [i for i, s in enumerate(packed.segments[r]) if s == segment]
            pieces.append(([packed.input_ids[r][i] for i in at], [packed.labels[r][i] for i in at]))
    assert len(pieces) == (1 if mode == "truncate" else 3) or (mode == "repeat_context" and len(pieces) > 2)
    for ids, labels in pieces:
        first = next(i for i, label in enumerate(labels) if label != IGNORE)
        context = tokenizer.decode(ids[:first])
        assert "get_weather" in context and "search_hotels" in context and "Plan a trip to Oslo" in context
        assert ids[: enc.context_end] == enc.input_ids[: enc.context_end]  # the whole context, verbatim, first
    trained = sum(1 for _, labels in pieces for label in labels if label != IGNORE)
    if mode == "repeat_context":
        assert trained == enc.trainable and packed.dropped_trainable_tokens == 0  # every turn fits in some piece
    else:
        assert 0 < trained < enc.trainable and packed.dropped_trainable_tokens == enc.trainable - trained


def test_a_conversation_whose_context_fills_a_row_is_dropped_and_counted(tokenizer):
    enc = encode(ChatFormat.of(tokenizer), long_conversation())
    packed = pack([enc], enc.context_end, tokenizer.pad_token_id)
    assert packed.rows == 0 and packed.dropped_documents == 1 and packed.dropped_trainable_tokens == enc.trainable


def test_training_says_how_many_conversations_it_drops(tokenizer, tmp_path):
    fmt = ChatFormat.of(tokenizer)
    long = encode(fmt, long_conversation())
    short = [e for e in (encode(fmt, c) for c in labelled_corpus()) if len(e.input_ids) < long.context_end][:4]
    packed = pack([long, *short], long.context_end, tokenizer.pad_token_id)
    cfg = TrainConfig(
        max_length=long.context_end, batch_tokens=2 * long.context_end, max_steps=1, eval_every=1, mixed_precision="no"
    )
    model = tiny_llama(tokenizer, max_position_embeddings=long.context_end)
    messages: list[str] = []
    train(model, packed, packed, cfg, tmp_path / "ckpt", echo=messages.append)
    (note,) = [m for m in messages if "dropped" in m]
    assert f"1 of 5 training conversations dropped ({long.trainable} trainable tokens)" in note
    assert f"fills a row of {long.context_end} tokens" in note

    messages.clear()
    kept = pack(short, long.context_end, tokenizer.pad_token_id)
    train(model, kept, kept, cfg, tmp_path / "ckpt-kept", echo=messages.append)
    assert not [m for m in messages if "dropped" in m]  # nothing dropped, nothing said


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_a_conversations_logits_are_the_same_alone_and_packed(tokenizer, attn):

    model = tiny_llama(tokenizer, max_position_embeddings=1024, attn_implementation=attn).eval()
    fmt = ChatFormat.of(tokenizer)
    encs = [e for e in (encode(fmt, c) for c in labelled_corpus()) if len(e.input_ids) < 300][:8]
    packed = pack(encs, 1024, tokenizer.pad_token_id)
    assert packed.rows < len(encs)  # several conversations share a row
    batch = collate(packed, list(range(packed.rows)))
    assert set(batch) == {"input_ids", "labels", "position_ids"}  # no hand-built 4D mask
    labels = batch.pop("labels")
    with torch.no_grad():
        packed_logits = model(**batch, use_cache=False).logits
        for enc in encs:
            alone = model(input_ids=torch.tensor([enc.input_ids])).logits[0]
            row, start = next(
                (r, i)
                for r in range(packed.rows)
                for i in range(1024 - len(enc.input_ids) + 1)
                if packed.input_ids[r][i : i + len(enc.input_ids)] == enc.input_ids and packed.positions[r][i] == 0
            )
            torch.testing.assert_close(
                packed_logits[row, start : start + len(enc.input_ids)], alone, atol=1e-5, rtol=1e-5
            )
    assert (labels != IGNORE).sum().item() == sum(e.trainable for e in encs)
    assert target_count(packed, list(range(packed.rows))) == sum(e.trainable for e in encs)  # no piece starts labelled


def test_padding_is_what_first_fit_leaves(tokenizer):
    encs = [
        e for e in (encode(ChatFormat.of(tokenizer), c) for c in labelled_corpus()[:300]) if len(e.input_ids) <= 1024
    ]
    packed = pack(encs, 1024, tokenizer.pad_token_id)
    total = sum(len(e.input_ids) for e in encs)
    assert packed.tokens - packed.pad_tokens == total
    naive_rows = len(encs)  # one conversation per row
    assert packed.rows < naive_rows and packed.padding_fraction < 1 - total / (naive_rows * 1024)


def test_rows_are_first_fit_decreasing_worked_by_hand():
    """Lengths 324, 324, 700, 700 into rows of 1,024, longest first, each into the first row with room: 700 -> row 0
    (324 left), 700 -> row 1 (324 left), 324 -> row 0, 324 -> row 1: two full rows. First fit in the given order
    needs three (324 + 324, then 700, then 700), as does next fit; each piece keeps its own positions from 0."""
    from agentflan.training.packing import Encoded

    lengths = [324, 324, 700, 700]
    encs = [
        Encoded([k + 1] * n, [IGNORE] + [k + 1] * (n - 1), message_starts=[0], roles=["assistant"])
        for k, n in enumerate(lengths)
    ]
    packed = pack(encs, 1024, 0)
    assert packed.rows == 2 and packed.pad_tokens == 0
    # ids are the conversation's number + 1: each row is a 700 followed by a 324
    assert [(row[0], row[700]) for row in packed.input_ids] == [(3, 1), (4, 2)]
    assert [(pos[699], pos[700]) for pos in packed.positions] == [(699, 0), (699, 0)]


def test_unigram_baseline_is_a_real_cross_entropy(tokenizer):
    encs = [encode(ChatFormat.of(tokenizer), c) for c in labelled_corpus()[:100]]
    packed = pack(encs, 1024, tokenizer.pad_token_id)
    loss = unigram_loss(packed, packed, len(tokenizer))
    assert 1.0 < loss < torch.log(torch.tensor(float(len(tokenizer)))).item()


def native_known(name_learned: bool = False) -> Conversation:
    """A native step whose tool name the mix masked: its thought and arguments are learned, the name is not."""
    tools = [
        Tool(
            "get_weather", "Current weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
        )
    ]
    return Conversation(
        "native",
        "test",
        "agent",
        "native",
        [
            Turn("user", "Weather in Oslo?"),
            Turn(
                "assistant",
                "I need the live weather.",
                loss=True,
                part="thought",
                capability="reasoning",
                tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, "call_0")],
                call_loss=[{"name": name_learned, "arguments": True}],
            ),
            Turn("tool", '{"temperature": 3}', name="get_weather", tool_call_id="call_0"),
            Turn("assistant", "It is 3 degrees in Oslo.", loss=True, part="answer", capability="understanding"),
        ],
        tools,
        "Weather in Oslo?",
    )


# What each template writes around the pieces of the native step, by hand from the templates: the learned text is
# the kept pieces with the template's own text around them, and never a masked piece.
NATIVE_LEARNED = {
    "tiny": 'I need the live weather.\n<tool_call>\n{"name": "", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>'
    "It is 3 degrees in Oslo.<|im_end|>",
    "qwen": 'I need the live weather.\n<tool_call>\n{"name": "", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>'
    "It is 3 degrees in Oslo.<|im_end|>",
    # Llama 3.1 writes a call in place of the content: the thought is not in the text, so it cannot be learned
    "llama31": '{"name": "", "parameters": {"city": "Oslo"}}<|eot_id|>It is 3 degrees in Oslo.<|eot_id|>',
}


@pytest.mark.parametrize("kind", ["tiny", "qwen", "llama31"])
def test_native_labels_decode_to_exactly_the_kept_pieces(tokenizers, kind):
    from standins import llama31_tokenizer

    tokenizer = (
        llama31_tokenizer([chatml_text(c) for c in labelled_corpus()]) if kind == "llama31" else tokenizers[kind]
    )
    fmt = ChatFormat.of(tokenizer)
    assert fmt.renders_tool_calls
    masked = encode(fmt, native_known(name_learned=False))
    assert trained_text(tokenizer, masked.input_ids, masked.labels) == NATIVE_LEARNED[kind]
    learned = encode(
        fmt, native_known(name_learned=True)
    )  # the same step with its name kept: exactly the name comes back
    assert trained_text(tokenizer, learned.input_ids, learned.labels) == NATIVE_LEARNED[kind].replace(
        '"name": ""', '"name": "get_weather"'
    )
    retrieval = CAPABILITIES.index("retrieval")
    named = [i for i, c in zip(learned.input_ids, learned.capabilities) if c == retrieval]
    assert tokenizer.decode(named) == "get_weather" and retrieval not in masked.capabilities


def test_native_calls_are_refused_where_the_template_cannot_write_them(tokenizers):
    from agentflan.training.chat_format import TemplateError

    fmt = ChatFormat.of(tokenizers["llama3"])
    assert not fmt.renders_tool_calls and not fmt.parses_tool_calls
    with pytest.raises(TemplateError, match="convert.call_style: elicited"):
        encode(fmt, native_known())
    with pytest.raises(TemplateError, match="convert.call_style: elicited"):
        fmt.require_native()
    from agentflan.training.tokenizer import prepare

    qwen = qwen_tokenizer([chatml_text(c) for c in labelled_corpus()[:20]])
    assert not ChatFormat.of(qwen).parses_tool_calls
    prepare(
        qwen, "auto", "qwen2"
    )  # as training does: the base's template kept, transformers' fallback for its model type
    assert ChatFormat.of(qwen).parses_tool_calls and qwen.chat_template == tokenizers["qwen"].chat_template
    ChatFormat.of(qwen).require_native()  # Qwen2.5's template writes calls; the fallback reads them back
