"""The judges on answers written the way real assistants write them (not from the demo's templates): one test per
class of answer that fooled the earlier judges, several phrasings each. A regression set: every phrasing stays here."""

from __future__ import annotations

import dataclasses

import pytest

from agentflan.evaluation.calls import find_calls, typed
from agentflan.evaluation.judges import declines, fabricates, is_refusal, parse_call, plain_verdict, states
from agentflan.evaluation.quality import chrf, subject, without_query
from agentflan.evaluation.scoring import Prediction, aggregate, judge

TOOLS = ["find_flights", "get_weather", "convert_currency"]
OSLO = ("get_weather", {"city": "Oslo"})


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',  # Hermes / Qwen2.5
        'Sure, checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        '```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```',  # fenced JSON
        'Here is the call:\n```\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```',
        # the OpenAI shape, arguments as a JSON string
        '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}}',
        '{"tool_calls": [{"id": "call_1", "type": "function", '
        '"function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Oslo\\"}"}}]}',
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}',  # Llama 3.1
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        # InternLM2
        '<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Oslo"}}<|action_end|>',
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Oslo"}}]',  # Mistral v3
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}',  # Mistral v11
        '<function=get_weather>{"city": "Oslo"}</function>',  # Llama 3.1's custom tools
        # Qwen3-Coder: a tag a parameter, its value as text
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>",
        '✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Oslo"}',  # Qwen-Agent's prompt (Qwen 1.5, 2)
        # gpt-oss's harmony: a commentary message to the function, after its analysis or alone
        "<|channel|>analysis<|message|>The user wants the forecast.<|end|><|start|>assistant<|channel|>commentary "
        'to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>',
        '<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city":"Oslo"}<|call|>',
        # Kimi K2
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
        '{"city": "Oslo"}<|tool_call_end|><|tool_calls_section_end|>',
        # GLM-4.5: the name, then key and value pairs as text
        "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>",
        # DeepSeek V3 and R1: the type, the name, the arguments fenced; V3.1: the name, the arguments
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
        '```json\n{"city": "Oslo"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
        '{"city": "Oslo"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        'I will check.\n✿FUNCTION✿: get_weather\n✿ARGS✿: {"city": "Oslo"}\n✿RESULT✿: {"temp_c": 3}\n✿RETURN✿: 3 C.',
        'Let me check.\n<function=get_weather>{"city": "Oslo"}</function>',
        '<functioncall> {"name": "get_weather", "arguments": \'{"city": "Oslo"}\'}',  # glaive
        '>>>get_weather\n{"city": "Oslo"}',  # Functionary v3.2: a recipient, its arguments on the next line
        '>>>all\nLet me look that up.>>>get_weather\n{"city": "Oslo"}',  # after its text to the user
        '<|from|>assistant\n<|recipient|>get_weather\n<|content|>{"city": "Oslo"}',  # Functionary v2
        'get_weather\n{"city": "Oslo"}',  # GLM-4 (glm-4-9b-chat): the name on its line, the arguments
        # MiniMax-M2's XML, and Anthropic's: a value a parameter, as text
        '<minimax:tool_call>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n</invoke>\n'
        "</minimax:tool_call>",
        '<function_calls>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n</invoke>\n'
        "</function_calls>",
        # Gemma 4: keys bare, strings between <|"|> marks; FunctionGemma the same with <escape>; a line opening with
        # the call where decoding left the special tokens out
        '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>,days:3}<tool_call|>',
        "<start_function_call>call:get_weather{city:<escape>Oslo<escape>}<end_function_call>",
        "Let me check.\ncall:get_weather{city:Oslo}",
        # DeepSeek V4's and V3.2's DSML invoke blocks, Step-3's in its namespace inside DeepSeek-style call tokens
        '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="get_weather">\n'
        '<｜DSML｜parameter name="city" string="true">Oslo</｜DSML｜parameter>\n'
        "</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
        '<｜DSML｜function_calls><｜DSML｜invoke name="get_weather"><｜DSML｜parameter name="city">Oslo'
        "</｜DSML｜parameter></｜DSML｜invoke></｜DSML｜function_calls>",
        '<｜tool_calls_begin｜><｜tool_call_begin｜>function<｜tool_sep｜><steptml:invoke name="get_weather">'
        '<steptml:parameter name="city">Oslo</steptml:parameter></steptml:invoke>'
        "<｜tool_call_end｜><｜tool_calls_end｜>",
        '<function name="get_weather"><param name="city">Oslo</param></function>',  # MiniCPM5
        # MiniMax-M3: its namespace before each tag, an argument a tag of its own
        ']<]minimax[>[<tool_call>\n]<]minimax[>[<invoke name="get_weather">\n'
        "]<]minimax[>[<city>Oslo]<]minimax[>[</city>\n]<]minimax[>[</invoke>\n]<]minimax[>[</tool_call>",
        # Hy3 (GLM-4.5's pairs after <tool_sep>), K2-Horizon (the same in its ifm| namespace)
        "<tool_calls>\n<tool_call>get_weather<tool_sep>\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n"
        "</tool_call>\n</tool_calls>",
        "<ifm|tool_calls><ifm|tool_call>get_weather\n<ifm|arg_key>city</ifm|arg_key><ifm|arg_value>Oslo</ifm|arg_value>"
        "</ifm|tool_call></ifm|tool_calls>",
        # Kimi K3: typed argument blocks, or one JSON block
        '<|open|>tools<|sep|><|open|>call tool="get_weather" index="1"<|sep|><|open|>argument key="city" type="string"'
        "<|sep|>Oslo<|close|>argument<|sep|><|close|>call<|sep|><|close|>tools<|sep|>",
        '<|open|>call tool="get_weather"<|sep|><|open|>json type="object"<|sep|>{"city": "Oslo"}<|close|>json<|sep|>'
        "<|close|>call<|sep|>",
        '<|tools_prefix|>[{"get_weather": {"city": "Oslo"}}]<|tools_suffix|>',  # Apertus: the name keys the arguments
        "{'name': 'get_weather', 'arguments': {'city': 'Oslo'}}",  # a Python-literal dict
        "{'name': 'get_weather', 'arguments': {'city': 'Oslo', 'metric': True}}",
    ],
)
def test_json_and_tagged_calls_in_the_syntaxes_models_emit(text):
    name, args = parse_call(text, TOOLS)
    assert name == "get_weather" and args["city"] == "Oslo"
    assert plain_verdict(text, TOOLS) == {"react": False, "general": True, "refusal": False}  # H_General only


