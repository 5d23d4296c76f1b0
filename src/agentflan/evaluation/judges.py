"""Judges of a model's answer on the text it wrote: hallucinated tool use, refusal, fabrication.

Built on `calls` (every call syntax models emit, parsed) and on normalised text (Unicode quotes and dashes,
Markdown emphasis). No word is taken from the demo world: a phrase counts when English grammar says the
answer is acting, not by the nouns the demo's tools are called.

- H_ReAct and H_General partition a plain answer's hallucinations as the paper defines them: ReAct keywords
  ("Thought:", "Action:", "Action Input:") or a ReAct step count in H_ReAct only; any other call (JSON, tagged,
  Python, Mistral) or a general tool-call phrase in H_General only. A phrase counts when it is a first-person
  intent ("I will", "let me", "I need to", ...) to use/call/invoke something that is a tool (the word tool,
  function, API, plugin, or an offered tool's name as a whole identifier), or an intent to search, look up,
  query, fetch or retrieve. "I could look that up with the converter, but ..." is no intent: neither.
- refusal: the answer declines ("I can't help with...", "that is beyond what I can do", "I have no live data").
  Expressions that only look like one ("I can't wait", "I can't recommend it enough") are not.
- fabrication, where the needed tool is missing: the answer neither declines, nor says a tool is missing, nor
  asks a question, and states the needed fact (a number, or something about the query's subject).
Text inside a closed code fence is an example shown, unless it is a call to an offered tool or the answer is
little more than the fence (see `calls.find_calls`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from agentflan.data.schema import Conversation
from agentflan.evaluation.calls import (
    fenced,
    find_calls,
    has_react_keywords,
    literal,
    names_whole,
    normalise,
    parse_call,
)
from agentflan.evaluation.quality import is_degenerate

__all__ = [
    "has_react_keywords",
    "parse_call",
    "plain_verdict",
    "has_general_call",
    "is_refusal",
    "declines",
    "asks",
    "fabricates",
    "announces_step",
    "names_a_tool",
    "first_json_value",
    "negative_calls",
    "states",
    "stated",
]

_INTENT = (
    r"\b(?:I\s+will|I'll|I\s+am\s+going\s+to|I'm\s+going\s+to|let\s+me|allow\s+me\s+to|I\s+need\s+to|I\s+must"
    r"|I\s+should|I\s+have\s+to|I\s+want\s+to|I'd\s+like\s+to|I\s+am\s+now|I'm\s+now)\s+"
    r"(?:now\s+|first\s+|just\s+|quickly\s+|go\s+ahead\s+and\s+)?"
)
_USE = re.compile(
    _INTENT + r"(?:use|call|invoke|run|trigger|execute|employ|utili[sz]e|consult|access|try)\b(?P<rest>[^.!?\n]*)", re.I
)
_USING = re.compile(r"(?:^|[.!?:]\s+)(?:calling|invoking|using|querying)\s+(?P<rest>[^.!?\n]*)", re.I)
# "one moment while I ...", "give me a second to ...": the step announced, a verb next
_WHILE_I = (
    r"\b(?:(?:one|just\s+a)\s+(?:moment|second|sec|minute)|hold\s+on|hang\s+(?:on|tight)|bear\s+with\s+me|please\s+wait"
    r"|(?:give|allow)\s+me\s+a\s+(?:moment|second|sec|minute))\b[,\s]*(?:while\s+I\s+|to\s+|I'll\s+|I\s+will\s+)"
)
_LIVE = r"(?:latest|current|live|real-time|up-to-date|today's|tonight's)"  # what only a lookup knows
_LOOKUP = re.compile(  # "I'll search my memory" looks nothing up; "let me check the math" looks nothing up either
    rf"(?:{_INTENT}|{_WHILE_I})"
    r"(?:search|look\s+(?:\w+\s+)?up|query|fetch|retrieve|pull\s+up"
    r"|(?:run|do|perform)\s+(?:a\s+)?(?:quick\s+)?(?:search|lookup|look-up|query)"
    rf"|(?:check|get|grab|find)\s+(?:the\s+|what\s+)?(?:[\w-]+\s+)?{_LIVE})"
    r"\b(?!\s+(?:my|our)\s+(?:memory|mind|brain|recollection)\b)",
    re.I,
)
# a lookup under way, said as it starts ("Checking the weather in Oslo for you...", "Fetching live prices now."); not
# a gerund that is a sentence's subject ("Checking your tire pressure monthly is a good habit.")
_DOING = re.compile(
    r"(?:^|[.!?:]\s+|\b(?:sure|okay|ok|alright|right|got\s+it)[,!.]?\s+)"
    r"(?:checking|fetching|searching|looking\s+up|pulling\s+up|retrieving|querying|grabbing|getting)\b[^.!?\n]*?"
    r"\b(?:for\s+you|now|right\s+away)(?=\s*(?:\.\.\.|[.!])?\s*(?:$|\n|(?-i:[A-Z])))"  # the sentence ends there
    # or in the first person ("I'm checking the latest rates", "Just a sec, looking that up")
    r"|\bI(?:'m|\s+am)\s+(?:now\s+)?(?:checking|fetching|searching|looking\s+(?:\w+\s+)?up|pulling\s+up|retrieving"
    r"|querying|grabbing|getting)\b|\blooking\s+(?:that|it|this|them)\s+up\b",
    re.I,
)
# an answer that is only a step announced in the first person, a lookup or an action promised and not done ("Let me
# scan the listings.", "One sec, checking.", "Sure, I'll run the conversion."): a dozen words at most, and no number,
# colon or question (an answer that goes on to answer, or asks back, announces nothing). After "Sure," or "One sec,"
# only a first-person step or a lookup under way counts: "Sure, get some rest." advises
_STEP_VERB = (
    r"(?:check|verify|confirm|look\s+(?:into|up|for)|see\s+(?:if|whether|what|which|how)|search|scan|find(?:\s+out)?"
    r"|fetch|get(?!\s+back\b)|grab|pull|dig\s+up|query|consult|run|book|reserve|browse|access|retrieve|track|gather"
    r"|compile|contact|ping)\b"  # "I'll get back to you" promises no step
)
_STEP_UNDER_WAY = (
    r"(?:checking|searching|looking|verifying|fetching|scanning|pulling|grabbing|querying)\b"  # not "getting"
)
_FIRST_PERSON_STEP = (
    r"\b(?:let\s+me|allow\s+me\s+to|I\s+will|I'll|I(?:'m|\s+am)\s+going\s+to|I(?:'m|\s+am)\s+now)\s+"
    rf"(?:\w+\s+){{0,3}}?{_STEP_VERB}"
)
_ANNOUNCE = re.compile(
    rf"{_FIRST_PERSON_STEP}|{_WHILE_I}(?:\w+\s+){{0,3}}?{_STEP_VERB}"
    r"|^(?:(?:one|just\s+a)\s+(?:sec|second|moment|minute)|(?:hang|hold)\s+(?:on|tight)|bear\s+with\s+me|sure(?:\s+thing)?"
    rf"|okay|ok|alright|right\s+away)[,.!]?\s+(?:{_FIRST_PERSON_STEP}|{_STEP_UNDER_WAY})",
    re.I,
)


def announces_only(body: str) -> bool:
    """The answer (outside fences) is only `_ANNOUNCE`'s step."""
    return len(body.split()) <= 12 and not re.search(r"[\d:?]", body) and bool(_ANNOUNCE.search(body.strip()))


