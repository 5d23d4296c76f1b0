"""Tools by the dozen for `sweep_tiny.py`'s `synthetic_tools` lever: an attribute of a kind of thing each.

Each tool (`get_city_population`) is asked for in the query in its own words ("What is the population of Lima?"), so the
tool to call is the offered one whose name shares the query's words: a model that has met the demo's few tools can
remember them, one that meets 44 more has more reason to read the list (the lever for tools never seen in training). The
results are random numbers: the rows teach the choice and the call, not facts.
"""

import random
from collections.abc import Iterator
from typing import Any, NamedTuple

from agentflan.data.schema import Conversation, conversation_from_dict
from agentflan.demo.world import CITIES, COUNTRIES, MOVIES, SYMBOLS

KINDS = {  # kind: (its argument, the argument's values (the demo world's), the attributes asked for)
    "city": (
        "city",
        CITIES,
        [
            "population",
            "elevation",
            "area",
            "mayor",
            "postal code",
            "founding year",
            "average rent",
            "sunrise time",
            "airport code",
            "tram lines",
            "museum count",
            "rainfall",
            "bike lanes",
            "parking fee",
            "tap water rating",
            "library hours",
        ],
    ),
    "country": (
        "country",
        COUNTRIES,
        [
            "capital",
            "calling code",
            "national dish",
            "anthem",
            "highest mountain",
            "speed limit",
            "voting age",
            "driving side",
            "plug type",
            "tallest building",
            "literacy rate",
            "coastline length",
        ],
    ),
    "movie": (
        "title",
        MOVIES,
        [
            "runtime",
            "box office",
            "budget",
            "soundtrack composer",
            "lead actor",
            "sequel",
            "age rating",
            "filming location",
        ],
    ),
    "company": (
        "symbol",
        SYMBOLS,
        [
            "chief executive",
            "headquarters",
            "employee count",
            "founding year",
            "market value",
            "dividend",
            "auditor",
            "largest shareholder",
        ],
    ),
}
QUERIES = (
    "What is the {attr} of {value}?",
    "Tell me the {attr} of {value}.",
    "I need the {attr} for {value}.",
    "Can you look up the {attr} of {value}?",
    "Quick one: {value}'s {attr}?",
)


class MadeTool(NamedTuple):
    name: str
    kind: str
    arg: str
    values: list[str]
    attr: str
    spec: dict[str, Any]  # the tool as a conversation offers it


def made_tool(kind: str, attr: str) -> MadeTool:
    """The tool `get_<kind>_<attribute>` (spaces as underscores): the attribute of a thing of that kind."""
    arg, values, _ = KINDS[kind]
    name = f"get_{kind}_{attr.replace(' ', '_')}"
    props = {arg: {"type": "string", "description": f"The {kind}"}}
    spec = {
        "name": name,
        "description": f"The {attr} of a {kind}.",
        "parameters": {"type": "object", "properties": props, "required": [arg]},
    }
    return MadeTool(name, kind, arg, values, attr, spec)


def tools() -> list[MadeTool]:
    """Every made tool: one per kind and attribute of `KINDS`."""
    return [made_tool(kind, attr) for kind, (_, _, attrs) in KINDS.items() for attr in attrs]


def conversations(n: int, seed: int) -> Iterator[Conversation]:
    """`n` native agent conversations, seeded: a made tool asked for in its own words, called, answered; two other
    made tools offered beside it."""
    rng, pool = random.Random(f"{seed}:diverse"), tools()
    for i in range(n):
        name, kind, arg, values, attr, spec = rng.choice(pool)
        value = rng.choice(values)
        others = rng.sample([t.spec for t in pool if t.name != name], 2)
        offered = others + [spec]
        rng.shuffle(offered)
        query = rng.choice(QUERIES).format(attr=attr, value=value)
        result = str(rng.randint(2, 9999))
        yield conversation_from_dict(
            {
                "id": f"diverse_{seed}_{i}",
                "source": "diverse",
                "kind": "agent",
                "style": "native",
                "query": query,
                "tools": offered,
                "turns": [
                    {"role": "user", "content": query},
                    {
                        "role": "assistant",
                        "content": f"The {kind} tool for {attr} answers this.",
                        "loss": True,
                        "part": "thought",
                        "capability": "reasoning",
                        "tool_calls": [
                            {
                                "name": name,
                                "arguments": {arg: value},
                                "id": "call_0",
                                "loss": {"name": True, "arguments": True},
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "content": f'{{"{attr.replace(" ", "_")}": "{result}"}}',
                        "name": name,
                        "tool_call_id": "call_0",
                    },
                    {
                        "role": "assistant",
                        "content": f"The {attr} of {value} is {result}.",
                        "loss": True,
                        "part": "answer",
                        "capability": "understanding",
                    },
                ],
                "meta": {},
            }
        )