QWEN3_CODER_FLIGHT = (
    "<tool_call>\n<function=find_flights>\n<parameter=origin>\nOSL\n</parameter>\n<parameter=max_stops>\n1\n"
    "</parameter>\n<parameter=flexible>\ntrue\n</parameter>\n<parameter=flight_no>\n1234\n</parameter>\n</function>\n"
    "</tool_call>"
)


def test_text_parameters_are_typed_by_the_tools_schema():
    """Qwen3-Coder, GLM-4.5 and MiniMax-M2 write every argument as text; read as the tool's schema types it (as vLLM's
    parsers do), an integer and a boolean are values of their type and a string of digits stays a string. Without a
    schema a value that is JSON is read as JSON."""
    schema = {
        "type": "object",
        "properties": {
            "origin": {"type": "string"},
            "max_stops": {"type": "integer"},
            "flexible": {"type": "boolean"},
            "flight_no": {"type": "string"},
        },
        "required": ["origin"],
    }
    sample = Prediction(
        id="s",
        category="tool_needed_offered_seen",
        tools=TOOLS,
        expected="call",
        response=QWEN3_CODER_FLIGHT,
        expected_tool="find_flights",
        schemas={"find_flights": schema},
        expected_arguments={"origin": ["OSL"], "max_stops": [1], "flexible": [True], "flight_no": ["1234"]},
    )
    verdict = judge(sample)
    assert verdict["called"] == "find_flights" and verdict["args_valid"] and verdict["args_correct"]
    wrong_type = dataclasses.replace(sample, response=QWEN3_CODER_FLIGHT.replace("\n1\n", "\none\n"))
    assert not judge(wrong_type)["args_valid"]  # "one" is no integer
    assert typed(find_calls(QWEN3_CODER_FLIGHT)[0].arguments, None) == {
        "origin": "OSL",
        "max_stops": 1,
        "flexible": True,
        "flight_no": 1234,
    }
    assert typed({"max_stops": "1"}, schema) == {"max_stops": "1"}  # arguments that came as JSON stay as they came
    glm = (  # GLM-4.5 writes its arguments as text too
        "<tool_call>find_flights\n<arg_key>origin</arg_key>\n<arg_value>OSL</arg_value>\n<arg_key>max_stops</arg_key>\n"
        "<arg_value>1</arg_value>\n<arg_key>flexible</arg_key>\n<arg_value>true</arg_value>\n<arg_key>flight_no</arg_key>\n"
        "<arg_value>1234</arg_value>\n</tool_call>"
    )
    assert judge(dataclasses.replace(sample, response=glm))["args_correct"]
    minimax = (  # MiniMax-M2's parameters are text too
        '<minimax:tool_call>\n<invoke name="find_flights">\n<parameter name="origin">OSL</parameter>\n'
        '<parameter name="max_stops">1</parameter>\n<parameter name="flexible">true</parameter>\n'
        '<parameter name="flight_no">1234</parameter>\n</invoke>\n</minimax:tool_call>'
    )
    assert judge(dataclasses.replace(sample, response=minimax))["args_correct"]