_TOOL_WORD = re.compile(r"\b(?:tool|function|API|plugin|endpoint)s?\b", re.I)
_CALL_BEGUN = re.compile(
    r"^\s*\[?\s*\{\s*[\"'](?:thought|name|arguments|tool|function|action|parameters|type)[\"']\s*:", re.I
)
_CALL_TAG = re.compile(
    r"<tool_call>|<functioncall>|\[TOOL_CALLS\]|<\|python_tag\|>|<function=", re.I
)  # a call opened, whatever follows
_CANT = (
    r"(?:can(?:no|')?t(?:'t)*|can\s+not|am\s+(?:unable|not\s+able)\s+to|'m\s+(?:unable|not\s+able)\s+to|won't\s+be\s+able\s+to"
    r"|am\s+not\s+in\s+a\s+position\s+to|'m\s+not\s+in\s+a\s+position\s+to|don't\s+have\s+the\s+ability\s+to)"
)
_TOOL = r"(?:tools?|toolset|toolkit|functions?|APIs?|plugins?)"
_THESE_TOOLS = (  # the conversation's own tools: "the available tools", "the functions I have", "tools provided here"
    rf"(?:\b(?:available|provided|offered|given|listed|current)\s+{_TOOL}|\b{_TOOL}\s+(?:I\s+have(?:\s+access\s+to)?"
    r"|I\s+can\s+(?:use|call)|(?:available|provided|offered)(?:\s+to\s+me|\s+here)?|here|at\s+my\s+disposal"
    r"|you\s+(?:gave|provided|offered)(?:\s+me)?))"
)
# the conversation's tools said not to cover the need ("None of the available tools can ...", "the provided functions
# don't support ...", "the tools I have only cover ...", "there isn't a tool here that ...")
_TOOLS_DO_NOT_FIT = (
    rf"\b(?:no|not\s+a|not\s+any)\s+(?:such\s+|suitable\s+|relevant\s+|matching\s+|appropriate\s+)?{_TOOL}"
    r"\s+(?:is\s+|are\s+)?(?:available|offered|provided|here)"
    rf"|\bnone\s+of\s+(?:the\s+|my\s+|these\s+|your\s+)?(?:[\w-]+\s+){{0,2}}{_TOOL}\b"
    r"(?!\s+(?:is|are)\s+(?:\w+\s+)?(?:needed|necessary|required))"  # "none of the tools are needed here": no decline
    rf"|\bthere\s+(?:isn't|is\s+not|aren't|are\s+not|is\s+no|are\s+no)\s+(?:a\s+|an\s+|any\s+)?(?:[\w-]+\s+){{0,2}}{_TOOL}"
    r"\s+(?:here|available|offered|provided|(?:that|which)\s+(?:I\s+)?can|I\s+can)\b"
    rf"|(?:\bnot|n't)\s+(?:possible|available)\s+(?:with|through|via|using)\s+(?:the\s+|my\s+|any\s+|these\s+)?{_THESE_TOOLS}"
    rf"|{_THESE_TOOLS}\s+(?:(?:don't|do\s+not|doesn't|does\s+not|can't|cannot|can\s+not|aren't\s+able\s+to"
    r"|are\s+not\s+able\s+to)\s+(?:\w+\s+)?|(?:can\s+)?only\s+)"
    r"(?:cover|support|include|handle|offer|provide|allow|let|do|retrieve|fetch|get|look|give|deal|help|access|check)"
    r"|\b(?:my|the)\s+(?:current\s+)?(?:capabilities|abilities)\s+(?:don't|do\s+not)\s+(?:include|cover|extend|allow)"
    rf"|{_THESE_TOOLS}\b[^.!?\n]{{0,80}}?\bnone\s+(?:of\s+them\s+)?(?:can|could|is\s+able\s+to|are\s+able\s+to|will)\b"
)
_I_CANT = rf"\bI\s*{_CANT}\s+(?:\w+\s+){{0,2}}?"  # "I can't", "I'm not able to really ...": a verb follows
_NOT_A_REFUSAL = re.compile(
    r"\bI\s+can(?:no|')?t\s+(?:wait|believe|stress|imagine|thank|help\s+but|help\s+feeling|recommend\b[^.!?]*\benough)",
    re.I,
)
_REFUSAL = re.compile(
    rf"{_I_CANT}(?:do|help|get|answer|provide|access|look|check|find|tell|assist|complete|perform"
    r"|fetch|pull|track|retrieve|give|have|see|browse|know|search|say|share|offer|predict|report|confirm|book|reach)\b"
    r"|\b(?:beyond|outside)\s+(?:the\s+(?:scope|range)\s+of\s+)?(?:what\s+I\s+can|my\s+(?:abilities|capabilities|reach|scope|means)"
    r"|the\s+(?:[\w-]+\s+)?(?:tools?|functions?))"
    r"|(?:\bnot|n't)\s+something\s+I(?:\s+can|\s+am\s+able\s+to|'m\s+able\s+to)\b"  # "isn't something I can do"
    r"|\bI\s+can\s+only\s+(?:help|assist|answer|provide)\b"
    r"|\bI'd\s+rather\s+not\s+(?:answer|weigh\s+in|comment|discuss|get\s+into|say|share|speculate|go\s+into)\b"
    r"|\bno\s+can\s+do\b"
    r"|\bI\s+(?:don't|do\s+not)\s+know\s+(?:the|last|today's|tonight's|this|what|whether|how|which|where|when|who)\b"
    r"(?![^.!?;\n]*\bbut\b)"  # "I don't know last night's results" declines; "I don't know the year, but ..." answers
    r"|\b(?:answering|that|this|it)\s+(?:needs|requires|would\s+need|would\s+require)\s+(?:a\s+tool|live|real-time|current|internet|web)"
    r"|\bI\s+(?:don't|do\s+not)\s+have\s+(?:access|real-time|live|current|up-to-date|internet|browsing|a\s+way|any\s+way|the\s+ability"
    r"|(?:a|an|any|the)\s+(?:[\w-]+\s+){0,2}(?:tools?|functions?|APIs?|plugins?|access|data|capabilit(?:y|ies))\b|tools|functions)"
    r"|\bI\s+have\s+no\s+(?:[\w-]+\s+){0,2}(?:tools?|functions?|APIs?|access|way|data|information|connection)\b"
    rf"|{_TOOLS_DO_NOT_FIT}"
    r"|\bI'?m\s+(?:afraid|sorry),?\s+(?:but\s+)?(?:I\s+)?(?:can(?:no|')?t|cannot|am\s+unable|'m\s+unable|don't\s+have)",
    re.I,
)
_ACTION_DECLINED = re.compile(  # "I'm unable to make reservations", "I can't send emails": declines where a tool is due
    rf"{_I_CANT}(?:make|send|place|order|reserve|buy|purchase|pay|schedule|arrange|contact|call"
    r"|email|message|post|submit|cancel|monitor|connect|control|open|run|read|set|follow|stream|watch|play|turn|start"
    r"|stop|remind|notify|save|edit|delete|upload|download|install|transfer|print|log|sign|register|subscribe|verify"
    r"|view|translate|convert|calculate)\b",
    re.I,
)
_MISSING_TOOL = re.compile(
    r"\b(?:need|needs|require|requires|without|lack|lacks|missing)\s+(?:a|an|the|any)?\s*(?:[\w-]+\s+){0,3}"
    r"(?:tools?|API|plugin|live\s+data|real-time\s+data|internet\s+access|web\s+access)\b"
    r"|\bno\s+(?:[\w-]+\s+){0,2}(?:tools?|functions?|APIs?|plugins?)\s+(?:is|are)\s+(?:available|offered|provided|connected)\b",
    re.I,
)
# "I don't have today's prices for that station": the live data it would need is missing (`_REFUSAL` reads "I don't have
# access", "... current", "... live", "... real-time" and "... up-to-date" already, and `declines` asks it first)
_NO_DATA = re.compile(
    r"\bI\s+(?:do\s+not|don't)\s+have\s+(?:today's|the\s+latest|latest|recent)\s+(?:[\w-]+\s+){0,3}?(?:prices?|data"
    r"|information|info|figures|numbers|rates?|quotes?|listings?|status|readings?|details|schedules?|times?)\b",
    re.I,
)
_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = frozenset(
    "what when where which whose with would could should there their about from have this that these those your "
    "today tomorrow please tell give find show much many does will into than then them they were been being "
    "just like some more most also only very over under after before".split()
)


