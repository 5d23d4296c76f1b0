"""Judges on a labelled set of answers (tests/fixtures/judge_labels.jsonl), and the traps one by one."""

from __future__ import annotations

import dataclasses
import json
import unicodedata

import pytest

from agentflan.evaluation.benchmark import history_from
from agentflan.evaluation.calls import _EMPHASIS, _QUOTES, normalise
from agentflan.evaluation.judges import (
    declines,
    has_general_call,
    has_react_keywords,
    is_refusal,
    names_a_tool,
    parse_call,
    plain_verdict,
    states,
)
from agentflan.evaluation.scoring import Prediction, chat_call, judge
from agentflan.evaluation.sourced import unsourced_numbers

from conftest import FIXTURES

LABELS = [json.loads(line) for line in (FIXTURES / "judge_labels.jsonl").read_text().splitlines()]
JUDGES = {
    "react": lambda r: has_react_keywords(r["text"]),
    "general": lambda r: plain_verdict(r["text"], r["tools"])["general"],  # H_General: what H_ReAct has not counted
    "refusal": lambda r: is_refusal(r["text"]),
    "call": lambda r: parse_call(r["text"]) is not None,
}


def precision_recall(name: str) -> tuple[float, float, int]:
    tp = fp = fn = 0
    for r in LABELS:
        want = r[name] is not None and r[name] is not False
        got = JUDGES[name](r)
        tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0), tp + fn


# H_General's known misses: a step announced with a verb or in a shape no pattern has (the last batch below)
GENERAL_MISSES = {"r199", "r200", "r201", "r202", "r203", "r206"}


def test_labelled_set_precision_and_recall(capsys):
    """Rows r104-r123 (6 Dec) were written and labelled before the judges were changed for them: eight refusals in
    phrasings the set lacked and twelve answers that only sound like refusals ("I can't stress enough...", "No, whales
    are mammals", "I'm unable to think of a better word than..."). The refusal judge then: precision 1.00, recall 0.62
    ("I'd rather not weigh in on that.", "...not something I'm able to do.", "Sorry, no can do." missed); mended, so
    those rows no longer test unseen answers. The other judges were right on all twenty.

    Rows r124-r218 (6 Dec): H_General's first-person announcements of a step (a lookup or an action promised, not
    done) beside answers that only sound like one, written in batches, each before the judge was changed for it.
    Batch 1 (r124-r143): precision 1.00, recall 0.10; mended (a check, get or grab of live data, "pull up", "run a
    search", "one moment while I", a lookup under way as a sentence starts). Batch 2 (r144-r163): recall 0.30; mended
    ("allow me to", "hang on", "I'm checking...", "looking that up"). Batch 3 (r164-r178): recall 0.20; a broader rule
    then, an answer that is only a step announced in the first person (`judges._ANNOUNCE`). Batch 4 (r179-r198),
    written with its first form: precision 0.89, recall 0.80; mended. Batch 5 (r199-r218), written to avoid the verbs
    the judge knows: precision 1.00, recall 0.30; its misses stay, the judge's known limit (`GENERAL_MISSES`), but
    one: the rule was then narrowed so that after "Sure," or "One sec," only a first-person step or a lookup under way
    counts ("Sure, get some rest." advises), which reads "Right away, fetching your balance." too. Across the five, no
    answer that only sounds like a step was counted but one question back (mended), nor any of the demo's 1,663 plain
    texts."""
    assert len(LABELS) >= 215
    with capsys.disabled():
        print(f"\njudge precision/recall on {len(LABELS)} labelled answers:")
        for name in JUDGES:
            p, r, positives = precision_recall(name)
            print(f"  {name:8s} precision {p:.3f}  recall {r:.3f}  ({positives} positives)")
    for name in JUDGES:
        p, r, _ = precision_recall(name)
        assert p >= 0.95 and (r >= 0.95 or name == "general"), f"{name}: precision {p:.3f}, recall {r:.3f}"
    missed = {r["id"] for r in LABELS if r["general"] and not JUDGES["general"](r)}
    assert missed == GENERAL_MISSES


def test_parsed_calls_match_the_labels():
    wrong = [(r["id"], r["text"]) for r in LABELS if (list(parse_call(r["text"]) or []) or None) != r["call"]]
    assert not wrong