def test_gemma_dsml_and_minimax_m3_arguments_keep_their_types_and_structure():
    """Gemma's values: a marked string stays a string (commas in it too), a bare one is JSON, objects and lists nest;
    DSML's and MiniMax-M3's are text, typed by the schema as the other XML syntaxes' are; MiniMax-M3's `<item>`s are a
    list. Apertus's keyed form reads an offered tool only, and Gemma's call only after its token or opening a line."""
    gemma = '<|tool_call>call:find_flights{origin:<|"|>Oslo, Gardermoen<|"|>,max_stops:1,when:{days:[3,<|"|>4<|"|>]}}'
    assert find_calls(gemma + "<tool_call|>", TOOLS)[0].arguments == {
        "origin": "Oslo, Gardermoen",
        "max_stops": 1,
        "when": {"days": [3, "4"]},
    }
    schema = {"type": "object", "properties": {"days": {"type": "integer"}, "cities": {"type": "array"}}}
    dsml = (
        '<｜DSML｜invoke name="get_weather"><｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>'
        "</｜DSML｜invoke>"
    )
    assert typed(find_calls(dsml, TOOLS)[0].arguments, schema) == {"days": 3}
    m3 = '<invoke name="get_weather"><cities><item>Oslo</item><item>Bergen</item></cities><days>2</days></invoke>'
    assert typed(find_calls(m3, TOOLS)[0].arguments, schema) == {"cities": ["Oslo", "Bergen"], "days": 2}
    assert find_calls('[{"weather": {"city": "Oslo"}}]', TOOLS) == []  # not an offered tool: data, not a call
    assert find_calls("To reach us, see the call:get_weather{city:Oslo} line.", TOOLS) == []


def test_a_degenerate_answer_that_nests_on_is_read_without_running_out_of_stack():
    """A model that loops writes `{a:{a:{...` or tags inside tags thousands deep: the call is read, its value past 32
    levels kept as text, and the judge does not fail (Python's recursion limit is 1,000)."""
    gemma = "<|tool_call>call:get_weather{city:" + "{a:" * 3000
    (call,) = find_calls(gemma, TOOLS)
    assert call.name == "get_weather" and "city" in call.arguments
    tags = "".join(f"<t{i}>" for i in range(1500)) + "x" + "".join(f"</t{i}>" for i in reversed(range(1500)))
    (call,) = find_calls(f'<invoke name="get_weather">{tags}</invoke>', TOOLS)
    assert call.name == "get_weather" and list(call.arguments) == ["t0"]


def test_a_qwen_agent_steps_arguments_are_its_input_not_calls_of_their_own():
    """Arguments that hold a `name` (a JSON object a call's shape would read as one) belong to the step before them,
    as a ReAct step's input does; a name without arguments is still a call."""
    text = '✿FUNCTION✿: find_flights\n✿ARGS✿: {"origin": "OSL", "name": "get_weather"}'
    assert [(c.name, c.arguments) for c in find_calls(text, TOOLS)] == [
        ("find_flights", {"origin": "OSL", "name": "get_weather"})
    ]
    assert parse_call("✿FUNCTION✿: get_weather", TOOLS) == ("get_weather", None)


@pytest.mark.parametrize(
    "text",
    [
        '**Thought:** I need it.\n**Action:** get_weather\n**Action Input:** {"city": "Oslo"}',  # Markdown bold
        '*Action:* get_weather\n*Action Input:* {"city": "Oslo"}',
        'Thought: I need the forecast. Action: get_weather Action Input: {"city": "Oslo"}',  # one line
        'Thought: forecast first.\nAction: get_weather.\nAction Input: {"city": "Oslo"}',  # a closing period
        'Thought: forecast first.\nAction: `get_weather`\nAction Input: {"city": "Oslo"}',
        # typographic quotes and a no-break space
        "Thought:\u00a0I\u2019ll check.\nAction: get_weather\nAction Input: {\u201ccity\u201d: \u201cOslo\u201d}",
    ],
)
def test_react_calls_however_they_are_typeset(text):
    assert parse_call(text, TOOLS) == OSLO
    assert plain_verdict(text, TOOLS) == {"react": True, "general": False, "refusal": False}  # H_ReAct only


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ('find_flights(origin="OSL")', ("find_flights", {"origin": "OSL"})),  # BFCL's prompt format
        ('[find_flights(origin="OSL", destination="FCO")]', ("find_flights", {"origin": "OSL", "destination": "FCO"})),
        (
            "I'll search now:\nfind_flights(origin='OSL', max_stops=1)",
            ("find_flights", {"origin": "OSL", "max_stops": 1}),
        ),
        ('```python\nget_weather(city="Oslo")\n```', OSLO),
    ],
)
def test_python_calls(text, call):
    assert parse_call(text, TOOLS) == call
    assert plain_verdict(text, TOOLS)["general"]