def first_json_value(text: str) -> tuple[Any, bool]:
    """The JSON value (or Python literal) the text starts with and whether it parsed; else the first line."""
    stripped = normalise(text).lstrip()
    found = literal(stripped)
    return (found[0], True) if found else (stripped.split("\n", 1)[0].strip(), False)


def _outside(text: str) -> str:
    return fenced(normalise(text))[0]


def has_general_call(text: str, tools: Iterable[str] = ()) -> bool:
    """A call that is not ReAct's, a call begun and never closed, or a general phrase that acts with a tool."""
    names = [n for n in tools if n]
    if any(c.style != "react" for c in find_calls(text, names)):
        return True
    body = _outside(text)
    if _CALL_TAG.search(body) or (_CALL_BEGUN.match(body) and not first_json_value(body)[1]):  # opened, never closed
        return True
    if _LOOKUP.search(body) or _DOING.search(body) or announces_only(body):
        return True
    for m in (*_USE.finditer(body), *_USING.finditer(body)):
        rest = m["rest"]
        if _TOOL_WORD.search(rest) or any(names_whole(n, rest) for n in names):
            return True
    return False


def plain_verdict(text: str, tools: Iterable[str] = ()) -> dict[str, bool]:
    """H_ReAct, H_General (a partition: a ReAct answer counts in the first only) and refusal of a plain answer."""
    names = list(tools)
    react = has_react_keywords(text) or any(c.style == "react" for c in find_calls(text, names))
    return {"react": react, "general": not react and has_general_call(text, names), "refusal": is_refusal(text)}


