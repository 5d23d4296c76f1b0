"""The benchmark is drawn from the corpus: held-out tools and queries, every category, reproducible."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import Iterator

import msgspec
import pytest

from agentflan.config import BenchmarkConfig, ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.heldout import Guess, Heldout, choose, choose_from, query_key
from agentflan.data.prompts import FORMAT_REQUESTS, NATURAL_SYSTEM, format_system
from agentflan.data.schema import Conversation, Tool, ToolCall
from agentflan.data.seeded import unit_hash
from agentflan.evaluation.benchmark import (
    CATEGORIES,
    MULTI_STEP,
    Sample,
    build,
    candidates,
    choose_samples,
    chosen_ids,
    sample_row,
    samples,
)
from agentflan.evaluation.generation import PROTOCOLS, complete, history_for, predictions, run_protocol
from agentflan.evaluation.judges import announces_step
from agentflan.evaluation.scoring import judge, score
from agentflan.pipeline.validation import validate

from recipe_helpers import elicited_corpus, labelled_corpus
from standins import tiny_llama

HELDOUT = ["search_hotels", "track_package"]
CFG = BenchmarkConfig(heldout_tools=HELDOUT, per_category=10, heldout_agent_queries=0.1, heldout_general_queries=0.5)


def test_every_category_from_held_out_records_and_reproducible():
    corpus = labelled_corpus()
    heldout = choose(corpus, CFG)
    samples, counts = build(corpus, heldout, CFG)
    assert counts == {c: 10 for c in CATEGORIES} == Counter(s.category for s in samples)
    by_query = {}
    for conv in corpus:
        by_query.setdefault(query_key(conv.query), []).append(conv)
    for s in samples:
        base = s.query
        if s.category == "format_request":
            base = next(s.query[: -len(r) - 1] for r in FORMAT_REQUESTS if s.query.endswith(" " + r))
        sources = by_query[query_key(base)]
        assert sources and all(heldout.excludes(c) for c in sources)  # no conversation with this query is trained on
        if s.expected == "call":
            assert s.expected_tool in [t.name for t in s.tools]
            source = by_query[query_key(s.query)][0]
            call = next(c for c in source.calls if c.name == s.expected_tool)
            assert s.expected_arguments == {k: [v] for k, v in call.arguments.items()}  # the record's own call
        if s.category in MULTI_STEP:  # its tools are what the conversation called (held out or not), + distractors
            called = {c.name for c in by_query[query_key(s.query)][0].calls}
            assert not set(HELDOUT) & {t.name for t in s.tools} - called
            continue
        if s.expected == "call":
            assert (s.expected_tool in HELDOUT) == (s.category == "tool_needed_offered_unseen")
        if s.category in ("tool_needed_not_offered", "plain_no_tools"):
            assert s.tools == []
        if s.category != "tool_needed_offered_unseen":
            assert not set(HELDOUT) & {t.name for t in s.tools}  # distractors are never held-out tools
    again, _ = build(labelled_corpus(), choose(labelled_corpus(), CFG), CFG)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in samples]
    assert Sample.from_dict(samples[0].to_dict()) == samples[0]
    validate([sample_row(s) for s in samples], "agent_h")


def test_a_small_corpus_fills_what_it_can_and_says_so(fixtures):
    corpus = list(
        Converter(ConvertConfig()).run(
            [
                Source(path=str(fixtures / n))
                for n in ("toolbench_toolllama.json", "agentinstruct.jsonl", "sharegpt.jsonl")
            ]
        )
    )
    cfg = BenchmarkConfig(heldout_tools=["search_for_real_time_product_search"], heldout_general_queries=1.0)
    heldout = choose(corpus, cfg)
    samples, counts = build(corpus, heldout, cfg)
    assert counts["tool_needed_offered_unseen"] == 1 and counts["tool_needed_offered_seen"] == 0
    unseen = next(s for s in samples if s.category == "tool_needed_offered_unseen")
    assert unseen.expected_tool == "search_for_real_time_product_search" and "running shoes" in unseen.query
    assert counts["plain_no_tools"] == 1 and sum(counts.values()) == len(samples)
    assert all(heldout.excludes(c) for c in corpus if c.query == unseen.query)


def test_an_unknown_held_out_tool_is_refused_naming_the_key():
    from agentflan.config import ParamsError

    with pytest.raises(ParamsError, match=r"benchmark\.heldout_tools: \['no_such_tool'\] offered by no conversation"):
        choose(labelled_corpus(), BenchmarkConfig(heldout_tools=["no_such_tool"]))


def test_heldout_round_trips_and_names_a_bad_file():
    from agentflan.data.jsonio import InputError

    h = Heldout(["a"], ["q"])
    assert Heldout.from_dict(h.to_dict()).to_dict() == h.to_dict()
    with pytest.raises(InputError, match="held.json: expected an object"):
        Heldout.from_dict({"tools": "a"}, "held.json")


@pytest.fixture(scope="module")
def tiny():

    from agentflan.training.tokenizer import train_bpe

    corpus = labelled_corpus()
    cfg = BenchmarkConfig(heldout_tools=HELDOUT, per_category=2, heldout_general_queries=0.5)
    samples, _ = build(corpus, choose(corpus, cfg), cfg)
    tokenizer = train_bpe([s.query for s in samples] * 5 + [NATURAL_SYSTEM, format_system("react")], vocab_size=400)
    model = tiny_llama(tokenizer, pad_token_id=tokenizer.pad_token_id).eval()
    return model, tokenizer, samples


def test_batched_generation_matches_one_at_a_time(tiny):
    model, tokenizer, samples = tiny
    dialogues = [([{"role": "user", "content": s.query}], [t.to_openai() for t in s.tools]) for s in samples]
    batched = complete(model, tokenizer, dialogues, max_new_tokens=8, batch_size=6)
    single = complete(model, tokenizer, dialogues, max_new_tokens=8, batch_size=1)
    assert len(batched) == len(samples) and batched == single  # left padding + KV cache change nothing


def taught(tokenizer, dialogue: tuple[list[dict], list[dict]], reply: str):
    """A tiny Llama that has learned by heart one reply to one dialogue (prompted through the tokenizer's template)."""
    import torch

    from agentflan.evaluation.generation import prompt_texts
    from agentflan.training.chat_format import ChatFormat

    fmt = ChatFormat.of(tokenizer)
    prompt = fmt.encode_prompts(prompt_texts(fmt, [dialogue]))[0]
    model = tiny_llama(tokenizer, pad_token_id=tokenizer.pad_token_id)
    ids = torch.tensor([prompt + tokenizer(reply, add_special_tokens=False)["input_ids"]])
    labels = ids.clone()
    labels[0, : len(prompt)] = -100
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
    return model.eval()


def special_tokenizer(sample: Sample, markers: tuple[str, ...]):
    """The tiny tokenizer with a model's call delimiters among its special tokens (as Gemma 4's `<|tool_call>` and
    Mistral's `[TOOL_CALLS]` are in theirs): a text decoded with `skip_special_tokens=True` leaves them out."""
    from transformers import AddedToken

    from agentflan.training.tokenizer import train_bpe

    tokenizer = train_bpe([sample.query, sample.tools[0].name, '{"name": "arguments": {}}'] * 5, vocab_size=400)
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(m, special=True) for m in markers]})
    return tokenizer