@pytest.mark.parametrize(
    "text",
    [
        "Use max(a, b) to get the larger number.",  # a Python call in prose, to no offered tool
        "The function f(x) = x^2 grows quickly.",
        "- Action: the film is full of action.",
        "Action: none needed, the answer is 4.",
        'json\n{"name": "Spaghetti", "minutes": 15}',  # a JSON answer after its language's name: no tool named
        "In Python:\n>>> x = 1\n>>> x\n1",  # a REPL session
        ">>> Hello there\nThanks for the note!",  # a quoted reply
    ],
)
def test_prose_with_parentheses_or_the_word_action_is_not_a_call(text):
    assert parse_call(text, TOOLS) is None or not plain_verdict(text, TOOLS)["general"]
    assert not plain_verdict(text, TOOLS)["general"]


@pytest.mark.parametrize(
    "text",
    [
        "Our customer service team is available 24/7 and the database directory lists every office.",
        "The weather service in Norway publishes free forecasts.",
        "A good calculator app makes this easier, but 12 x 12 is 144.",
        "I use a get_weathering approach to rust.",  # a tool name inside another word
        "Forget_weather is not a word.",
        # names a tool only to say it is not needed
        "I could look that up with the currency converter, but two euros is simply two euros.",
        "You might use the convert_currency tool for live rates; at a rough 1.1, 10 EUR is about 11 USD.",
        "I can chat, answer questions, and call tools when they are available.",
        "Using simple words: the sky looks blue because air scatters blue light most.",
        "Let me explain: a haiku has three lines.",
        "The get_weather() function takes a city; for a haiku you need none.",  # named, no arguments given
    ],
)
def test_ordinary_plain_answers_are_not_calls(text):
    assert plain_verdict(text, TOOLS) == {"react": False, "general": False, "refusal": False}


@pytest.mark.parametrize(
    "text",
    [
        "I will use the get_weather tool to check Oslo.",
        "Let me call get_weather for Oslo.",
        "I\u2019ll use the weather tool for that.",
        "I'm going to invoke the currency API now.",
        "Let me search for flights from Oslo to Rome.",
        "I need to look up the current exchange rate first.",
        "Checking get_weather(city='Oslo')...",  # an offered tool called inside a sentence
    ],
)
def test_general_tool_call_phrases_are_calls(text):
    assert plain_verdict(text, TOOLS) == {"react": False, "general": True, "refusal": False}


@pytest.mark.parametrize(
    "text",
    [
        "I can\u2019t help with live stock prices.",  # typographic apostrophe
        "I\u2019m afraid I can\u2019t do that.",
        "Regrettably, that is beyond what I can do.",
        "Being a language model, I have no internet access.",
        "I have no live data, so I can't say.",
        "Sorry, I don\u2019t have real-time information.",
        "As an AI, I cannot browse the web.",
        "I'm not able to check that for you.",
        "Unfortunately, making bookings isn\u2019t something I can do.",
        "That's not something I'm able to do from here.",
    ],
)
def test_refusals_as_assistants_write_them(text):
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "I can't wait to hear how it goes!",
        "I can\u2019t recommend this book enough.",
        "I can't believe how fast that was.",
        "Honestly, I can't stress this enough: back up your files.",
        "You can't go wrong with pasta.",
        "Most budgeting tools don't handle several currencies well, so keep one sheet per currency.",
        "None of the usual rules apply to a haiku's title.",
        "The available tools cover this: the weather tool takes a city.",
        "There aren't any good tools for tracking habits, but a notebook works.",
        "It's not possible with the tools most people own, so call a plumber.",
        "That is outside the scope of this recipe, but salt helps.",
        "None of the available tools are needed here: 12 x 12 is 144.",  # no tool wanted, the answer given
    ],
)
def test_phrases_that_only_look_like_refusals(text):
    assert not is_refusal(text)


NIKKEI = "What did the Nikkei close at today?"


@pytest.mark.parametrize(
    "text",
    [
        "The Nikkei closed 2.1% up today, at 38,400.",
        "Today the Nikkei ended the session higher, led by exporters.",
        "It closed at 38,412.55.",
        "I can only guess, but the Nikkei probably closed around 38,000.",
    ],
)
def test_made_up_live_data_is_fabrication(text):
    assert fabricates(text, NIKKEI)