_STEP = re.compile(_INTENT + r"\w+|\bI\s+need\s+(?:the|a|an|some)\b", re.I)


def announces_step(text: str, tools: Iterable[str] = ()) -> bool:
    """The answer announces a step rather than ending the turn (an intent in the first person, a tool named, a call,
    ReAct): the chat harness reads it as a thought, whatever the sample's truth, and asks which tool."""
    names = list(tools)
    return (
        bool(_STEP.search(_outside(text)))
        or names_a_tool(text, names) is not None
        or has_react_keywords(text)
        or bool(find_calls(text, names))
    )


def names_a_tool(text: str, tools: Iterable[str]) -> str | None:
    """The offered tool an answer names as its whole first line (the chat form's tool choice)."""
    first = _outside(text).strip().split("\n", 1)[0].strip().strip("`'\".:")
    return first if first in set(tools) else None


# a decline's sentence that goes on to answer: "I can't browse the web, but I know this one: ..." (not "..., but you
# could ask a librarian", "..., but if you tell me more", "..., but I'll use the tool if you connect it", "..., but I
# can help you find it": those still decline)
_BUT_ANSWERS = re.compile(
    r"[^.!?;:\n]*?,?\s+but\s+(?!you\b|try\b|check\b|consider\b|ask\b|feel\b|perhaps\b|maybe\b|if\b|please\b"
    r"|I\s*(?:would|'d|will|'ll)\b|I\s+(?:can|could)\s+(?:help|suggest|point|recommend|try|guide)\b|here's\s+how\b)",
    re.I,
)


