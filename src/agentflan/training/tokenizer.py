"""Tokenizers: a byte-level BPE trained on the corpus (for the built-in tiny model), or the base model's.

`model.chat_template: auto` keeps a base model's own chat template, so the tuned model is trained in the
format it is served in; ChatML (`chat_template.CHAT_TEMPLATE`, its turn markers added as special tokens) is
used for the tiny model, for a base without a template, or when params ask for it. Either way
`AutoTokenizer.from_pretrained(model_dir).apply_chat_template(messages, tools=...)` renders conversations
exactly as training saw them.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentflan.training.chat_template import CHAT_TEMPLATE, IM_END, IM_START, PAD, SPECIAL_TOKENS


def train_bpe(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts`, with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD, bos_token=IM_START)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def prepare(tokenizer, chat_template: str) -> list[int]:
    """Give a base model's tokenizer its training format; returns the ids of tokens added to its vocabulary.

    `auto` keeps the tokenizer's own template when it has one; otherwise (or with `chatml`) ChatML is set
    and its turn markers are added as special tokens where the vocabulary lacks them. A pad token is set
    when there is none (the EOS: padding is never attended to nor trained on).
    """
    added: list[int] = []
    if chat_template == "chatml" or not getattr(tokenizer, "chat_template", None):
        missing = [t for t in (IM_START, IM_END) if t not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing})
            added = tokenizer.convert_tokens_to_ids(missing)
        tokenizer.chat_template = CHAT_TEMPLATE
        if tokenizer.eos_token is None:
            tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return added