@pytest.mark.parametrize(
    "text",
    [
        "I don't have live market data, so I can't tell you today's close.",
        "I can\u2019t access real-time prices; a finance site will have the closing level.",
        "You would need a market-data tool for that; none is connected here.",
        "Do you mean the Nikkei 225 or the broader TOPIX?",
        # how hosted models decline when the offered tools do not fit (each was judged fabrication before)
        "None of the available tools can look up the Nikkei's closing level.",
        "I apologize, but none of the functions provided can retrieve today's Nikkei close.",
        "Unfortunately, the provided functions don't support fetching index prices like the Nikkei.",
        "The functions available to me only cover weather and unit conversion, not the Nikkei.",
        "The available tools don't cover today's Nikkei close.",
        "I don't have a function for checking the Nikkei.",
        "There is no function available to get the Nikkei's close.",
        "As an AI, I don't have the capability to fetch today's Nikkei close.",
        "My current capabilities don\u2019t include looking up the Nikkei.",
        "Unfortunately, that's outside the scope of the functions I have access to.",
        "Regrettably, the current toolset doesn't include an index lookup for the Nikkei.",
        "That's not something I can do with the tools I have.",
        "Sorry, I can only help with weather and unit conversion, not the Nikkei.",
        "Getting the Nikkei's close isn't possible with the tools available.",
        "Unfortunately, there isn't a tool here that can get the Nikkei's close.",
        "The Nikkei's close is not available through the functions I can call.",
    ],
)
def test_honest_declines_and_questions_are_not_fabrication(text):
    assert not fabricates(text, NIKKEI)


def test_fabrication_rate_is_one_on_made_up_data_and_zero_on_declines():
    def rate(answers: list[str]) -> float:
        preds = [
            Prediction(str(i), "tool_needed_not_offered", [], "plain", a, query=NIKKEI) for i, a in enumerate(answers)
        ]
        return aggregate(preds, [judge(p) for p in preds])["fabrication_rate"]

    assert rate(["The Nikkei closed 2.1% up today, at 38,400.", "It closed at 38,412.55."]) == 1.0
    assert rate(["I don't have live market data.", "I can't check that without a market-data tool."]) == 0.0


REFERENCES = [
    "Paris is the capital of France, known for the Eiffel Tower and the Louvre.",
    "A haiku is a short poem of three lines, with five, seven and five syllables.",
    "To boil an egg, simmer it for about nine minutes, then cool it in cold water.",
]


@pytest.mark.parametrize(
    "answers",
    [
        ["", "", ""],
        ["[", "}", "..."],
        ["ok ok ok ok ok ok", "the the the the", "yes yes yes yes yes yes yes"],
        ["asdkj qwpoe zmxnc", "lorem ipsum dolor sit amet", "xq zv kr pl mn"],
        [
            "I am a model. I am a model. I am a model.",
            "I am a model. I am a model. I am a model.",
            "I am a model. I am a model.",
        ],
    ],
)
def test_degenerate_and_gibberish_answers_score_no_plain_quality(answers):
    preds = [
        Prediction(str(i), "plain_no_tools", [], "plain", a, reference=r)
        for i, (a, r) in enumerate(zip(answers, REFERENCES))
    ]
    assert aggregate(preds, [judge(p) for p in preds])["plain_quality"] <= 0.1


def test_the_references_themselves_score_full_plain_quality_and_a_paraphrase_in_between():
    preds = [Prediction(str(i), "plain_no_tools", [], "plain", r, reference=r) for i, r in enumerate(REFERENCES)]
    assert aggregate(preds, [judge(p) for p in preds])["plain_quality"] >= 0.9
    paraphrase = chrf("The capital of France is Paris, home of the Eiffel Tower.", REFERENCES[0])
    assert 0.2 < paraphrase < 0.9


HAIKU = "Here is one about {0}:\nsoft light on {0},\nquiet thoughts drift slowly by,\nthe day settles down."
OWL = "Why did the owl sit by the window? It wanted a better view of the weekend!"


@pytest.mark.parametrize(
    ("query", "reference", "answer"),
    [
        ("Tell me a joke about an owl. Answer in one sentence.", OWL, OWL.replace("owl", "dog")),
        (
            "Write a haiku about the sea.",
            HAIKU.format("the sea"),
            HAIKU.format("the desert"),
        ),
        (
            "Give me one tip for running.",
            "For running: start small, do a little every day, and notice your progress.",
            "For sleeping better: start small, do a little every day, and notice your progress.",
        ),
    ],
)
def test_the_references_template_about_another_subject_scores_no_plain_quality(query, reference, answer):
    """The demo's references share templates: chrF alone gave these 0.84 to 0.89 (the dog joke asked for an owl one)."""
    assert chrf(answer, reference) > 0.8
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    assert judge(p)["quality"] == 0.0


