from __future__ import annotations

from agentflan.config import NegativesConfig
from agentflan.data.negatives import SYSTEMS, NegativesStats, add_negatives, query_key, tool_pool
from agentflan.evaluation.judges import has_general_call, has_react_keywords, is_refusal

from recipe_helpers import labelled_corpus


def run(**cfg):
    corpus = labelled_corpus()
    stats = NegativesStats()
    out = list(add_negatives(corpus, tool_pool(corpus), NegativesConfig(**cfg), stats))
    return out, stats


def test_every_kind_of_negative_answers_plainly_under_every_prompt_format():
    out, stats = run()
    negatives = [c for _, c in out if c.kind == "negative"]
    kinds = {c.meta["negative"] for c in negatives}
    assert kinds == {"no_tools", "unfit_tools", "plain_with_tools"}
    assert sum(stats.negatives.values()) == len(negatives)
    for c in negatives:
        for t in c.assistant_turns:
            assert t.call is None and not has_react_keywords(t.content)
            assert not has_general_call(t.content, [x.name for x in c.tools])
            assert is_refusal(t.content) == (
                c.meta["negative"] != "plain_with_tools"
            )  # declines only where a tool is missing
            assert t.capability == "general"
        query = next(t for t in c.turns if t.role == "user")
        if c.meta["negative"] == "no_tools":
            assert c.tools == [] and c.query == query.content
        elif c.meta["negative"] == "unfit_tools":
            assert c.tools and c.meta["needed_tool"] not in {t.name for t in c.tools}
        else:
            assert 1 <= len(c.tools) <= 3
    for kind in kinds:  # each kind appears with no system prompt (as agent frameworks ask) and under each of ours
        systems = {
            c.turns[0].content if c.turns[0].role == "system" else None for c in negatives if c.meta["negative"] == kind
        }
        assert systems == set(SYSTEMS) and None in systems, kind


def test_disabled_adds_nothing():
    out, stats = run(enabled=False)
    assert not any(c.kind == "negative" for _, c in out) and sum(stats.negatives.values()) == 0
    assert len(out) == len(labelled_corpus())


def test_split_is_by_query_and_deterministic():
    out, stats = run(val_fraction=0.2)
    splits_of_query: dict[str, set[str]] = {}
    for split, conv in out:
        splits_of_query.setdefault(query_key(conv), set()).add(split)
    assert all(len(s) == 1 for s in splits_of_query.values())
    assert 0.1 < stats.splits["validation"] / len(out) < 0.3
    again, _ = run(val_fraction=0.2)
    assert [(s, c.to_json()) for s, c in out] == [(s, c.to_json()) for s, c in again]


def test_held_out_tools_and_queries_never_reach_training():
    from agentflan.config import BenchmarkConfig
    from agentflan.data.heldout import choose, query_key

    corpus = labelled_corpus()
    heldout = choose(
        corpus, BenchmarkConfig(heldout_tools=["search_hotels"], heldout_agent_queries=0.2, heldout_general_queries=0.3)
    )
    stats = NegativesStats()
    out = [c for _, c in add_negatives(corpus, tool_pool(corpus, heldout), NegativesConfig(), stats, heldout)]
    assert stats.held_out == sum(heldout.excludes(c) for c in corpus) > 0
    assert stats.negatives["plain_with_tools"] > 0 and stats.negatives["no_tools"] > 0
    assert not any(t.name == "search_hotels" for c in out for t in c.tools)
    assert not {query_key(c.query) for c in out} & set(heldout.queries)


def test_a_negative_says_what_the_missing_tool_would_do_and_keeps_query_and_plain_answers():
    """Worked by hand on one record, independent of the judges: the decline names the job of the tool the record
    needed (from its description), never offers that tool, and a plain chat keeps its own answer word for word."""
    import random

    from agentflan.data.negatives import no_tools_negative, plain_with_tools
    from agentflan.data.schema import Conversation, Tool, ToolCall, Turn

    weather = Tool("get_weather", "Current weather for a city. Celsius by default.")
    stock = Tool("get_stock_price", "Latest trading price of a stock by its ticker symbol.")
    recipes = Tool("find_recipes", "Find recipes that use an ingredient.")
    agent = Conversation(
        "a1",
        "toolbench",
        "agent",
        "native",
        [
            Turn("user", "Weather in Oslo?"),
            Turn(
                "assistant",
                "I need the weather.",
                loss=True,
                part="thought",
                tool_calls=[ToolCall("get_weather", {"city": "Oslo"})],
            ),
            Turn("tool", '{"temperature": 3}', name="get_weather"),
            Turn("assistant", "It is 3 degrees in Oslo.", loss=True, part="answer"),
        ],
        [stock, weather],  # the needed tool is not the first offered one
        "Weather in Oslo?",
    )
    for seed in range(6):
        none = no_tools_negative(agent, random.Random(seed))
        (answer,) = [t.content for t in none.assistant_turns]
        assert none.tools == [] and none.query == "Weather in Oslo?" and none.meta["needed_tool"] == "get_weather"
        assert "current weather for a city" in answer and "trading price" not in answer
        unfit = no_tools_negative(agent, random.Random(seed), pool=[weather, stock, recipes])
        assert [t.name for t in unfit.tools] == ["find_recipes"]  # neither the needed tool nor one the record had
        assert "current weather for a city" in unfit.assistant_turns[0].content
    chat = Conversation(
        "g1",
        "sharegpt",
        "general",
        "plain",
        [
            Turn("user", "Tell me a joke."),
            Turn("assistant", "Why did the cat sit on the keyboard?", loss=True, part="chat"),
        ],
        [],
        "Tell me a joke.",
    )
    offered = plain_with_tools(chat, [weather, stock, recipes], random.Random(0), 3)
    assert [t.content for t in offered.turns if t.role != "system"] == [
        "Tell me a joke.",
        "Why did the cat sit on the keyboard?",
    ]
    assert 1 <= len(offered.tools) <= 3 and offered.assistant_turns[0].loss


