"""An elicited-form model under the chat harness twice: as the benchmark plays it (the eliciting turns follow a
first answer that announces a step) and asking "Which tool will you call?" after every first answer. Claim (a) in
README reads the elicited models both ways: what the harness misses, and what asking always costs.

    python scripts/elicited_harness_probe.py MODEL_DIR [MODEL_DIR ...] [--benchmark BENCHMARK_JSONL]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SHOWN = ("tool_name_accuracy_seen", "call_format_validity", "hscore", "h_general", "over_refusal_rate")


def main(
    model_dirs: list[Path],
    benchmark: Annotated[Path, typer.Option(help="The benchmark's samples.")] = Path("data/benchmark/agent_h.jsonl"),
    max_new_tokens: int = 64,
    batch_size: int = 40,
) -> None:
    from agentflan.data.jsonio import read_records
    from agentflan.evaluation.benchmark import Sample
    from agentflan.evaluation.generation import load, predictions, run_protocol
    from agentflan.evaluation.scoring import judge, score

    samples = list(read_records(benchmark, Sample.from_dict))
    print("model | harness | " + " | ".join(SHOWN))
    for model_dir in model_dirs:
        model, tokenizer = load(model_dir)
        for ask_always, harness in ((False, "as the benchmark plays it"), (True, "asks which tool every time")):
            answers = run_protocol(model, tokenizer, samples, "chat", max_new_tokens, batch_size, ask_always)
            preds = predictions(samples, answers, "chat")
            metrics = score(preds, [judge(p) for p in preds])
            print(f"{model_dir} | {harness} | " + " | ".join(f"{metrics[k]:.3f}" for k in SHOWN))


if __name__ == "__main__":
    typer.run(main)