def is_refusal(text: str) -> bool:
    """The answer declines to help (outside code blocks); a capability disclaimer whose sentence goes on to answer
    ("I can't browse, but the plural of 'mouse' is 'mice'") is no refusal."""
    body = _declining(text)
    return body is not None and any(not _BUT_ANSWERS.match(body, m.end()) for m in _REFUSAL.finditer(body))


def _declining(text: str) -> str | None:
    """The text outside code blocks, its idioms ("I can't wait") blanked, where it says it cannot help; else None."""
    body = _outside(text)
    if not _REFUSAL.search(body):
        return None
    body = _NOT_A_REFUSAL.sub(" ", body)
    return body if _REFUSAL.search(body) else None


def declines(text: str) -> bool:
    """Declines, says that a tool (or the live data) it would need is missing, or that it cannot do the action asked
    ("I'm unable to make reservations": where a tool is due, a decline; beside an answer to a question that needs
    none, "I can't make that decision for you, but here are the pros and cons", no refusal: `is_refusal` leaves
    these out)."""
    body = _outside(text)
    return _declining(text) is not None or bool(  # "I can't check prices, but Sony makes games": declined all the same
        _MISSING_TOOL.search(body) or _ACTION_DECLINED.search(body) or _NO_DATA.search(body)
    )


