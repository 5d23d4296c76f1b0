"""Generation for the Agent-H benchmark: batched greedy decoding with the KV cache, then scoring.

The model is loaded the way users load it (`from_pretrained`) and prompted through its own chat
template, tools included.
"""

from __future__ import annotations

from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.scoring import Prediction


def load(model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    return model, tokenizer


def generate(model, tokenizer, samples: list[Sample], max_new_tokens: int, batch_size: int) -> list[str]:
    import torch

    from agentflan.training.chat_template import IM_END

    tokenizer.padding_side = "left"
    stop = tokenizer.convert_tokens_to_ids(IM_END)
    responses: list[str] = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        texts = [tokenizer.apply_chat_template(s.messages(), tools=[t.to_openai() for t in s.tools] or None,
                                               add_generation_prompt=True, tokenize=False) for s in batch]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                 eos_token_id=stop, pad_token_id=tokenizer.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        responses += [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]
    return responses


def predictions(samples: list[Sample], responses: list[str]) -> list[Prediction]:
    return [Prediction(s.id, s.category, [t.name for t in s.tools], s.expected, r, s.expected_tool,
                       {t.name: t.parameters for t in s.tools}, s.expected_arguments) for s, r in zip(samples, responses)]