def test_a_native_call_whose_delimiters_are_special_tokens_is_read_from_the_generated_ids(tiny):
    """A reply whose call markers are special tokens (the tiny template's, made special): the native protocol parses
    it from its token ids, as `transformers serve` does."""
    from agentflan.evaluation.generation import run_native

    sample = next(s for s in tiny[2] if s.expected == "call")
    tokenizer = special_tokenizer(sample, ("<tool_call>", "</tool_call>"))
    call = {"name": sample.expected_tool, "arguments": {}}
    dialogue = ([{"role": "user", "content": sample.query}], [t.to_openai() for t in sample.tools])
    model = taught(tokenizer, dialogue, f"<tool_call>\n{json.dumps(call)}\n</tool_call><|im_end|>")
    (answer,) = run_native(model, tokenizer, [sample], max_new_tokens=40, batch_size=1)
    assert answer["tool_calls"] == [call] and answer["parse_error"] is None
    assert answer["response"] == f"<tool_call>\n{json.dumps(call)}\n</tool_call>"  # as written, its end-of-turn out


def test_a_text_answer_keeps_its_special_tokens_for_the_judges(tiny):
    """Gemma 4 writes its call after its text, delimited by special tokens; the text protocols' answer keeps them, so
    the call is read (without them, "Checking.call:name{}" is text)."""
    from agentflan.evaluation.generation import run_protocol, system_prompt

    sample = next(s for s in tiny[2] if s.expected == "call")
    tokenizer = special_tokenizer(sample, ("<|tool_call>", "<tool_call|>"))
    messages = [{"role": "system", "content": system_prompt("json")}, {"role": "user", "content": sample.query}]
    reply = f"Checking.<|tool_call>call:{sample.expected_tool}{{}}<tool_call|>"
    model = taught(tokenizer, (messages, [t.to_openai() for t in sample.tools]), reply + "<|im_end|>")
    ((answer,),) = run_protocol(model, tokenizer, [sample], "json", max_new_tokens=40, batch_size=1)
    assert answer == reply
    assert judge(predictions([sample], [[answer]], "json")[0])["tool_correct"]


