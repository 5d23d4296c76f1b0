"""README's results table: the default, `negatives.enabled=false` and `mix.reasoning=0.3`, three seeds each.

Runs every (configuration, seed) as a named `dvc exp run --temp` (the workspace is left as it is),
reads the metrics back with `dvc exp show --json`, and writes mean ± sd per configuration to
results/agent_h_seeds.md (and its rows to results/agent_h_seeds.json). Takes about 4 minutes a run on
2 CPU cores; `--reuse` skips experiments that already exist.

    python scripts/results_table.py [--seeds 0 1 2] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

CONFIGS = {"default": [], "no-negatives": ["negatives.enabled=false"], "reasoning-0.3": ["mix.reasoning=0.3"]}
COLUMNS = [
    ("hscore", "HScore"),
    ("h_react", "H_ReAct"),
    ("over_refusal_rate", "over-refusal"),
    ("tool_name_accuracy_seen", "tool acc. seen"),
    ("tool_name_accuracy_unseen", "tool acc. unseen"),
    ("call_format_validity", "call format"),
    ("argument_accuracy", "argument acc."),
]
PROTOCOLS = ("chat", "react", "json")


def experiments() -> dict[str, dict]:
    """name -> metrics/evaluate.json of every experiment `dvc exp show` knows."""
    shown = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], check=True, capture_output=True, text=True).stdout
    )
    found: dict[str, dict] = {}

    def walk(node):
        if isinstance(node, dict):
            name = node.get("name")
            files = (node.get("data") or {}).get("metrics") or {}
            evaluate = next((v.get("data") for k, v in files.items() if k.endswith("evaluate.json")), None)
            if name and evaluate:
                found[name] = evaluate
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown)
    return found


def cell(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args.add_argument("--reuse", action="store_true", help="skip experiments that already exist")
    opts = args.parse_args()
    done = experiments() if opts.reuse else {}
    for config, sets in CONFIGS.items():
        for seed in opts.seeds:
            name = f"{config}-seed{seed}"
            if name in done:
                continue
            cmd = ["dvc", "exp", "run", "--temp", "-n", name, "-S", f"train.seed={seed}"]
            for s in sets:
                cmd += ["-S", s]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
    found = experiments()
    rows, lines = [], []
    header = "| run | protocol | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines += [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for config in CONFIGS:
        runs = [found[f"{config}-seed{s}"] for s in opts.seeds if f"{config}-seed{s}" in found]
        for protocol in PROTOCOLS:
            metrics = [r["by_protocol"][protocol] for r in runs]
            rows.append(
                {
                    "run": config,
                    "protocol": protocol,
                    "seeds": len(runs),
                    **{k: [m.get(k) for m in metrics] for k, _ in COLUMNS},
                }
            )
            lines.append(
                f"| {config} ({len(runs)} seeds) | {protocol} | "
                + " | ".join(cell([m.get(k) for m in metrics]) for k, _ in COLUMNS)
                + " |"
            )
    Path("results").mkdir(exist_ok=True)
    Path("results/agent_h_seeds.json").write_text(json.dumps(rows, indent=2) + "\n")
    Path("results/agent_h_seeds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