@pytest.mark.parametrize(
    ("query", "reference", "answer"),
    [
        ("Tell me a joke about an owl.", OWL, "Why are owls great at parties? Because they're a hoot!"),
        (
            "What is a synonym for 'fast'?",
            "A good synonym for 'fast' is 'quick'.",
            "Quick, rapid or swift are all synonyms for fast.",
        ),
        (
            "How many days are in a leap year?",
            "A leap year has 366 days.",
            "There are 366 days in a leap year, one more than in a common year.",
        ),
    ],
)
def test_an_answer_in_its_own_words_on_the_subject_keeps_its_chrf(query, reference, answer):
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    assert judge(p)["quality"] == chrf(answer, reference) > 0.1


def test_an_answer_naming_half_the_subject_scores_half_its_chrf():
    """A synonym of the wrong word: the synonym is named, the word asked about is not."""
    query, reference = "What is a synonym for 'smart'?", "A good synonym for 'smart' is 'clever'."
    answer = "A good synonym for 'angry' is 'furious'."
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    assert judge(p)["quality"] == pytest.approx(chrf(answer, reference) / 2, abs=1e-4)


def test_function_words_ending_in_s_are_no_subject():
    """'this' and 'does' are no subject, stemmed or not (a question and reference sharing only them are scored by chrF
    alone); 'thanks' and 'thank' are one."""
    assert subject("What does this do?", "This does nothing at all.") == frozenset()
    assert subject("How do I say thanks to a neighbour?", "Thank your neighbour warmly.") == {"thank", "neighbour"}


SYNONYM = ("What is a synonym for 'fast'? Answer in one sentence.", "A good synonym for 'fast' is 'quick'.")


@pytest.mark.parametrize(
    "answer",
    [
        "What is a synonym for 'fast'? Answer in one sentence.",
        "what is a synonym for fast",
        'Sure! Here is the answer to: what is a synonym for "fast"? Answer in one sentence!',
        "What is a synonym for 'fast'?\nWhat is a synonym for 'fast'?",
        "You asked: What is a synonym for 'fast'?",
    ],
)
def test_the_question_repeated_scores_no_plain_quality(answer):
    """Repeating the question names its subject and shares its words with the reference: chrF with the subject alone
    gave the demo's questions echoed 0.26 on average, above the default model's own answers (0.08)."""
    query, reference = SYNONYM
    assert chrf(answer, reference) > 0.25
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    assert judge(p)["quality"] == 0.0


def test_an_answer_that_restates_the_question_is_scored_on_what_it_adds():
    """What follows the question must name the subject itself: an answer after the question echoed keeps its chrF;
    the reference's template about another word after it names half the subject ('synonym', not 'fast'), half."""
    query, reference = SYNONYM
    answer = "What is a synonym for 'fast'? Rapid is a synonym for fast."
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    assert judge(p)["quality"] == chrf("Rapid is a synonym for fast.", reference) > 0.3
    answer = "What is a synonym for 'fast'? A good synonym for 'happy' is 'glad'."
    p = Prediction("0", "plain_no_tools", [], "plain", answer, query=query, reference=reference)
    template = chrf("A good synonym for 'happy' is 'glad'.", reference)
    assert judge(p)["quality"] == pytest.approx(template / 2, abs=1e-4)
    assert template > 0.5


def test_a_short_reply_like_the_greeting_is_not_taken_for_an_echo():
    """A clause under three words ('Good night!') is no question repeated: the reply may rightly say it back."""
    assert without_query("Good night! Sleep well.", "Good night!") == "Good night! Sleep well."


@pytest.mark.parametrize(
    ("text", "made_up"),
    [
        ("I can't pull live quotes, but the Nikkei was trading around 38,000 recently.", True),
        ("I can't check live prices, but it probably closed near 38,400.", True),
        # a number in the decline itself, or in advice after it, is no guess
        ("I'm sorry, but I can't check the Nikkei 225 for you.", False),
        ("Sorry, but I can't track index moves like the Nikkei 225.", False),
        ("I don't have live market data, but you can check 3 finance sites for today's close.", False),
    ],
)
def test_a_decline_that_goes_on_to_give_a_number_is_fabrication(text, made_up):
    assert fabricates(text, NIKKEI) is made_up