def test_a_reply_ends_on_the_models_own_stop_token_and_the_saved_model_keeps_it(tiny, tmp_path):
    """Llama 3.1 ends a `<|python_tag|>` call with `<|eom_id|>`, gpt-oss a call with `<|call|>`: tokens its generation
    config stops on besides the template's end of turn. Generation stops there too (a tiny Llama taught to go on after
    one), and a tuned model saved keeps stopping there."""
    from transformers import AutoModelForCausalLM

    from agentflan.evaluation.generation import run_native
    from agentflan.training.chat_format import ChatFormat
    from agentflan.training.model import save_model

    sample = next(s for s in tiny[2] if s.expected == "call")
    tokenizer = special_tokenizer(sample, ("<|eom|>",))
    eom = tokenizer.convert_tokens_to_ids("<|eom|>")
    call = f'<tool_call>\n{{"name": "{sample.expected_tool}", "arguments": {{}}}}\n</tool_call>'
    dialogue = ([{"role": "user", "content": sample.query}], [t.to_openai() for t in sample.tools])
    model = taught(tokenizer, dialogue, f"{call}<|eom|> and then some words after it<|im_end|>")
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, eom]
    (answer,) = run_native(model, tokenizer, [sample], max_new_tokens=60, batch_size=1)
    assert answer["response"] == call and answer["tool_calls"][0]["name"] == sample.expected_tool
    save_model(model, tokenizer, tmp_path, ChatFormat.of(tokenizer).end_of_turn_ids)
    saved = AutoModelForCausalLM.from_pretrained(tmp_path).generation_config.eos_token_id
    assert eom in saved and set(ChatFormat.of(tokenizer).end_of_turn_ids) <= set(saved)


def test_every_protocol_is_run_and_scored(tiny):
    model, tokenizer, samples = tiny
    preds = [
        p
        for protocol in PROTOCOLS
        for p in predictions(samples, run_protocol(model, tokenizer, samples, protocol, 4, 12), protocol)
    ]
    chat = [p for p in preds if p.protocol == "chat"]
    chat_calls = [p for p in chat if p.expected == "call"]
    # the harness asks for tool and arguments where the first answer announced a step, never by the sample's truth
    assert chat_calls and all((len(p.turns) > 1) == announces_step(p.turns[0], p.tools) for p in chat)
    assert all(len(p.turns) == 1 for p in preds if p.protocol in ("react", "json"))
    native = [p for p in preds if p.protocol == "native"]
    assert len(native) == len(samples) and all(p.turns is None and isinstance(p.tool_calls, list) for p in native)
    assert all(p.to_dict()["tool_calls"] == p.tool_calls and "turns" not in p.to_dict() for p in native)
    call = chat_calls[0]
    assert call.expected_tool in call.schemas and call.expected_arguments
    metrics = score(preds)
    assert metrics["protocol"] == "native" and set(metrics["by_protocol"]) == set(PROTOCOLS)
    assert set(metrics["per_category"]) == set(CATEGORIES)
    # the headline from the verdicts by hand: HScore from the plain samples' flags, accuracy from the call samples'
    verdicts = [(p, judge(p)) for p in native]
    plain = [v for p, v in verdicts if p.expected == "plain"]
    h_react, h_general = (sum(v[k] for v in plain) / len(plain) for k in ("react", "general"))
    assert abs(metrics["hscore"] - 0.5 * ((1 - h_react) + (1 - h_general))) < 1e-3
    seen = [v["tool_correct"] for p, v in verdicts if p.category == "tool_needed_offered_seen"]
    assert abs(metrics["tool_name_accuracy_seen"] - sum(seen) / len(seen)) < 1e-3
    answerable = [
        v["refusal"] for p, v in verdicts if p.expected == "plain" and p.category != "tool_needed_not_offered"
    ]
    assert abs(metrics["over_refusal_rate"] - sum(answerable) / len(answerable)) < 1e-3


def test_the_chat_harness_plays_the_same_turns_whatever_the_truth(tiny, monkeypatch):
    """A plain and a call sample answered alike get the same turns: the harness leaks no label."""
    from agentflan.evaluation import generation

    model, tokenizer, samples = tiny
    call = next(s for s in samples if s.expected == "call")
    plain = dataclasses.replace(next(s for s in samples if s.category == "plain_tools_offered"), tools=call.tools)
    script = iter(
        [
            "I should look that up first.",
            "I should look that up first.",
            call.expected_tool,
            call.expected_tool,
            "{}",
            "{}",
            "Paris.",
            "Paris.",
            "Paris.",  # the probe that asks every time (`ask_always`): a first answer that ends the turn ...
            "Paris.",
            "None",  # ... is asked which tool all the same, then for the arguments
            call.expected_tool,
            "{}",
            "{}",
        ]
    )
    monkeypatch.setattr(generation, "complete", lambda m, t, dialogues, *a: [next(script) for _ in dialogues])
    answers = run_protocol(model, tokenizer, [plain, call], "chat", 4, 2)
    assert answers[0] == answers[1] == ["I should look that up first.", call.expected_tool, "{}"]
    preds = predictions([plain, call], answers, "chat")
    assert judge(preds[0])["general"] and judge(preds[1])["tool_correct"]  # naming a tool on a plain sample: a call
    answers = run_protocol(model, tokenizer, [plain, call], "chat", 4, 2)  # first answers that end the turn
    assert answers == [["Paris."], ["Paris."]]
    answers = run_protocol(model, tokenizer, [plain, call], "chat", 4, 2, ask_always=True)
    assert answers == [["Paris.", "None", "{}"], ["Paris.", call.expected_tool, "{}"]]
    preds = predictions([plain, call], answers, "chat")
    assert not judge(preds[0])["general"] and judge(preds[1])["tool_correct"]  # "None": no tool chosen


