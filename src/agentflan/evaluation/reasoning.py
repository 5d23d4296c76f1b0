"""The answer a reasoning model gives, its reasoning set aside, for the judges to read.

Qwen3, QwQ, DeepSeek-R1 (and GLM-4.5, MiniMax-M2, Kimi K2 Thinking) think in `<think>...</think>` before they answer
(or write only the close, where the chat template opened the block in the prompt); Seed-OSS in
`<seed:think>...</seed:think>`, Magistral in `[THINK]...[/THINK]`, Gemma 4 in its `<|channel>thought ...<channel|>`,
Apertus between `<|inner_prefix|>` and `<|inner_suffix|>`, Command A between `<|START_THINKING|>` and
`<|END_THINKING|>` (its answer then in `<|START_RESPONSE|>...<|END_RESPONSE|>`); Granite 3.2 writes "Here is my
thought process:" and then "Here is my response:"; gpt-oss thinks in its harmony `analysis` channel and answers in
`final`. A thought that weighs a tool ("I could use get_weather, but...") is no call, a guess it rejects is no
fabrication, and answer quality is the answer's. Reasoning never closed is all there is: the model gave no answer.
"""

from __future__ import annotations

import re

THINKING = (  # (open, close) of each family's reasoning block
    ("<think>", "</think>"),
    ("<seed:think>", "</seed:think>"),
    ("[THINK]", "[/THINK]"),
    ("<|channel>", "<channel|>"),
    ("<|inner_prefix|>", "<|inner_suffix|>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
)
GRANITE = ("Here is my thought process:", "Here is my response:")  # words, not tokens: read only as a pair
_ANALYSIS = re.compile(r"<\|channel\|>analysis<\|message\|>.*?(?:<\|end\|>|\Z)", re.S)  # harmony's reasoning
_FINAL = re.compile(r"<\|channel\|>final<\|message\|>(?P<text>.*?)(?:<\|return\|>|<\|end\|>|\Z)", re.S)
_RESPONSE = re.compile(r"<\|START_RESPONSE\|>(?P<text>.*?)(?:<\|END_RESPONSE\|>|\Z)", re.S)  # Command A's answer


def answer(text: str) -> str:
    """`text` without its reasoning: what follows the last close of a reasoning block (an unclosed one ends the answer
    where it opens), Command A's response, and of harmony messages the `final` one's text, or, where the model
    answered with a call, what follows its analysis. Text with none of them is returned as it is."""
    for opens, closes in THINKING:
        if closes in text:
            text = text.rpartition(closes)[2]
        elif opens in text:
            text = text.partition(opens)[0]
    if GRANITE[0] in text and GRANITE[1] in text:
        text = text.rpartition(GRANITE[1])[2]
    response = _RESPONSE.search(text)
    if response:
        text = response["text"]
    if "<|channel|>" in text:
        text = _ANALYSIS.sub("", text)
        final = _FINAL.search(text)
        if final:
            text = final["text"]
    return text
