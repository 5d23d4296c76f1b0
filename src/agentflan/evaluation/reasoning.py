"""The answer a reasoning model gives, its reasoning set aside, for the judges to read.

Qwen3, QwQ and DeepSeek-R1 think in `<think>...</think>` before they answer (or write only the close, where the chat
template opened the block in the prompt); gpt-oss thinks in its harmony `analysis` channel and answers in `final`. A
thought that weighs a tool ("I could use get_weather, but...") is no call, a guess it rejects is no fabrication, and
answer quality is the answer's. Reasoning never closed is all there is: the model gave no answer.
"""

from __future__ import annotations

import re

_ANALYSIS = re.compile(r"<\|channel\|>analysis<\|message\|>.*?(?:<\|end\|>|\Z)", re.S)  # harmony's reasoning
_FINAL = re.compile(r"<\|channel\|>final<\|message\|>(?P<text>.*?)(?:<\|return\|>|<\|end\|>|\Z)", re.S)


def answer(text: str) -> str:
    """`text` without its reasoning: what follows the last `</think>` (an unclosed `<think>` ends the answer where it
    opens), and of harmony messages the `final` one's text, or, where the model answered with a call, what follows
    its analysis. Text with neither is returned as it is."""
    if "</think>" in text:
        text = text.rpartition("</think>")[2]
    elif "<think>" in text:
        text = text.partition("<think>")[0]
    if "<|channel|>" in text:
        text = _ANALYSIS.sub("", text)
        final = _FINAL.search(text)
        if final:
            text = final["text"]
    return text