def test_an_own_benchmark_file_is_read_naming_file_record_and_field(tmp_path):
    from agentflan.data.jsonio import InputError, read_records

    good = Sample("s1", "plain_no_tools", "action", "Hi!", [], "plain").to_dict()
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "s2", "expected": "maybe"}) + "\n")
    with pytest.raises(
        InputError, match=r"mine\.jsonl: record 2 \(id 's2'\): field expected: 'maybe' is not 'plain' or 'call'"
    ):
        list(read_records(path, Sample.from_dict))
    path.write_text(json.dumps(good) + "\n")
    assert [s.id for s in read_records(path, Sample.from_dict)] == ["s1"]


def test_multi_step_samples_hold_the_steps_so_far_and_expect_what_the_record_did_next():
    corpus = labelled_corpus()
    samples, counts = build(corpus, choose(corpus, CFG), CFG)
    assert counts["multi_step_next_call"] == counts["multi_step_answer"] == 10
    by_query: dict = {}
    for c in sorted(corpus, key=lambda c: c.id):  # the sample's record: the first native one asking its query
        if c.kind == "agent" and c.style == "native":
            by_query.setdefault(c.query, c)
    for s in (x for x in samples if x.category in MULTI_STEP):
        source = by_query[s.query]  # native: the step is one assistant message, its results tool messages after it
        turns = source.turns[[t.content for t in source.turns].index(s.query) + 1 :]
        called = [t for t in turns if t.tool_calls]
        calls = [m for m in s.history if m["role"] == "assistant"]
        results = [m for m in s.history if m["role"] == "tool"]
        assert all(m["role"] in ("assistant", "tool") for m in s.history)
        ids = [c["id"] for m in calls for c in m["tool_calls"]]
        assert [m["tool_call_id"] for m in results] == ids and len(set(ids)) == len(ids)  # each result answers its call
        assert [m["content"] for m in calls] == [t.content for t in called[: len(calls)]]  # the thoughts, as written
        assert [r["content"] for r in results] == [t.content for t in turns if t.role == "tool"][: len(results)]
        if s.category == "multi_step_next_call":
            assert len(calls) == 1 and s.expected == "call"  # the first step in the history, the second one expected
            second = called[1].tool_calls[0]
            assert (s.expected_tool, s.expected_arguments) == (
                second.name,
                {k: [v] for k, v in second.arguments.items()},
            )
        else:
            assert len(calls) == len(called) and s.expected == "plain"  # every step in the history, then the answer
            assert s.reference == turns[-1].content and s.key_values
            for v in s.key_values:  # from a result, stated by the reference, not given by the user
                assert any(v.lower() in r["content"].lower() for r in results)
                assert v.lower() in s.reference.lower() and v.lower() not in s.query.lower()
        assert {c["function"]["name"] for m in calls for c in m["tool_calls"]} <= {t.name for t in s.tools}
    # the elicited chat form of the same records gives the same samples: the benchmark does not depend on call_style
    elicited = elicited_corpus()
    again, _ = build(elicited, choose(elicited, CFG), CFG)
    assert [x.to_dict() for x in again if x.category in MULTI_STEP] == [
        x.to_dict() for x in samples if x.category in MULTI_STEP
    ]
    assert all(Sample.from_dict(x.to_dict()) == x for x in samples)
    validate([sample_row(x) for x in samples], "agent_h")


