"""Seen-tool accuracy of a model under two ReAct prompts: ToolBench's own (the AutoGPT system prompt with the tools
listed as ToolBench lists them, which the ReAct training data keeps verbatim) and the benchmark's `react` protocol
(the format prompt, tools through the chat template). Claim (a) in README reads the all-ReAct models both ways.

    python scripts/react_prompt_probe.py MODEL_DIR [BENCHMARK_JSONL] [--show N]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def main(
    model_dir: Path,
    benchmark: Path = Path("data/benchmark/agent_h.jsonl"),
    show: Annotated[int, typer.Option(help="Answers to print per prompt.")] = 3,
    max_new_tokens: int = 96,
) -> None:
    from agentflan.demo import world
    from agentflan.demo.corpus import TOOLBENCH_SYSTEM
    from agentflan.evaluation.benchmark import Sample
    from agentflan.evaluation.calls import react_calls
    from agentflan.evaluation.generation import complete, load, run_protocol

    with benchmark.open() as f:
        samples = [Sample.from_dict(json.loads(line)) for line in f]
    seen = [s for s in samples if s.category == "tool_needed_offered_seen"]
    demo_tools = {t.name: t for t in world.TOOLS}
    model, tokenizer = load(model_dir)
    upstream = []
    for s in seen:
        listed = [
            world.toolbench_function(demo_tools[t.name]) if t.name in demo_tools else t.to_dict() for t in s.tools
        ]
        system = TOOLBENCH_SYSTEM + str(listed + [world.FINISH_SPEC])  # as the demo's ToolBench records write it
        upstream.append(
            ([{"role": "system", "content": system}, {"role": "user", "content": f"\n{s.query}\nBegin!\n"}], None)
        )
    answers = {
        "ToolBench's prompt": complete(model, tokenizer, upstream, max_new_tokens, 20),
        "the benchmark's react prompt": [
            t[0] for t in run_protocol(model, tokenizer, seen, "react", max_new_tokens, 20)
        ],
    }
    for prompt, texts in answers.items():
        chosen = [next((c.name for c in react_calls(a)), None) for a in texts]  # the first Action, as judged
        right = sum(c == s.expected_tool for c, s in zip(chosen, seen))
        print(f"{prompt}: seen-tool accuracy {right}/{len(seen)}")
        for a, s in list(zip(texts, seen))[:show]:
            print(f"    expected {s.expected_tool}: {a[:160]!r}")


if __name__ == "__main__":
    typer.run(main)