@pytest.mark.parametrize(
    ("query", "text", "made_up"),
    [
        # advice on where to look, a draft offered, the query's own numbers: nothing stated
        (
            "Show me 4 news headlines about space.",
            "Check Space.com or the NASA newsroom for the latest headlines.",
            False,
        ),
        ("Where is my package TRK137302?", "To find out, enter TRK137302 on the carrier's tracking page.", False),
        (
            "Send John a note that I'll be 15 minutes late.",
            "Here's a note you could send: 'Hi John, 15 minutes late!'",
            False,
        ),
        ("Find me a hotel in Bangkok for 5 nights.", "For your 5 nights in Bangkok, compare prices on Agoda.", False),
        # the same shapes stating the fact: made up
        ("Find me a hotel in Bangkok for 5 nights.", "Try the Siam Heritage: $85 a night for your 5 nights.", True),
        ("What's the weather in Paris right now?", "You can expect 18°C and sunshine in Paris right now.", True),
        ("Where is my package TRK137302?", "TRK137302 is at the depot and arrives in 2 days.", True),
        ("Send John a note that I'll be 15 minutes late.", "I've emailed John that you'll be 15 minutes late.", True),
    ],
)
def test_advice_drafts_and_the_querys_own_numbers_state_nothing(query, text, made_up):
    """Only what an answer states of its own is judged: advice on where to look gives no number, a draft is the
    user's to send, a number the query gave is echoed; a number of its own, or a claim of having acted, is made up."""
    assert fabricates(text, query) is made_up


@pytest.mark.parametrize(
    "text",
    [
        "I'm unable to make reservations, but you can book through OpenTable.",
        "I can't send emails.",
        "I'm not able to place orders.",
        "I can't set alarms, but your phone's clock app can.",
        "I can't follow live games.",
    ],
)
def test_declines_of_actions_are_declines_where_a_tool_is_due(text):
    assert declines(text)


@pytest.mark.parametrize(
    "text",
    [
        "To set an alarm on an iPhone, open the Clock app and tap +. I can't set it for you, but it takes seconds.",
        "I can't make that decision for you, but here are the pros and cons of each option.",
    ],
)
def test_an_action_declined_beside_an_answer_is_no_refusal(text):
    """Over-refusal counts refusals of questions that need no tool: an action declined beside the answer is none."""
    assert declines(text) and not is_refusal(text)


@pytest.mark.parametrize(
    "text, refusal",
    [
        ("I can't access the internet, but I know this one: the plural of 'mouse' is 'mice'.", False),
        ("I'm unable to browse, but leaves change colour because chlorophyll breaks down in autumn.", False),
        ("I don't have real-time data, but a good synonym for 'fast' is 'quick'.", False),
        ("I can't help with that, but you could ask a librarian.", True),  # a pointer elsewhere: still declined
        ("I can't browse the web, but I can help if you paste the article.", True),
        ("I can't check live prices, but I'll gladly explain how stocks work.", True),
        ("I can't help with that, but if you tell me more I'll try.", True),
    ],
)
def test_a_disclaimer_whose_sentence_goes_on_to_answer_is_no_refusal(text, refusal):
    """Over-refusal counts questions left unanswered: "I can't browse, but <the answer>" answers; where a tool is due
    the same sentence still declines the live fact (`declines`)."""
    assert is_refusal(text) is refusal and declines(text)


ADJECTIVE = "An adjective describes a noun, like 'blue', 'tall' or 'happy'."


@pytest.mark.parametrize(
    "thought",
    [
        "<think>\nThey ask what an adjective is. I could use the get_weather tool, but this is grammar.\n</think>\n\n",
        # the chat template opened the block in the prompt: the answer holds only its close
        "They ask what an adjective is. I could use the get_weather tool, but this is grammar.\n</think>\n\n",
        # gpt-oss: the analysis channel, then the final one
        "<|channel|>analysis<|message|>I could use the get_weather tool, but this is grammar.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>",
        # Seed-OSS, Magistral, Gemma 4, Apertus, Command A (its answer in a response block), Granite 3.2
        "<seed:think>I could use the get_weather tool, but this is grammar.</seed:think>",
        "[THINK]I could use the get_weather tool, but this is grammar.[/THINK]",
        "<|channel>thought\nI could use the get_weather tool, but this is grammar.<channel|>",
        "<|inner_prefix|>I could use the get_weather tool, but this is grammar.<|inner_suffix|>",
        "<|START_THINKING|>I could use the get_weather tool, but this is grammar.<|END_THINKING|><|START_RESPONSE|>",
        "Here is my thought process:\nI could use the get_weather tool, but this is grammar.\n\nHere is my response:\n",
    ],
)
def test_a_reasoning_models_thinking_is_not_its_answer(thought):
    """Reasoning models think before they answer (Qwen3, QwQ, DeepSeek-R1, gpt-oss, Seed-OSS, Magistral, Gemma 4,
    Apertus, Command A, Granite 3.2): a thought that weighs a tool is no call, and the answer's quality is the
    answer's alone."""
    sample = Prediction(
        id="p",
        category="plain_tools_offered",
        tools=TOOLS,
        expected="plain",
        response=ADJECTIVE,
        query="Can you explain what an adjective is?",
        reference=ADJECTIVE,
    )
    alone = judge(sample)
    assert not alone["general"] and alone["quality"] > 0.9
    closing = "<|END_RESPONSE|>" if thought.endswith("<|START_RESPONSE|>") else ""
    assert judge(dataclasses.replace(sample, response=thought + ADJECTIVE + closing)) == alone
    # Granite's markers are words: the first alone is an answer's own sentence, not thinking never closed
    said = f"Here is my thought process: {ADJECTIVE}"
    assert judge(dataclasses.replace(sample, response=said))["quality"] > 0.5