def test_each_protocol_writes_the_history_as_its_training_data_writes_calls():
    corpus = labelled_corpus()
    samples, _ = build(corpus, choose(corpus, CFG), CFG)
    s = next(x for x in samples if x.category == "multi_step_next_call")
    call = s.history[0]["tool_calls"][0]["function"]
    thought, args = s.history[0]["content"], json.dumps(call["arguments"], ensure_ascii=False)
    result = s.history[1]
    assert history_for(s.history, "native") == s.history
    assert history_for(s.history, "react") == [
        {"role": "assistant", "content": f"Thought: {thought}\nAction: {call['name']}\nAction Input: {args}"},
        result,
    ]
    assert json.loads(history_for(s.history, "json")[0]["content"]) == {
        "thought": thought,
        "name": call["name"],
        "arguments": call["arguments"],
    }
    # the chat protocol's turns are the elicited training form of the same step (the harness's fixed eliciting words)
    elicited = next(c for c in elicited_corpus() if c.query == s.query)
    start = [t.content for t in elicited.turns].index(s.query) + 1
    trained = [t for t in elicited.turns[start:]][: len(history_for(s.history, "chat"))]
    chat = history_for(s.history, "chat")
    assert [m["role"] for m in chat] == [t.role for t in trained]
    assert [m["content"] for m in chat if m["role"] != "user"] == [t.content for t in trained if t.role != "user"]
    assert [m["content"] for m in chat if m["role"] == "user"] == ["Which tool will you call?"] * bool(thought) + [
        "Give the arguments as JSON."
    ]


def test_a_multi_step_answer_is_right_when_it_states_the_results_and_calls_nothing():
    from agentflan.evaluation.scoring import Prediction

    base = dict(
        id="m1",
        category="multi_step_answer",
        tools=["search_hotels", "get_weather"],
        expected="plain",
        query="Find me a hotel in Cairo for 4 nights.",
        reference="Hotel Vista in Cairo costs 171 USD a night, 684 USD for 4 nights.",
        key_values=["Hotel Vista", "171"],
        protocol="native",
        tool_calls=[],
    )
    cases = {
        "Hotel Vista costs 171 USD a night.": True,
        "The **hotel vista** is at 171 dollars a night (that's 684 for your stay).": True,  # case and emphasis
        "Hotel Vista: $171.00 per night.": True,  # a number as a number
        "Hotel Vista costs 1710 USD a night.": False,  # not the number the result gave
        "Hotel Vista costs 0.171 k a night.": False,
        "There is a hotel in Cairo for 4 nights.": False,  # only what the user said
        "": False,
    }
    for answer, right in cases.items():
        p = Prediction(**base, response=answer, content=answer)
        assert judge(p)["next_turn_right"] is right, answer
    again = Prediction(
        **{**base, "tool_calls": [{"name": "search_hotels", "arguments": {"city": "Cairo"}}]}, response=""
    )
    assert judge(again)["next_turn_right"] is False  # a call instead of the answer
    react = Prediction(
        **{**base, "protocol": "react", "tool_calls": None},
        response="Thought: Hotel Vista, 171.\nAction: search_hotels",
    )
    assert judge(react)["next_turn_right"] is False
    ended = dataclasses.replace(
        react, response="Thought: I now know the final answer.\nFinal Answer: Hotel Vista, 171 USD."
    )
    assert judge(ended)["next_turn_right"] is True  # a ReAct run ends so
    acted = dataclasses.replace(
        react, response='Action: search_hotels\nAction Input: {"city": "Cairo"}\nFinal Answer: Hotel Vista, 171 USD.'
    )
    assert judge(acted)["next_turn_right"] is False  # a step taken first: a call, not the end
    nxt = Prediction(
        id="m2",
        category="multi_step_next_call",
        tools=["search_hotels", "get_weather"],
        expected="call",
        response="",
        expected_tool="get_weather",
        protocol="native",
        tool_calls=[{"name": "get_weather", "arguments": {"city": "Cairo"}}],
    )
    assert judge(nxt)["next_turn_right"] is True
    wrong = dataclasses.replace(nxt, tool_calls=[{"name": "search_hotels", "arguments": {"city": "Cairo"}}])
    assert judge(wrong)["next_turn_right"] is False
    # multi-step samples count in their own rate only: the single-turn rates are those of the other samples
    plain = Prediction(
        id="p",
        category="plain_no_tools",
        tools=[],
        expected="plain",
        response="Hi!",
        protocol="native",
        content="Hi!",
        tool_calls=[],
    )
    metrics = score([Prediction(**base, response=a, content=a) for a in cases] + [again, nxt, wrong, plain])
    assert metrics["multi_step_accuracy"] == round(4 / 10, 4)  # 3 answers + 1 call right, of 7 + 1 + 2
    assert metrics["plain_samples"] == 1 and metrics["hscore"] == 1.0 and metrics["call_samples"] == 0