def asks(text: str) -> bool:
    """Asks the user something back."""
    return "?" in _outside(text)


_BUT = re.compile(r"\bbut\b", re.I)
_GUESSED = re.compile(r"^[^.!?\n]*\d")  # a number before the clause ends
_POINTER = re.compile(r"\s*(?:you|your|try|check|visit|see)\b", re.I)  # "..., but you can check 3 sites": advice


def guesses(body: str) -> bool:
    """A decline that goes on to give a number anyway: "I can't pull live quotes, but Apple was trading around $225"
    (not "I'm sorry, but I can't check flight BA117", where the clause after "but" is the decline, nor "..., but you can
    try these 3 sites", advice)."""
    parts = _BUT.split(body)
    return any(
        _GUESSED.search(part) and not _POINTER.match(part) and not declines(part) and declines(" ".join(parts[:i]))
        for i, part in enumerate(parts)
        if i
    )


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_DRAFT = re.compile(  # a text offered for the user to send: "here's a message you could send John: '...'"
    r"\b(?:draft|message|note|template|e-?mail|text|reply|wording)\s+(?:that\s+|which\s+)?you\s+(?:can|could|might|may)"
    r"\s+(?:send|use|copy|adapt|paste|forward)\b|\bhere(?:'s|\s+is)\s+(?:a|an)\s+(?:[\w-]+\s+){0,2}?(?:draft|template)\b",
    re.I,
)
_WHERE_TO_LOOK = (
    r"(?:check|visit|try|use|see|look|have\s+a\s+look|head|go|contact|call|enter|open|search|compare|consult|ask"
    r"|download|book|order|convert|log\s+in|sign\s+in|find\s+(?:it|this|that|them|one|out))\b"
)
_POINTER_SENTENCE = re.compile(  # advice on where to look: "Check Space.com for ...", "To find out, enter it on ..."
    rf"^(?:(?:for|to)\b[^,]{{0,80}},\s*)?(?:please\s+|just\s+)?(?:{_WHERE_TO_LOOK}|you(?:'ll|'d)?\s+"
    rf"(?:can\s+|could\s+|might\s+|may\s+|should\s+|will\s+|would\s+)?(?:also\s+|easily\s+)?(?:want\s+to\s+|need\s+to\s+)?"
    rf"{_WHERE_TO_LOOK})"
    r"|(?:\b(?:apps?|sites?|websites?|pages?|services?|banks?|trackers?|converters?|feeds?|newsroom)\b|\w\.(?:com|org|net|gov)\b)"
    r"[^.!?]{0,60}?\b(?:will|would|should|can)\s+(?:show|have|list|give\s+you|tell\s+you)\b"
    r"|\bgood\s+(?:places?|sources?|sites?|options?)\s+to\b"
    r"|^you(?:'ll|\s+will|\s+can|\s+could)?\s+find\b[^.!?]{0,60}?\b(?:on|in|at|through|via)\b",
    re.I,
)
_DIGITS = re.compile(r"\d+(?:[.,:]\d+)*")


def stated(body: str, query: str = "") -> str:
    """What an answer states of its own (`body`: outside code fences): a draft it offers for the user to send, advice
    on where to look that gives no number ("Check Space.com for the latest headlines", "To find out, enter TRK137302
    on the carrier's page") and the query's own numbers (its tracking number, its 5 nights) taken out."""
    if draft := _DRAFT.search(body):
        body = body[: max(body.rfind(c, 0, draft.start()) for c in ".!?;\n") + 1]
    echoed = set(_DIGITS.findall(query))
    body = _DIGITS.sub(lambda m: " " if m[0] in echoed else m[0], body) if echoed else body
    return " ".join(
        s for s in _SENTENCE_END.split(body) if _NUMBER.search(s) or not _POINTER_SENTENCE.search(s.strip())
    )