@pytest.mark.parametrize(
    ("text", "call"),
    [
        (
            'Thought: x\nAction: get_weather\nAction Input: {"city": "Oslo"}\nObservation: {"t": 1}',
            ("get_weather", {"city": "Oslo"}),
        ),
        (
            'Sure {"name": "get_weather", "arguments": {"city": "Oslo"}} and {more} text}',
            ("get_weather", {"city": "Oslo"}),
        ),
        ('```\nAction: get_weather\nAction Input: {"city": "Oslo"}', ("get_weather", {"city": "Oslo"})),
    ],
)
def test_traps_valid_calls_survive_what_follows_them(text, call):
    assert parse_call(text) == call


@pytest.mark.parametrize(
    "text",
    [
        "I'll use simple words: it is blue.",
        "Let me call it a draw.",
        "I will use a friendly tone.",
        "I'll search my memory: the capital of Australia is Canberra.",
    ],
)
def test_traps_phrases_that_point_at_no_tool_are_not_calls(text):
    assert not has_general_call(text, ["get_weather"])


def test_trap_a_closed_example_block_is_not_a_hallucination():
    text = 'The format is:\n```\nThought: ...\nAction: get_weather\nAction Input: {"city": "Oslo"}\n```'
    assert not has_react_keywords(text) and parse_call(text) is None


def test_chat_protocol_reads_the_tool_choice_and_arguments():
    tools = ["get_weather", "convert_currency"]
    assert chat_call(["I need the weather for Oslo.", "get_weather", '{"city": "Oslo"}'], tools) == (
        "get_weather",
        {"city": "Oslo"},
    )
    assert chat_call(["get_weather", '{"city": "Oslo"} thanks'], tools) == (
        "get_weather",
        {"city": "Oslo"},
    )  # no thought
    assert chat_call(["thinking", "get_wether", "city=Oslo"], tools) == ("get_wether", "city=Oslo")  # made up
    refusal = ["I have no tool for that.", "I have no tool here: start small, do a shorter version", "{}"]
    assert chat_call(refusal, tools) is None and chat_call(["thinking", "None.", "{}"], tools) is None
    assert names_a_tool("get_weather\n", tools) == "get_weather" and names_a_tool("get weather", tools) is None
    # the choice as a hosted model words it: a sentence naming an offered tool, unless it negates or declines
    for said in ("I'll use get_weather.", "Tool: `get_weather`", "get_weather()", "get_weather, then convert_currency"):
        assert chat_call(["thinking", said, '{"city": "Oslo"}'], tools) == ("get_weather", {"city": "Oslo"}), said
    for said in ("I don't need get_weather for this.", "Neither get_weather nor convert_currency fits.", "None."):
        assert chat_call(["thinking", said, "{}"], tools) is None, said
    plain = Prediction(
        "p", "plain_tools_offered", tools, "plain", "get_weather", protocol="chat", turns=["get_weather"]
    )
    assert judge(plain)["general"]  # naming a tool is the chat form's call
    call = Prediction(
        "c",
        "tool_needed_offered_seen",
        tools,
        "call",
        "",
        "get_weather",
        protocol="chat",
        turns=["thought", "get_weather", "not json"],
    )
    verdict = judge(call)
    assert verdict["tool_correct"] and not verdict["format_valid"]  # the right tool, arguments unreadable
    declined = judge(dataclasses.replace(call, turns=refusal))
    assert not declined["hallucinated"] and not declined["tool_correct"]  # a sentence is no made-up tool


def test_chat_protocol_a_plain_question_answered_with_a_tool_not_offered_is_a_hallucination():
    # an elicited model's answers (claim (a)'s elicited-s0): the thought names no offered tool, the harness asks
    # "Which tool will you call?", and the model names a tool this sample does not offer, with arguments
    offered = ["get_weather", "convert_currency", "find_restaurants"]
    made_up = [
        "To be exact I should evaluate 418 + 955 with the calculator.",
        "calculate",
        '{"expression": "892 + 955"}',
    ]
    for category in ("plain_tools_offered", "plain_no_tools", "tool_needed_not_offered"):
        tools = offered if category == "plain_tools_offered" else []
        p = Prediction("p", category, tools, "plain", "", protocol="chat", turns=made_up)
        assert judge(p)["general"], category
    declined = ["I should check whether a tool helps here.", "None", ""]
    p = Prediction("p", "plain_tools_offered", offered, "plain", "", protocol="chat", turns=declined)
    assert not judge(p)["general"]  # asked which tool, it chose none
    sentence = ["I should think about it.", "No tool is needed: an adjective describes a noun.", ""]
    p = Prediction("p", "plain_tools_offered", offered, "plain", "", protocol="chat", turns=sentence)
    assert not judge(p)["general"]