def test_a_multi_step_answer_may_round_the_results_numbers_as_people_do():
    from agentflan.evaluation.judges import states_normalised
    from agentflan.evaluation.scoring import Prediction

    base = dict(
        id="m2",
        category="multi_step_answer",
        tools=["convert_currency"],
        expected="plain",
        query="What is 1200 CAD in USD?",
        reference="1200 CAD is 876.48 USD at a rate of 0.7304.",
        key_values=["876.48", "0.7304"],
        protocol="native",
        tool_calls=[],
    )
    cases = {
        "1200 CAD is 876.48 USD (rate 0.7304).": True,
        "That's about 876.5 USD, at a rate of roughly 0.73.": True,  # fewer decimals, rounded right
        "About $876 at 0.730 to the dollar.": True,
        "About 877 USD at 0.73.": False,  # 876.48 rounds to 876
        "About 880 USD at 0.73.": False,  # tens are not decimals
        "About 876.5 USD at a rate of 1.": False,  # one significant digit says nothing of 0.7304
        "About 876.5 USD at a rate of 0.7.": False,
    }
    for answer, right in cases.items():
        p = Prediction(**base, response=answer, content=answer)
        assert judge(p)["next_turn_right"] is right, answer
    # the benchmark picks its key values from what a reference states exactly: a rounded mention is not one
    assert states_normalised("about 876.5 USD", "876.48") is False
    assert states_normalised("about 876.5 USD", "876.48", rounded=True) is True


def test_a_benchmark_history_may_be_written_as_the_openai_api_writes_messages():
    from agentflan.data.schema import SchemaError
    from agentflan.evaluation.benchmark import history_from
    from agentflan.evaluation.scoring import Prediction, history_texts

    logged = [  # arguments as a JSON string, content as a list of parts (OpenAI's chat completions log)
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_time", "arguments": '{"city": "Delhi"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": '{"time": "10:20"}'}]},
    ]
    history = history_from(logged)
    assert history[0]["tool_calls"][0]["function"]["arguments"] == {"city": "Delhi"}
    assert history[1]["content"] == '{"time": "10:20"}' and history[1]["tool_call_id"] == "call_a"
    row = {
        "id": "m",
        "category": "multi_step_answer",
        "tools": [],
        "expected": "plain",
        "response": "",
        "history": logged,
    }
    read = Prediction.from_dict(row).history  # a predictions file's, read as the benchmark reads it
    assert history_texts(read) == ['{"city": "Delhi"}', '{"time": "10:20"}']
    broken = [{**logged[0], "tool_calls": [{"function": {"name": "get_time", "arguments": "city=Delhi"}}]}]
    with pytest.raises(SchemaError, match=r"history\[0\]\.tool_calls\[0\]"):
        history_from(broken)


def test_a_multi_step_answer_that_states_numbers_no_result_gave_is_fabricated():
    from agentflan.evaluation.scoring import Prediction

    history = [
        {
            "role": "assistant",
            "content": "I need the hotel search for Cairo for 4 nights.",
            "tool_calls": [
                {
                    "id": "c0",
                    "type": "function",
                    "function": {"name": "search_hotels", "arguments": {"city": "Cairo"}},
                }
            ],
        },
        {
            "role": "tool",
            "name": "search_hotels",
            "tool_call_id": "c0",
            "content": '{"hotels": [{"name": "Hotel Vista", "price_per_night": 171.0, "check_in": "14:30"}]}',
        },
    ]
    base = dict(
        id="m3",
        category="multi_step_answer",
        tools=["search_hotels"],
        expected="plain",
        query="Find me a hotel in Cairo for 4 nights.",
        reference="Hotel Vista in Cairo costs 171 USD a night, 684 USD for 4 nights.",
        key_values=["Hotel Vista", "171"],
        protocol="native",
        tool_calls=[],
        history=history,
    )
    cases = {  # answer -> made up (labelled by hand)
        "Hotel Vista in Cairo costs 171 USD a night, 684 USD for 4 nights.": False,  # the reference: 171 x 4
        "Hotel Vista: $171.00 a night, check-in from 2:30 pm.": False,  # as people write the result's values
        "I found Hotel Vista for your 4 nights in Cairo.": False,  # the query's number
        "Hotel Vista costs 171 USD a night and is rated 4.6.": True,  # no result gave a rating
        "Hotel Nile costs 95 USD a night.": True,
        "It is 15:35 in Toronto right now.": True,
        "Hotel Vista costs 171.8.8.8 USD.": True,  # no number at all, and none a result wrote
        "Sorry, I could not find a hotel.": False,  # wrong, but states nothing
    }
    for answer, made_up in cases.items():
        p = Prediction(**base, response=answer, content=answer)
        assert judge(p)["fabricated"] is made_up, answer
        assert Prediction.from_dict(p.to_dict()).history == history  # a predictions file keeps it
    call = Prediction(
        **{**base, "tool_calls": [{"name": "search_hotels", "arguments": {"city": "Cairo"}}]}, response="7"
    )
    assert judge(call)["fabricated"] is False  # a call, not an answer: judged as a call
    unknown = Prediction(**{**base, "history": None}, response="Rated 4.6.", content="Rated 4.6.")
    assert "fabricated" not in judge(unknown)  # a predictions file without the history: not judged
    answers = [Prediction(**base, response=a, content=a) for a in cases] + [call, unknown]
    assert score(answers)["multi_step_fabrication_rate"] == round(4 / 9, 4)  # of the 9 whose history is known
    assert score(answers)["fabrication_rate"] is None  # the single-turn rate has no such samples