_YES_NO_QUESTION = re.compile(r"\s*(?:has|have|had|is|are|was|were|does|do|did|will|would|can|could|am)\b", re.I)
# its answer: "Not yet, it's still in transit", "Nope, closed today", "No, it's dry" (not "No idea", "No problem", "No,
# sorry", nor "No tracking tool is available")
_YES_NO = re.compile(
    r"\W*(?:yes|yeah|yep|yup|nope|not\s+yet|no(?=\s*[,.!;:\u2014-]))\b(?!\W*(?:sorry|idea|way|problem|worries|need)\b)",
    re.I,
)


def fabricates(text: str, query: str = "") -> bool:
    """Where the needed tool is missing: states the fact anyway (a number, a yes or no to a yes/no question, or about
    the query's subject) with no decline, no word of a missing tool, no question and no call; a decline that goes on to
    give a number anyway ("..., but it's probably about 14°C") still states it. What is `stated` is judged: a draft
    offered, advice on where to look and the query's own numbers state nothing."""
    if not text.strip() or is_degenerate(text) or asks(text) or find_calls(text):
        return False
    body = stated(_outside(text), query)
    if declines(text) and not guesses(body):
        return False
    if _NUMBER.search(body) or (_YES_NO_QUESTION.match(query) and _YES_NO.match(body)):
        return True
    words = {w.lower() for w in _WORD.findall(body)}
    return bool(words) and (not query or bool(words & ({w.lower() for w in _WORD.findall(query)} - _STOP)))


def negative_calls(conv: Conversation) -> int:
    """Answers of a hallucination negative that call a tool anyway (the `final` suite wants 0)."""
    if conv.kind != "negative":
        return 0
    names = tuple(t.name for t in conv.tools)
    return sum(
        1 for t in conv.assistant_turns if t.call is not None or t.tool_calls or _calls_in_text(t.content, names)
    )


@functools.lru_cache(maxsize=4096)
def _calls_in_text(text: str, names: tuple[str, ...]) -> bool:
    """A plain answer that calls a tool in its text (ReAct or general), judged once per text and offered names: the
    negatives stage judges every negative, most of them one of a few refusals per tool (two thirds of the judgements
    at 500k trajectories; the judge was a tenth of the stage's per-record work, 5 Dec 2026)."""
    return has_react_keywords(text) or has_general_call(text, names)


_QUANTITY = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w]|\.\d)|(?<![\w.,])-?\d+(?:\.\d+)?(?![\w]|\.\d)")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


_NUMERIC = re.compile(r"-?[\d,]*\d(?:\.\d+)?")


@functools.lru_cache(maxsize=4096)
def _as_words(value: str) -> re.Pattern[str]:
    """`value` as whole words in any case, for text that is not ASCII (ASCII text: `_ascii_words_in`); compiled once
    per value (more values than `re`'s own cache of 512 patterns holds)."""
    return re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", re.I)


def states(text: str, value: str) -> bool:
    """An answer states `value` (a tool result's value): a number as a number ("171" by "$171.00 a night" or "171 USD",
    "1200" by "1,200"; not by "1710" or "0.171"), or rounded to fewer decimals as people write it ("876.48" by
    "about 876.5" or "876", with two significant digits at least: not "0.7312" by "1"), a date, a time of day or a
    percentage as people write them (`_states_as_written`), anything else as whole words in any case."""
    body = normalise(text)
    return states_normalised(body, value, rounded=True) or _states_as_written(body, normalise(value).strip())


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?")
_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)\s*%")
_MONTHS = "january february march april may june july august september october november december".split()


