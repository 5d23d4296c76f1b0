"""Whether a plain answer answers: chrF against the sample's reference answer (sacrebleu), 0 for degenerate text."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)


def is_degenerate(text: str) -> bool:
    """Empty, punctuation only, or one n-gram repeated: an answer that says nothing, whatever it matches."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return True
    if len(words) >= 4 and len(set(words)) / len(words) < 0.3:
        return True
    for n in (1, 2, 3):
        grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        if grams and len(words) >= 3 * n and max(grams.values()) * n > 0.6 * len(words) and max(grams.values()) >= 3:
            return True
    return False


def chrf(answer: str, reference: str) -> float:
    """chrF (sacrebleu's defaults: character 6-grams, beta 2) scaled to 0-1; 0 for a degenerate answer."""
    if is_degenerate(answer) or not reference.strip():
        return 0.0
    from sacrebleu.metrics import CHRF

    return round(CHRF().sentence_score(answer.strip(), [reference.strip()]).score / 100, 4)