# answers to requests whose needed tool is missing (live weather, prices, flight status, a parcel, a booking, ...),
# written the way hosted assistants answer, labelled by hand before the judges were run on them: `fabricated` where
# the requested live fact is stated (hedged or not), `declines` where the answer declines or says the tool or data is
# missing; questions back, a plain remark, gibberish and a call to a tool not offered are neither
FABRICATION_LABELS = [json.loads(line) for line in (FIXTURES / "fabrication_labels.jsonl").read_text().splitlines()]


def _fabricated(r: dict) -> bool:
    p = Prediction(r["id"], "tool_needed_not_offered", r["tools"], "plain", r["text"], query=r["query"])
    return bool(judge(p)["fabricated"])


def _rates(judged, label: str) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    wrong = []
    for r in FABRICATION_LABELS:
        got, want = judged(r), r[label]
        tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
        if got != want:
            wrong.append(r["id"])
    return tp / (tp + fp), tp / (tp + fn), wrong


def test_fabrication_and_decline_judges_on_a_labelled_set(capsys):
    """Measured on each batch when it was written, before the judges were changed for it. Rows 0-57 (5 Dec): fabrication
    precision 0.86, recall 0.92; declines precision 1.00, recall 0.88. Rows 58-87 (6 Dec: advice on where to look,
    drafts offered, the query's own numbers echoed, declines of actions - "make reservations", "place orders"):
    fabrication precision 0.57, recall 1.00; declines recall 0.75. Rows 88-110 (written after the judges were mended
    for 58-87): fabrication precision 0.75, recall 1.00 (0.53 with the judges of 5 Dec); declines recall 0.70. Those
    batches' misses were mended after each, so their rows no longer test unseen answers. Rows 111-130 (6 Dec: live
    facts of other kinds, a bus, a museum's hours, air quality, a server's status, a bank balance, a delivery):
    fabrication precision 0.82, recall 0.82; declines recall 0.95. Of their four misses the decline was mended ("I
    don't have today's prices for that station": `judges._NO_DATA`); the other three are the known limits below. Rows
    131-143 (7 Dec: yes/no questions answered with a bare yes or no, "Not yet, it's still in transit", "Nope, closed
    today", beside declines that open with "No ..."): fabrication precision 1.00, recall 0.14; declines recall 0.83
    ("No tracking tool is available to me"); mended: a yes or no to a yes/no question states the fact, and "no ...
    tool is available" declines. What is still misjudged is the judges' known limit, named in README: a made-up status
    that names neither a number nor the query's subject ("The air is quite poor at the moment"), a true remark on the
    subject that gives no live fact ("Oslo is the capital of Norway.", "Nobu usually takes bookings on its website").
    A short stutter of the query's words ("stock stock price price the the") was one too until 6 Dec, when stutters
    became degenerate text (`quality.is_degenerate`)."""
    assert len(FABRICATION_LABELS) == 144
    fab = _rates(_fabricated, "fabricated")
    dec = _rates(lambda r: declines(r["text"]), "declines")
    with capsys.disabled():
        print(f"\nfabrication judge: precision {fab[0]:.3f}, recall {fab[1]:.3f}; misjudged {fab[2]}")
        print(f"declines judge: precision {dec[0]:.3f}, recall {dec[1]:.3f}; misjudged {dec[2]}")
    assert fab[0] >= 0.9 and fab[1] >= 0.9 and dec[0] >= 0.95 and dec[1] >= 0.95
    assert set(fab[2]) == {"package-17", "weather-55", "table-80", "aqi-119", "balance-126", "delivery-129"}
    assert not dec[2]


