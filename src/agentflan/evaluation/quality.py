"""Whether a plain answer answers: chrF against the sample's reference answer (sacrebleu) of what the answer adds to
the question, weighed by how much of the question's subject it names; 0 for degenerate text."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)
_LETTERS = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_CLAUSE = re.compile(r"[^.?!;:\n]+")
_FUNCTION_WORDS = frozenset(
    "the and for are but not you your yours his her its our their them they she him was were has have had does did "
    "can could would should will shall may might must all any some this that these those what when where which who "
    "whom whose why how with from into onto about over under than then there here also only just very more most "
    "much many such each every other give tell show write make let please want need like one two three ten "
    "answer reply sentence sentences json single key bulleted list keep words word brief short".split()
)  # and the words of the benchmark's format requests (`prompts.FORMAT_REQUESTS`), which are not a subject


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _content_words(text: str) -> set[str]:
    words = {w for w in _LETTERS.findall(text.lower()) if w not in _FUNCTION_WORDS}  # before the stem: 'this', 'does'
    return {_stem(w) for w in words} - _FUNCTION_WORDS


def subject(query: str, reference: str) -> frozenset[str]:
    """What the question is about: the content words the query and its reference answer share (an owl joke's
    reference names the owl; a synonym for 'fast', the synonym and 'fast'), a final plural `s` aside."""
    return frozenset(_content_words(query) & _content_words(reference))


def without_query(answer: str, query: str) -> str:
    """The answer less each clause of the query (3 words or more) it repeats word for word, whatever its case,
    spacing, quotes or punctuation: repeating the question is no answer to it."""
    for clause in _CLAUSE.findall(query):
        words = _WORD.findall(clause)
        if len(words) >= 3:
            repeated = r"\b" + r"\W+".join(map(re.escape, words)) + r"\b[^\w\s]*"
            answer = re.sub(repeated, " ", answer, flags=re.IGNORECASE)
    return answer


def is_degenerate(text: str) -> bool:
    """Empty, punctuation only, one n-gram repeated, or a stutter (two words in five or more said twice in a row:
    "stock stock price price the the"): an answer that says nothing, whatever it matches. No text of the demo's
    benchmark, training split or labelled answers stutters so (11,275 texts, 6 Dec 2026)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return True
    if len(words) >= 4 and len(set(words)) / len(words) < 0.3:
        return True
    if len(words) >= 4 and sum(a == b for a, b in zip(words, words[1:])) >= 0.4 * (len(words) - 1):
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


def plain_quality(answer: str, reference: str, query: str = "") -> float:
    """chrF against the reference times the share of the question's `subject` the answer names, both of the answer
    `without_query`: the reference's template about another subject (the dog joke asked for an owl one) and the
    question repeated score what they are worth, nothing. A question whose reference shares no content word with it
    (or no query) is scored by chrF alone."""
    answer = without_query(answer, query)
    score = chrf(answer, reference)
    about = subject(query, reference)
    if not score or not about:
        return score
    return round(score * len(about & _content_words(answer)) / len(about), 4)
