"""Each lever of results/levers.md against the default over seeds, from archived answers judged by this commit's judges.

A lever's runs are `sweep_tiny.py` rows with `"lever"` and `"archive"` (their native answers, named `<lever>-s<seed>`);
the default's are the `default` runs of a claims' archive (`--default`; the same trainer, data and seeds as a sweep
row with no lever, so a lever and the default are paired by seed and benchmark sample), and, at seeds the claims did
not run, sweep rows archived with `"lever": "default"`. The levers of results/levers.md were run on the default of
6 Dec (lr 0.003, sequence length 1,024, 1,400 steps), whose claims' runs are results/ablations-runs-intel-6dec.jsonl.gz;
a lever run on the current default pairs with its claims' runs, results/ablations-runs.jsonl.gz (`--default`'s own).
Prints the table (mean ± sd over seeds; the paired difference from the default with its bootstrap 95% interval) as
Markdown and writes it as JSON:

    python scripts/levers_table.py results/levers-runs.jsonl.gz --default results/ablations-runs-intel-6dec.jsonl.gz \
        --json results/levers-seeds.json
    python scripts/levers_table.py results/levers-runs.jsonl.gz --default results/ablations-runs-intel-6dec.jsonl.gz \
        --seeds 0 1 2 3 4 --only lr-0.0015
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agentflan.pipeline import experiments
from agentflan.pipeline.experiments import DEFAULT, METRICS, Variant


def levers_table(levers: Path, defaults: Path, seeds: list[int], only: list[str] | None = None) -> dict:
    """The `experiments.compared` table of every lever in `levers` (of those in `only`, when given) and the default of
    `defaults` (and of `levers`, at seeds `defaults` lacks), at `seeds`."""
    runs = [r for r in experiments.read_runs(defaults, seeds=seeds) if r["variant"] == DEFAULT]
    if not runs:
        raise SystemExit(f"{defaults}: no run of the default at seeds {seeds}")
    claimed = {r["seed"] for r in runs}
    for r in experiments.read_runs(levers, seeds=seeds):
        if r["variant"] == DEFAULT and r["seed"] in claimed:
            raise SystemExit(f"{levers}: {r['name']} is a default run at a seed {defaults} has; one source a seed")
        if only is None or r["variant"] in (DEFAULT, *only):
            runs.append(r)
    by_variant: dict[str, dict[int, list[dict]]] = {}
    params: dict[str, dict] = {}
    for r in runs:
        by_variant.setdefault(r["variant"], {})[r["seed"]] = experiments.judged(r["rows"])
        params.setdefault(r["variant"], {k: v for k, v in r["params"].items() if k not in ("lever", "seed", "note")})
    variants = [Variant(DEFAULT)] + [Variant(v, params[v]) for v in by_variant if v != DEFAULT]
    table = experiments.compared(by_variant, seeds, variants)
    return {"seeds": seeds, "metrics": list(METRICS), "judged_at": experiments.short_commit("HEAD"), "levers": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("levers", type=Path, help="the archive sweep_tiny.py's lever rows were added to")
    parser.add_argument("--default", type=Path, default=Path("results/ablations-runs.jsonl.gz"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", metavar="LEVER", help="these levers alone (and the default)")
    parser.add_argument("--json", type=Path, help="write the table here too")
    args = parser.parse_args()
    out = levers_table(args.levers, args.default, args.seeds, args.only)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print("\n".join(experiments.rows_markdown(out["metrics"], out["levers"])))


if __name__ == "__main__":
    main()
