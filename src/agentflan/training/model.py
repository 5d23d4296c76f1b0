"""The model and tokenizer: `model.base` is `tiny` (a Llama built from params, with a byte-level BPE
trained on the corpus) or a hub id / local path loaded with `from_pretrained`.

`trust_remote_code` stays off unless params turn it on; weights are saved as safetensors, with a
generation config that stops on the chat template's end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentflan.config import LoraConfig, ModelConfig, TinyConfig


def build_tiny(tokenizer, tiny: TinyConfig, attn_implementation: str = "sdpa"):
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
        attn_implementation=attn_implementation,
    )
    return LlamaForCausalLM(config)


def load_model_and_tokenizer(cfg: ModelConfig, corpus_texts: Iterable[str], lora: LoraConfig | None = None):
    """(model, tokenizer, added token ids) ready to train: built for `tiny`, else loaded from the hub id or
    local path (4-bit for QLoRA when `lora.quantize_4bit`)."""
    from agentflan.training.tokenizer import prepare, train_bpe

    if cfg.base == "tiny":
        if lora is not None and lora.enabled and lora.quantize_4bit:
            from agentflan.config import ParamsError

            raise ParamsError(
                "train.lora.quantize_4bit: QLoRA loads a base model in 4 bits; the tiny model is built in "
                "full precision, not loaded: set it false, or set model.base"
            )
        tiny = cfg.tiny
        tokenizer = train_bpe(corpus_texts, tiny.vocab_size, tiny.pretokenizer)
        return build_tiny(tokenizer, tiny, cfg.attn_implementation), tokenizer, []
    from transformers import AutoModelForCausalLM, AutoTokenizer

    revision = {"revision": cfg.revision} if cfg.revision else {}
    tokenizer = AutoTokenizer.from_pretrained(cfg.base, trust_remote_code=cfg.trust_remote_code, **revision)
    import torch

    adapters = lora is not None and lora.enabled
    # full fine-tuning keeps fp32 master weights (bf16 compute comes from autocast); LoRA's frozen base stays as stored
    extra = {"dtype": "auto" if adapters else torch.float32}
    if adapters and lora.quantize_4bit:
        extra["quantization_config"] = quantization_config()
    model = AutoModelForCausalLM.from_pretrained(
        cfg.base,
        trust_remote_code=cfg.trust_remote_code,
        attn_implementation=cfg.attn_implementation,
        **revision,
        **extra,
    )
    added = prepare(tokenizer, cfg.chat_template, model.config.model_type)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, added


def quantization_config():
    """NF4 4-bit weights with bf16 compute (QLoRA); needs CUDA and bitsandbytes (`pip install .[gpu]`)."""
    import torch
    from transformers import BitsAndBytesConfig

    from agentflan.config import ParamsError

    if not torch.cuda.is_available():
        raise ParamsError("train.lora.quantize_4bit: 4-bit QLoRA needs a CUDA GPU (bitsandbytes); there is none")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def apply_lora(model, lora: LoraConfig, added_token_ids: list[int] = ()):
    """LoRA adapters on `target_modules`; the embedding rows of tokens added to the vocabulary are trained too
    (peft `trainable_token_indices`: a new token's row starts untrained and LoRA alone never reaches it)."""
    import peft

    if lora.quantize_4bit:
        model = peft.prepare_model_for_kbit_training(model)
    extra = {"trainable_token_indices": {"embed_tokens": list(added_token_ids)}} if added_token_ids else {}
    config = peft.LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
        **extra,
    )
    return peft.get_peft_model(model, config)


def stop_ids(model, end_of_turn_ids: Iterable[int]) -> list[int]:
    """The tokens a reply ends on: the template's end-of-turn token(s), then those the model's generation config
    already stops on (a base's own: Llama 3.1's `<|eom_id|>` after a `<|python_tag|>` call, gpt-oss's `<|call|>`)."""
    own = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    own = own if isinstance(own, list) else [] if own is None else [own]
    return list(dict.fromkeys([*end_of_turn_ids, *own]))


def save_model(model, tokenizer, out_dir, end_of_turn_ids: list[int] = (), state_dict=None) -> None:
    """Plain transformers layout (safetensors); LoRA adapters are merged so no peft is needed to load.

    The generation config stops on the template's end-of-turn token(s) and on those the base already stopped on
    (`stop_ids`), so `generate`, pipelines and `mlflow models serve` end a reply where the chat template ends a turn
    or the model ends a call. `state_dict`: the full weights when the model was sharded (FSDP, ZeRO-3), as
    `accelerator.get_state_dict` gathered them.
    """
    if hasattr(model, "merge_and_unload"):
        model, state_dict = model.merge_and_unload(), None
    if end_of_turn_ids:
        model.generation_config.eos_token_id = stop_ids(model, end_of_turn_ids)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(out_dir)
