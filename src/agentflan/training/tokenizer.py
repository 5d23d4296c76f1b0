"""Tokenizers: a byte-level BPE trained on the corpus (for the built-in tiny model), or the base model's.

Either way the tokenizer carries `chat_template.CHAT_TEMPLATE` and its special tokens, so
`AutoTokenizer.from_pretrained(model_dir).apply_chat_template(messages, tools=...)` renders
conversations exactly as training saw them.
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


def with_chat_template(tokenizer):
    """A base model's tokenizer with our chat template and turn markers (added as special tokens if missing)."""
    missing = [t for t in (IM_START, IM_END) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or IM_END
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
