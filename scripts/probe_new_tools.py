"""Does a saved model call a tool it never met, by its name? 24 queries, each offering one attribute tool of
`synthetic_tools.py`'s kinds with an attribute never trained ("What is the time zone of Brazil?" with
`get_country_time_zone`) beside two trained ones; a model of `sweep_tiny.py` (its `"save"` folder) answers each in the
native protocol. Prints, per folder, the calls that name the new tool and those that name any offered tool.

    python scripts/probe_new_tools.py /tmp/run_a /tmp/run_b
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.generation import predictions, run_protocol

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_tools  # noqa: E402

NEW = {  # attributes no synthetic conversation asks for
    "city": ["hospital count", "tallest tower", "river name", "subway length"],
    "country": ["time zone", "flag colours", "president", "national bird"],
    "movie": ["release date", "director", "sequel count"],
    "company": ["stock exchange", "ticker history", "founder"],
}


def samples(n: int = 24, seed: int = 5) -> list[Sample]:
    rng, trained = random.Random(seed), [t.spec for t in synthetic_tools.tools()]
    out = []
    for i in range(n):
        kind = rng.choice(list(NEW))
        attr = rng.choice(NEW[kind])
        new = synthetic_tools.made_tool(kind, attr)
        value = rng.choice(new.values)
        tools = [*rng.sample(trained, 2), new.spec]
        rng.shuffle(tools)
        query = rng.choice(synthetic_tools.QUERIES).format(attr=attr, value=value)
        out.append(
            Sample.from_dict(
                {
                    "id": f"new_tool_{i}",
                    "category": "tool_needed_offered_unseen",
                    "level": "action",
                    "query": query,
                    "tools": tools,
                    "expected": "call",
                    "expected_tool": new.name,
                    "expected_arguments": {new.arg: [value]},
                    "reference": None,
                }
            )
        )
    return out


def main(folders: list[str]) -> None:
    probe = samples()
    for folder in folders:
        model, tokenizer = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
        right = offered = calls = 0
        for sample, pred in zip(
            probe, predictions(probe, run_protocol(model, tokenizer, probe, "native", 64, 40), "native")
        ):
            names = [c["name"] for c in pred.tool_calls or []]
            if names:
                calls += 1
                offered += names[0] in {t.name for t in sample.tools}
                right += names[0] == sample.expected_tool
        print(f"{folder}: {right}/{len(probe)} call the new tool; {calls} calls, {offered} of them to an offered tool")


if __name__ == "__main__":
    main(sys.argv[1:])