def test_copies_keep_every_general_chat_without_tools_beside_its_copy_with_tools():
    replaced, _ = run(plain_with_tools=1.0)
    copied, stats = run(plain_with_tools=1.0, plain_with_tools_copies=True)
    general = [c for c in labelled_corpus() if c.kind == "general" and not c.tools]
    assert not any(c.kind == "general" and not c.tools for _, c in replaced)  # replaced: no tool-less chat left
    kept = [c for _, c in copied if c.kind == "general" and not c.tools]
    with_tools = [c for _, c in copied if c.meta.get("negative") == "plain_with_tools"]
    assert [c.id for c in kept] == [c.id for c in general] and len(with_tools) == len(general) > 0
    assert [c.meta["from"] for c in with_tools] == [c.id for c in general]
    assert stats.negatives["plain_with_tools"] == len(general)
    splits = {c.id: split for split, c in copied}
    assert all(splits[c.id] == splits[f"neg_plain_{c.id}"] for c in general)  # one query, one split


def test_the_screen_finds_the_held_out_records_and_the_tool_pool_a_full_read_finds():
    """The negatives stage's first pass reads of each record only its kind, query and names (`screen`); the records it
    blanks must be exactly those `Heldout.excludes` drops when it reads them whole, and its tools the pool of a whole
    read. Records only the names tell apart are added: one calling a held-out tool it does not offer (its calls, not
    its tools, hold it out), one held out by its query alone that offers a tool no other record offers (its tools still
    enter the pool), one with a null tool list, and a blank line."""
    import msgspec

    from agentflan.config import BenchmarkConfig
    from agentflan.data.heldout import choose
    from agentflan.data.negatives import first_tools, screen
    from agentflan.data.schema import Tool, decode_conversation

    corpus = labelled_corpus()
    heldout = choose(
        corpus, BenchmarkConfig(heldout_tools=["search_hotels"], heldout_agent_queries=0.2, heldout_general_queries=0.3)
    )
    hotel = next(c for c in corpus if c.kind == "agent" and [x.name for x in c.calls] == ["search_hotels"])
    calls_only = msgspec.structs.replace(
        hotel, id="calls-only", tools=[t for t in hotel.tools if t.name != "search_hotels"]
    )
    asked = next(c for c in corpus if c.kind == "agent" and heldout.excludes(c) and not heldout.touches_tool(c))
    own_tool = msgspec.structs.replace(asked, id="own-tool", tools=[*asked.tools, Tool("only_here", "Its own.")])
    no_tools = msgspec.structs.replace(next(c for c in corpus if c.kind == "general"), id="no-tools", tools=[])
    records = [*corpus[:7], calls_only, own_tool, *corpus[7:150], no_tools, *corpus[150:]]
    lines = [r.to_json().replace(b'"tools":[]', b'"tools":null') for r in records]
    lines.insert(100, b"")
    whole = [decode_conversation(line) if line else None for line in lines]

    found = screen(lines, heldout)
    assert found.held_out == [i for i, c in enumerate(whole) if c is not None and heldout.excludes(c)]
    assert {lines.index(calls_only.to_json()), lines.index(own_tool.to_json())} <= set(found.held_out)
    assert list(found.tools.items()) == list(first_tools([c for c in whole if c], heldout).items())
    assert "only_here" in found.tools and "search_hotels" not in found.tools
    kept = [decode_conversation(line) for line in found.kept(lines) if line]
    assert [c.id for c in kept] == [c.id for c in whole if c is not None and not heldout.excludes(c)]