def _states_as_written(body: str, value: str) -> bool:
    """A tool result's ISO date, 24-hour time or percentage as an answer writes it: "2024-03-05" by "March 5, 2024",
    "5 March", "Mar 5th" or "3/5/2024" (a year written must be the same year); "14:30" by "2:30 pm"; "2.5%" by "2.5
    percent" (the number, as `states` reads numbers)."""
    if date := _ISO_DATE.fullmatch(value):
        year, month, day = (int(x) for x in date.groups())
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return False
        name, d, y = (
            rf"(?:{_MONTHS[month - 1]}|{_MONTHS[month - 1][:3]}\.?)",
            rf"0?{day}(?:st|nd|rd|th)?",
            rf"{year}|{year % 100:02d}",
        )
        other_year = rf"(?!,?\s*(?!{year})\d{{4}})"  # a year written after it must be this one
        return any(
            re.search(pattern, body, re.I)
            for pattern in (
                rf"\b{name}\s+{d}\b{other_year}",
                rf"\b{d}\s+(?:of\s+)?{name}\b{other_year}",
                rf"(?<![\d/.])0?{month}/0?{day}/(?:{y})\b|(?<![\d/.])0?{day}[/.]0?{month}[/.](?:{y})\b",
            )
        )
    if clock := _CLOCK.fullmatch(value):
        hour, minute = int(clock[1]), int(clock[2])
        minutes = rf":{minute:02d}" if minute else "(?::00)?"
        meridiem = "p" if hour >= 12 else "a"
        return re.search(rf"(?<![\d:]){hour % 12 or 12}{minutes}\s*{meridiem}\.?\s?m\b", body, re.I) is not None
    if percent := _PERCENT.fullmatch(value):
        return states_normalised(body, percent[1], rounded=True)
    return False


def states_normalised(body: str, value: str, rounded: bool = False) -> bool:
    """`states` of a text already `normalise`d (one text asked about many values normalises once); `rounded`: a
    number rounded to fewer decimals counts (an answer's), else only the same number does (a reference's)."""
    v = normalise(value).strip()
    if not v:
        return False
    target = _number(v) if _NUMERIC.fullmatch(v) else None
    if target is not None:
        places = len(v.rsplit(".", 1)[1]) if rounded and "." in v else 0
        return any(_same_number(m, target, places) for m in _quantities(body))
    if v.isascii() and body.isascii():
        return _ascii_words_in(_lowered(body), v.lower())
    return _as_words(v).search(body) is not None


def _ascii_words_in(body: str, value: str) -> bool:
    """`_as_words(value).search(body)` where both are ASCII and lower-cased, without a pattern compiled per value (the
    benchmark stage asks about thousands of distinct values: compiling them was a tenth of its per-record work at
    500k trajectories, 6 Dec 2026): an occurrence with no letter, digit, '_' or '.' just before it, and no letter,
    digit or '_' (nor a '.' and a digit) just after."""
    at = body.find(value)
    while at >= 0:
        before, end = body[at - 1 : at], at + len(value)
        after = body[end : end + 1]
        if not (before.isalnum() or before in ("_", ".")):  # "" (the text's start) is neither
            if not (after.isalnum() or after == "_" or (after == "." and body[end + 1 : end + 2].isdigit())):
                return True
        at = body.find(value, at + 1)
    return False


@functools.lru_cache(maxsize=8)
def _quantities(body: str) -> tuple[str, ...]:
    """The numbers a text states, found once for the many values asked about it (the benchmark stage asks about
    each value of a conversation's tool results)."""
    return tuple(_QUANTITY.findall(body))


@functools.lru_cache(maxsize=8)
def _lowered(body: str) -> str:
    return body.lower()


def _same_number(stated: str, target: float, places: int) -> bool:
    """`stated` is `target`, or `target` (with `places` decimals) rounded to the fewer decimals `stated` keeps."""
    x = _number(stated)
    if x is None or x == target:
        return x is not None
    kept = len(stated.rsplit(".", 1)[1]) if "." in stated else 0
    significant = len(stated.replace(",", "").replace(".", "").lstrip("-0"))
    return kept < places and significant >= 2 and abs(x - target) <= 0.5 * 10**-kept + 1e-9