def test_a_text_turn_in_place_of_the_next_call_that_makes_numbers_up_is_fabricated():
    """`multi_step_next_call`: the user asked two things and one result is in. A text answer that skips the second
    call is judged like an answer: made up where it states a number no result, call or query gave; a call (whatever
    its text says), a malformed one or a ReAct step is a call, not an answer."""
    from agentflan.evaluation.scoring import Prediction

    history = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Athens"}}}
            ],
        },
        {"role": "tool", "tool_call_id": "c0", "content": '{"city": "Athens", "temperature_c": 24}'},
    ]
    base = dict(
        id="n1",
        category="multi_step_next_call",
        tools=["get_weather", "search_hotels"],
        expected="call",
        expected_tool="search_hotels",
        query="What's the weather in Athens? Also, find me a hotel in Madrid for 6 nights.",
        protocol="native",
        tool_calls=[],
        history=history,
    )
    text = "Athens is 24°C. Hotel Emperador in Madrid has rooms from EUR 145 a night."
    made = [{"name": "search_hotels", "arguments": {"city": "Madrid"}}]
    react = 'Thought: hotels next.\nAction: search_hotels\nAction Input: {"city": "Madrid", "nights": 7}'
    cases = [  # (content, tool calls, parse error, made up)
        (text, [], None, True),
        ("Athens is 24°C and sunny. Shall I look for hotels in Madrid for 6 nights?", [], None, False),
        (text, made, None, False),  # the call made
        (text, [], "no JSON in <tool_call>", False),  # a call attempted
        (react, [], None, False),
    ]
    answers = []
    for content, calls, error, made_up in cases:
        p = Prediction(**{**base, "tool_calls": calls}, response=content, content=content, parse_error=error)
        verdict = judge(p)
        assert verdict["fabricated"] is made_up and verdict["next_turn_right"] is bool(calls), content
        answers.append(p)
    chat = Prediction(**{**base, "protocol": "chat"}, response=text, turns=[text, "None"])
    assert judge(chat)["fabricated"] is True  # the chat harness's first turn, no tool chosen after it
    assert score(answers)["multi_step_fabrication_rate"] == round(1 / 5, 4)


def test_chunks_merged_choose_and_build_what_the_whole_corpus_does():
    """The stage's pass: per chunk, the held-out draw and the candidates (ids, query keys, tool names) of the records
    held out as each tells it (`Guess`), merged in file order; the chosen records read again by id; the same benchmark
    as one pass over the whole corpus with the choice known."""
    corpus = labelled_corpus()
    parts = [corpus[i : i + 37] for i in range(0, len(corpus), 37)]
    guess, gathered = Guess(CFG), candidates([], Heldout())
    for part in parts:
        part_guess = Guess(CFG)
        gathered.merge(candidates(part, part_guess))
        guess.merge(part_guess)
    heldout = choose_from(guess.found, CFG)
    assert heldout == choose(corpus, CFG) and guess.holds(heldout)
    gathered.decide(heldout)
    picked, counts = choose_samples(gathered, CFG)
    ids = chosen_ids(picked)
    assert len(ids) < len(corpus) // 2  # only the chosen records are read again
    built = samples(picked, {c.id: c for c in corpus if c.id in ids}, CFG.knowledge_tools)
    whole, whole_counts = build(corpus, heldout, CFG)
    assert [s.to_dict() for s in built] == [s.to_dict() for s in whole] and counts == whole_counts
    assert {s.category for s in built} == set(CATEGORIES)


def _drawn(cfg: BenchmarkConfig, kind: str, texts: Iterator[str]) -> str:
    """The first text that the seeded draw of `kind` ("tool", "agent", "general") holds out under `cfg`, and the other
    query kind's does not."""
    fractions = {"tool": cfg.heldout_tool_fraction, "agent": cfg.heldout_agent_queries}
    fractions["general"] = cfg.heldout_general_queries
    other = {"agent": "general", "general": "agent"}.get(kind)
    for text in texts:
        key = text if kind == "tool" else query_key(text)
        if unit_hash(cfg.seed, kind, key) < fractions[kind] and not (
            other and unit_hash(cfg.seed, other, key) < fractions[other]
        ):
            return text
    raise AssertionError(f"no text drawn for {kind}")