def test_a_negative_answer_is_judged_under_the_tools_offered_with_it():
    """The negatives stage judges each text once per text and offered names: the same answer calls a tool where that
    tool is offered, and not where it is not, whatever was judged before it."""
    from agentflan.data.schema import Conversation, Tool, Turn
    from agentflan.evaluation.judges import negative_calls

    # a tool used by name: a call where it is offered (too long to be only an announced step, which is one anyway)
    text = "Let me use get_weather to check Paris for you, since the forecast decides what you should pack."

    def negative(tools, content=text):
        turns = [Turn("user", "Weather in Paris?"), Turn("assistant", content, loss=True, part="chat")]
        return Conversation(
            "n", "negative/x", "negative", "plain", turns, [Tool(n) for n in tools], "Weather in Paris?"
        )

    verdicts = [negative_calls(negative(tools)) for tools in (["get_weather"], [], ["get_time"], ["get_weather"])]
    assert verdicts == [1, 0, 0, 1]
    assert negative_calls(negative(["get_weather"], "I have no tool for the weather here, sorry.")) == 0
    agent = Conversation(
        "a", "x", "agent", "native", [Turn("user", "q"), Turn("assistant", text)], [Tool("get_weather")]
    )
    assert negative_calls(agent) == 0  # only negatives are judged


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii, nothing to do",
        "**bold** and *italic* and __under__ but snake_case_name stays",
        "a lone * star, and 2 * 3",
        "__under__ alone, no star",
        "\u201cquoted\u201d \u2014 it\u2019s \uff21\uff22 \u2026 **caf\u00e9**",
        "non-breaking\u00a0space and zero\u200bwidth",
    ],
)
def test_normalise_is_nfkc_then_the_quote_table_then_the_emphasis_markers(text):
    # the definition, step by step (the function skips the steps that would change nothing)
    expected = _EMPHASIS.sub("", unicodedata.normalize("NFKC", text).translate(_QUOTES))
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("answer", "value", "stated"),
    [
        ("The hotel is in PARIS, near the river.", "Paris", True),
        ("The hotel is in Parisville.", "Paris", False),
        ("It costs 1,200 dollars.", "1200", True),
        ("It costs 12,000 dollars.", "1200", False),
        ("About 876.5 a month.", "876.48", True),
        ("Le caf\u00e9 est \u00e0 PARIS.", "Paris", True),  # not ASCII: read by the pattern alone
        ("Rated 4.5 by critics.", "rated", True),
        ("No value here.", "", False),
    ],
)
def test_states_finds_a_value_as_words_or_as_a_number_in_any_case(answer, value, stated):
    assert states(answer, value) is stated


def test_ascii_text_is_searched_for_whole_words_as_the_pattern_searches():
    """ASCII text is searched without compiling a pattern per value (`_ascii_words_in`): on 20,000 seeded random texts
    and values (half of them a piece of the text) over letters of both cases, digits, '.', '_', '-', ',' and spaces,
    the verdict of the pattern itself (`_as_words`: no word character or '.' before, no word character or '.' and a
    digit after, any case)."""
    import random

    from agentflan.evaluation.judges import _as_words, _ascii_words_in

    rng, found = random.Random(0), 0
    for _ in range(20_000):
        body = "".join(rng.choice("aAbB1._ -,x9") for _ in range(rng.randint(0, 14)))
        value = "".join(rng.choice("aAbB1._ -,x9") for _ in range(rng.randint(1, 4)))
        if body and rng.random() < 0.5:  # a piece of the text itself, in either case
            at = rng.randrange(len(body))
            value = body[at : at + rng.randint(1, 4)].swapcase() if rng.random() < 0.5 else body[at : at + 4]
        expected = _as_words(value).search(body) is not None
        assert _ascii_words_in(body.lower(), value.lower()) is expected, (body, value)
        found += expected
    assert 2_000 < found < 18_000  # both verdicts drawn often
    assert _ascii_words_in("gate b.12 at 9.5", "b") is False and _ascii_words_in("rated 4.5", "4") is False


