"""The tiny model's BPE: both pre-tokenizers round-trip any text, save and load, and `values_apart` makes a value
one token in a query and in a call's JSON."""

from __future__ import annotations

import json

import pytest

from agentflan.training.tokenizer import train_bpe

CITIES = ["Paris", "Quito", "Nairobi", "Toronto", "Bangkok", "Vienna"]


def corpus() -> list[str]:
    texts = []
    for i, city in enumerate(CITIES * 5):
        amount = 100 * (i + 1)
        texts.append(f"What's the weather in {city}? I have {amount} CAD.")
        texts.append(json.dumps({"name": "get_weather", "arguments": {"city": city, "amount": amount}}))
    return texts


def tokens(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="module")
def tokenizers():
    return {kind: train_bpe(corpus(), vocab_size=400, pretokenizer=kind) for kind in ("byte_level", "values_apart")}


def test_values_apart_makes_a_value_one_token_in_the_query_and_in_the_call(tokenizers):
    query, call = "What is the weather in Nairobi? I have 700 CAD.", '{"city": "Nairobi", "amount": 700}'
    apart, byte_level = tokenizers["values_apart"], tokenizers["byte_level"]
    assert "Nairobi" in tokens(apart, query) and "Nairobi" in tokens(apart, call)
    assert "700" in tokens(apart, query) and "700" in tokens(apart, call)
    # GPT-2's split: the query's city carries its space (Ġ), the call's does not, so copying it is a mapping to learn
    assert "ĠNairobi" in tokens(byte_level, query) and "ĠNairobi" not in tokens(byte_level, call)
    assert "Nairobi" in tokens(byte_level, call)
    # lower-case words keep their space: the split costs a token only before a capital or a number
    assert "Ġweather" in tokens(apart, query)


@pytest.mark.parametrize("kind", ["byte_level", "values_apart"])
def test_any_text_decodes_back_to_itself(tokenizers, kind):
    tokenizer = tokenizers[kind]
    for text in [
        "  two spaces,\ttab\nnewline  ",
        "Émilie's café in São Paulo costs 12,50 € 🙂",
        'I\'ll say "OK" 3 times: A1B2 C3',
        "日本語のテキスト、and ASCII",
        "",
    ]:
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_a_saved_values_apart_tokenizer_loads_with_the_same_split(tokenizers, tmp_path):
    from transformers import AutoTokenizer

    apart = tokenizers["values_apart"]
    apart.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    messages = [{"role": "user", "content": "Weather in Quito, for 300 CAD?"}]
    assert loaded.apply_chat_template(messages, tokenize=False) == apart.apply_chat_template(messages, tokenize=False)
    text = apart.apply_chat_template(messages, tokenize=False)
    assert loaded(text)["input_ids"] == apart(text)["input_ids"]
    assert "Quito" in tokens(loaded, text)
