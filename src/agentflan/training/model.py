"""The model and tokenizer: `model.base` is `tiny` (a Llama built from params, with a byte-level BPE
trained on the corpus) or a hub id / local path loaded with `from_pretrained`.

`trust_remote_code` stays off unless params turn it on; weights are saved as safetensors.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentflan.config import LoraConfig, ModelConfig, TinyConfig


def build_tiny(tokenizer, tiny: TinyConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=tiny.hidden_size,
        num_hidden_layers=tiny.num_hidden_layers,
        num_attention_heads=tiny.num_attention_heads,
        num_key_value_heads=tiny.num_attention_heads,
        intermediate_size=tiny.intermediate_size,
        max_position_embeddings=tiny.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def load_model_and_tokenizer(cfg: ModelConfig, corpus_texts: Iterable[str]):
    """(model, tokenizer) ready to train: built for `tiny`, else loaded from the hub id or local path."""
    from agentflan.training.tokenizer import train_bpe, with_chat_template

    if cfg.base == "tiny":
        tiny = cfg.tiny
        tokenizer = train_bpe(corpus_texts, tiny.vocab_size)
        return build_tiny(tokenizer, tiny), tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = with_chat_template(AutoTokenizer.from_pretrained(cfg.base, trust_remote_code=cfg.trust_remote_code))
    model = AutoModelForCausalLM.from_pretrained(cfg.base, trust_remote_code=cfg.trust_remote_code)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def apply_lora(model, lora: LoraConfig):
    import peft

    config = peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                             target_modules=list(lora.target_modules), task_type="CAUSAL_LM")
    return peft.get_peft_model(model, config)


def save_model(model, tokenizer, out_dir) -> None:
    """Plain transformers layout (safetensors); LoRA adapters are merged so no peft is needed to load."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