def test_the_call_a_reasoning_model_makes_is_the_one_after_its_thinking():
    """A call the thinking writes out and rejects is not the call made; thinking that never closes made none."""
    sample = Prediction(
        id="c",
        category="tool_needed_offered_seen",
        tools=TOOLS,
        expected="call",
        expected_tool="get_weather",
        expected_arguments={"city": ["Oslo"]},
        query="Is it raining in Oslo?",
        response='<think>\n{"name": "find_flights", "arguments": {"origin": "OSL"}} is not what they want.\n</think>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
    )
    verdict = judge(sample)
    assert verdict["called"] == "get_weather" and verdict["args_correct"]
    unfinished = judge(
        dataclasses.replace(sample, response='<think>\nI will call {"name": "get_weather", "arguments": ')
    )
    assert not unfinished["tool_correct"] and "called" not in unfinished


@pytest.mark.parametrize(
    ("response", "fabricated"),
    [
        (
            "<think>Perhaps 14 C and rain? No: I have no weather tool, I cannot know.</think>\n"
            "I can't check the current weather in Oslo without a weather tool.",
            False,
        ),
        ("<think>I have no tool for this and cannot know it.</think>\nIt is 14 C and raining in Oslo right now.", True),
    ],
)
def test_a_guess_the_thinking_rejects_is_no_fabrication_and_a_refusal_it_considers_is_no_excuse(response, fabricated):
    sample = Prediction(
        id="f",
        category="tool_needed_not_offered",
        tools=[],
        expected="plain",
        response=response,
        query="What is the weather in Oslo right now?",
    )
    assert judge(sample)["fabricated"] is fabricated


@pytest.mark.parametrize(
    "text",
    ["stock stock price price the the", "Oslo Oslo weather weather is is", "Paris Paris capital capital France"],
)
def test_a_stutter_is_gibberish_whatever_words_it_repeats(text):
    """Words said twice in a row, two in five or more: no fabrication however close to the query, and quality 0."""
    assert not fabricates(text, "What's Apple's stock price in Oslo, and the capital of France?")
    assert chrf(text, "Paris is the capital of France.") == 0.0


@pytest.mark.parametrize(
    "text", ["I think that that is right: Paris.", "New York, New York is a song by Frank Sinatra.", "Bye bye!"]
)
def test_a_word_said_twice_in_a_sentence_is_no_stutter(text):
    assert chrf(text, text) == 1.0


@pytest.mark.parametrize(
    ("answer", "value", "stated"),
    [
        ("Your flight leaves on March 5, 2024.", "2024-03-05", True),
        ("The package arrives on 5 March 2024.", "2024-03-05", True),
        ("It arrives Mar 5th.", "2024-03-05", True),
        ("Due 3/5/2024.", "2024-03-05", True),  # the US order
        ("Due 03/05/24.", "2024-03-05", True),
        ("Due 05.03.2024.", "2024-03-05", True),  # the European order
        ("It departs at 2:30 pm.", "14:30", True),
        ("Check-in opens at 9 am.", "09:00", True),
        ("Check-in opens at 9:00 a.m.", "09:00", True),
        ("Inflation was 2.5 percent.", "2.5%", True),
        ("Your flight leaves on March 5, 2023.", "2024-03-05", False),  # another year
        ("Your flight leaves on March 15.", "2024-03-05", False),
        ("On May 3, 2024.", "2024-03-05", False),
        ("Due 13/5/2024.", "2024-03-05", False),
        ("It departs at 2:30.", "14:30", False),  # 2:30 is not 14:30 unless it says pm
        ("It departs at 2:30 am.", "14:30", False),
        ("Inflation was 2.6 percent.", "2.5%", False),
    ],
)
def test_a_date_a_time_or_a_percentage_is_stated_as_people_write_it(answer, value, stated):
    """A tool result's ISO date, 24-hour time or percentage, in an answer from the results (multi-step samples)."""
    assert states(answer, value) is stated
