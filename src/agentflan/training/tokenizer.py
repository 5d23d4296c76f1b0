"""Tokenizers: a byte-level BPE trained on the corpus (for the built-in tiny model), or the base model's.

`model.chat_template: auto` keeps a base model's own chat template, so the tuned model is trained in the
format it is served in; ChatML (`chat_template.CHAT_TEMPLATE`, its turn markers added as special tokens) is
used for the tiny model, for a base without a template, or when params ask for it. Either way
`AutoTokenizer.from_pretrained(model_dir).apply_chat_template(messages, tools=...)` renders conversations
exactly as training saw them, and the saved tokenizer carries the declarative `response_template` that turns
the model's output back into `tool_calls` (`tokenizer.parse_response`, `transformers serve`): the base's own,
or transformers' fallback for its model type (for ChatML: the Qwen2 one, whose syntax the template writes).
"""

from __future__ import annotations

from collections.abc import Iterable

from agentflan.training.chat_template import (
    CHAT_TEMPLATE,
    IM_END,
    IM_START,
    PAD,
    RESPONSE_TEMPLATE_FAMILY,
    SPECIAL_TOKENS,
    TOOL_MARKERS,
)


def fallback_response_template(model_type: str) -> dict | None:
    """The response template `transformers serve` falls back to for a model type (None where it has none)."""
    from transformers.cli.serving.utils import _RESPONSE_TEMPLATE_FALLBACKS

    return next((dict(v) for types, v in _RESPONSE_TEMPLATE_FALLBACKS.items() if model_type in types), None)


# GPT-2's split, except that a word starting with a capital and a number never take the space before them: a value
# such as `Paris` or `1200` is then the same token in a query ("in Paris?") and in a call's JSON (`"Paris"`)
VALUES_APART = r"'(?:[sdmt]|ll|ve|re)| ?\p{Ll}\p{L}*|\p{Lu}\p{L}*|\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def train_bpe(texts: Iterable[str], vocab_size: int, pretokenizer: str = "byte_level"):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts`, with the chat template.

    `pretokenizer`: `byte_level` splits text as GPT-2 does (a word carries the space before it); `values_apart`
    splits a capitalised word or a number from that space (`VALUES_APART`), so copying a value from the query into
    a call's arguments is copying a token.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(VALUES_APART), "isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        if pretokenizer == "values_apart"
        else pre_tokenizers.ByteLevel(add_prefix_space=False)
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD, bos_token=IM_START)
    fast.add_tokens(list(TOOL_MARKERS))
    fast.chat_template = CHAT_TEMPLATE
    fast.response_template = fallback_response_template(RESPONSE_TEMPLATE_FAMILY)
    return fast


def prepare(tokenizer, chat_template: str, model_type: str) -> list[int]:
    """Give a base model's tokenizer its training format; returns the ids of tokens added to its vocabulary.

    `auto` keeps the tokenizer's own template when it has one, and its own response template, else transformers'
    fallback for `model_type` (none: the model cannot be served with native tool calls; training says so).
    Otherwise (or with `chatml`) ChatML is set, its turn markers are added as special tokens where the vocabulary
    lacks them, and the Qwen2 response template that reads its syntax. A pad token is set when there is none (the
    EOS: padding is never attended to nor trained on).
    """
    added: list[int] = []
    if chat_template == "chatml" or not getattr(tokenizer, "chat_template", None):
        missing = [t for t in (IM_START, IM_END) if t not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing})
            added = tokenizer.convert_tokens_to_ids(missing)
        tokenizer.chat_template = CHAT_TEMPLATE
        tokenizer.response_template = fallback_response_template(RESPONSE_TEMPLATE_FAMILY)
        if tokenizer.eos_token is None:
            tokenizer.eos_token = IM_END
    elif getattr(tokenizer, "response_template", None) is None:
        tokenizer.response_template = fallback_response_template(model_type)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return added