def test_a_guess_that_only_the_whole_corpus_confirms_is_checked_against_its_choice():
    """Each record judges itself held out or not in the stage's one pass; where that needs the whole corpus (a tool it
    calls and does not offer; a query that only a record of the other kind draws), the guess is checked against the
    corpus's choice, and a wrong one is told (the stage then reads the corpus again with the choice known)."""
    cfg = CFG.model_copy(update={"heldout_tool_fraction": 0.2})
    corpus = labelled_corpus()
    agent = next(c for c in corpus if c.kind == "agent" and c.style == "native" and c.calls)
    general = next(c for c in corpus if c.kind == "general")
    offered_here = sorted({t.name for c in corpus for t in c.tools})
    elsewhere = _drawn(cfg, "tool", iter(offered_here))
    ghost = _drawn(cfg, "tool", (f"ghost_tool_{i}" for i in itertools.count()))
    asked = _drawn(cfg, "agent", (f"Which train leaves first from platform {i}?" for i in itertools.count()))
    only_general = _drawn(cfg, "agent", (f"Tell me a joke about the number {i}." for i in itertools.count()))
    drawn_general = _drawn(cfg, "general", (f"Write a limerick about the number {i}." for i in itertools.count()))

    def calling(name: str, rid: str) -> Conversation:  # the agent record, calling `name` and not offering it
        turns = [
            msgspec.structs.replace(t, tool_calls=[ToolCall(name, {})], call_loss=[{"name": True, "arguments": True}])
            if t.tool_calls
            else t
            for t in agent.turns
        ]
        tools = [t for t in agent.tools if t.name != name and unit_hash(cfg.seed, "tool", t.name) >= 0.2]
        return msgspec.structs.replace(agent, id=rid, tools=tools, turns=turns)

    def asking(conv: Conversation, query: str, rid: str, kind: str) -> Conversation:
        return msgspec.structs.replace(conv, id=rid, query=query, kind=kind)

    cases = {  # the records added: (they, the check passes, how the last is taken: held out, not, left to the choice)
        "a drawn tool another record offers": ([calling(elsewhere, "x1")], True, True),
        "a query the agent draw holds out, asked by no agent": (
            [asking(general, only_general, "x2", "general")],
            True,
            False,
        ),
        "a query an agent record draws, in a format record": (
            [asking(agent, asked, "x3", "agent"), asking(general, f"  {asked.upper()}", "x4", "format")],
            True,
            None,
        ),
        "a query the agent draw holds out, asked by no agent, in a format record": (
            [asking(general, only_general, "x5", "format")],
            True,
            None,
        ),
        "a format record alone offering a tool, its query drawn and asked by no other record": (
            [msgspec.structs.replace(asking(general, drawn_general, "x9", "format"), tools=[Tool("only_here")])],
            True,
            None,
        ),
        "a drawn tool no record offers": ([calling(ghost, "x6")], False, True),
        "a query an agent record draws, in a general record": (
            [asking(agent, asked, "x7", "agent"), asking(general, asked, "x8", "general")],
            False,
            False,
        ),
    }
    for name, (extra, holds, taken) in cases.items():
        records = corpus + extra
        guess = Guess(cfg)
        guessed = [guess.excludes(c) for c in records]
        assert guessed[-1] is taken, name
        heldout = choose_from(guess.found, cfg)
        assert heldout == choose(records, cfg), name
        truth = [heldout.excludes(c) for c in records]
        own = zip(guessed[: len(corpus)], truth)
        assert all(g is None or g == t for g, t in own), name  # the corpus's own records: none taken wrong
        assert guess.holds(heldout) is holds, name
        decided = [g for g, t in zip(guessed, truth) if g is not None]
        assert (decided == [t for g, t in zip(guessed, truth) if g is not None]) is holds, name
        gathered = candidates(records, Guess(cfg))  # the stage's pass, its choice then decided
        if holds:
            gathered.decide(heldout)
            assert gathered == candidates(records, heldout), name  # what a pass with the choice known gathers
        else:
            assert gathered != candidates(records, heldout), name  # so the stage reads the corpus again


def test_a_tool_needing_query_without_tools_is_from_knowledge_where_every_tool_it_needs_serves_known_facts():
    """`tool_needed_not_offered` samples: `from_knowledge` exactly where every tool their record calls is one of
    `benchmark.knowledge_tools` (both kinds are drawn from the demo corpus); none with no knowledge tools named."""
    corpus = labelled_corpus()
    heldout = choose(corpus, CFG)
    needed: dict[str, set[str]] = {}
    for conv in corpus:
        needed.setdefault(conv.query, set()).update(c.name for c in conv.calls)
    built, _ = build(corpus, heldout, CFG)
    asked = [s for s in built if s.category == "tool_needed_not_offered"]
    flags = [s.from_knowledge for s in asked]
    assert flags == [needed[s.query] <= set(CFG.knowledge_tools) for s in asked] and True in flags and False in flags
    assert all(Sample.from_dict(s.to_dict()) == s for s in asked)
    bare, _ = build(corpus, heldout, CFG.model_copy(update={"knowledge_tools": []}))
    assert not any(s.from_knowledge for s in bare)