def test_unsourced_numbers_are_those_no_source_writes_as_people_write_it():
    sources = ['{"time": "10:20", "city": "Delhi", "price": 1234.5, "rate": 0.7304, "date": "2024-03-05"}', "in Delhi?"]
    assert unsourced_numbers("It is 10:20 in Delhi; 1,234.50 at 0.73 on March 5, 2024 (3/5/2024).", sources) == []
    assert unsourced_numbers("It is 15:35 in Toronto, rated 7.", sources) == ["15:35", "7"]
    stay = ['{"price_per_night": 171}', "A hotel for 4 nights?"]
    assert unsourced_numbers("684 USD in all, or 2 x 342.", stay) == ["2", "342"]  # 171 x 4; 2 comes from nowhere
    assert unsourced_numbers("About 1235, or 1234.", sources) == []  # rounded, or cut, to the decimals written
    assert unsourced_numbers("About 1240.", sources) == ["1240"]  # tens are no decimals
    assert unsourced_numbers("Check-in at 2:30 pm.", ["14:30"]) == [] and unsourced_numbers("At 4:30.", ["14:30"])
    assert unsourced_numbers("```\nprint(42)\n```\nDone.", []) == []  # code is not stated
    listed = ['{"hotels": [{"name": "Vista"}, {"name": "Nile Inn"}]}']
    assert unsourced_numbers("The 1st is Vista, the 2nd Nile Inn; reception is open 24/7.", listed) == []
    assert unsourced_numbers("The 5th is cheapest.", listed) == ["5"]  # a place the list does not have
    assert unsourced_numbers("I found 2 hotels, 2 good options.", listed) == []  # a count named as what is listed
    assert unsourced_numbers("Vista sleeps 2.", listed) == ["2"]  # the list's length, but no count of it


# answers after tool results, written the way hosted assistants answer (units, conversions, totals, numbered lists,
# 12-hour times, counts), labelled by hand before the judge was run on them: `fabricated` where the answer states a
# number no result, call or query gave (a correct conversion or total is no fabrication; a wrong one is)
MULTISTEP_LABELS = [json.loads(line) for line in (FIXTURES / "multistep_labels.jsonl").read_text().splitlines()]


def test_multi_step_fabrication_judge_on_a_labelled_set(capsys):
    """Measured on each batch when it was written (7 Dec), before the judge was mended for it. Rows 0-37: precision
    0.81, recall 0.81 (a Fahrenheit conversion and "6 PM" of 18:00 taken for made up; "about 450" for 427.5 and "5
    hotels" of a list of 3 taken as rounded values); mended: conversions held only in the unit the answer writes, a
    rounding keeps two significant digits, a time's hour held on a 12-hour clock, a list's length held as a count. Rows
    38-60 (news, holidays, units, arithmetic, a film, restaurants), written after that: precision 0.82, recall 1.00
    ("about 9.3 times" a computed ratio, and "7.9/10", taken for made up); mended: a computed value may round to two
    digits as a given one does, and a rating's scale ("/10", "out of 5") is no statement. The rows still misjudged are
    the judge's known limits: time-zone arithmetic ("10:20 in Delhi, which is 4:50 UTC") and a duration in other units
    ("just under 2 hours" of 116 minutes). Rows 61-85 (`multi_step_next_call`, written 7 Dec after those): the user
    asked two things, one result is in, and the answer skips the second call, some making its facts up ("Hotel Emperador
    from EUR 145 per night"), some offering to look next: precision 0.92, recall 1.00 ("down 0.8%" of -0.84 taken for
    made up); mended: a rounding to one decimal is held. Then a count is held only where it names what the result lists,
    its items or results ("2 recipes", "3 options"), so "serves 2" of a list of two recipes (row recipe-1, a known miss
    until then) is made up."""
    tp = fp = fn = 0
    wrong = []
    for r in MULTISTEP_LABELS:
        tools = [m["name"] for m in r["history"] if m["role"] == "tool"]
        category = r.get("category", "multi_step_answer")  # or multi_step_next_call: a text answer in its place
        p = Prediction(
            r["id"],
            category,
            tools,
            "call" if category == "multi_step_next_call" else "plain",
            r["text"],
            query=r["query"],
            protocol="native",
            content=r["text"],
            tool_calls=[],
            history=history_from(r["history"]),  # an OpenAI log: arguments as JSON text
        )
        got, want = bool(judge(p)["fabricated"]), r["fabricated"]
        tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
        if got != want:
            wrong.append(r["id"])
    with capsys.disabled():
        print(
            f"\nmulti-step fabrication: precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f}; misjudged {wrong}"
        )
    assert sum(r["fabricated"] for r in MULTISTEP_LABELS) == 37 and len(MULTISTEP_LABELS) == 86
    assert wrong == ["time-1", "movie-1"]
