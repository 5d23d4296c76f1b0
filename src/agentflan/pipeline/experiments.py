"""The paper's three claims as DVC experiments: which runs, how they are named, and their table.

Each claim compares variants of the default pipeline, each a set of `-S` overrides, run for several
`train.seed`s as `dvc exp run --temp -n <variant>-s<seed>` (the workspace is left as it is). The default
is one variant shared by every claim. `table` reads the runs back with `dvc exp show --json` (metrics)
and `dvc.api` (each run's per-sample predictions, from the DVC cache), judges every answer again with
this commit's judges (runs made before a judge was mended are compared by one judge), and reports per
variant the mean and sd over seeds of the headline metrics, and for each difference from the default its
paired bootstrap 95% interval over (seed, benchmark sample) pairs. Each run's answers are archived beside the table
(`write_runs`), so that a later commit's judges can judge them again once the experiments are gone (`read_runs`).
"""

from __future__ import annotations

import gzip
import json
import statistics
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflan.evaluation.scoring import SAMPLE_METRICS, Prediction, bootstrap_mean, judge, per_sample
from agentflan.pipeline.headline import EVALUATION, by_file_name
from agentflan.pipeline.tracking import flatten

DEFAULT = "default"
PREDICTIONS = "data/eval/predictions.jsonl"
TRAIN_DETAILS = "metrics/details/train.json"


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    protocol: str = "native"  # the evaluation protocol the variant's model is read in (the one it was trained for)


@dataclass(frozen=True)
class Claim:
    key: str
    statement: str
    variants: tuple[Variant, ...]  # the default is the first
    # (variant, metric, direction): the claim holds when each difference's interval lies on that side of 0
    supported_if: tuple[tuple[str, str, int], ...]
    # (variant, metric, direction): and no difference's interval lies on that side of 0 (the side where the recipe
    # costs ability: a variant without the recipe's step better, or one with it worse)
    no_cost: tuple[tuple[str, str, int], ...] = ()


PAPER_MIX = {"mix.retrieval": 0.25, "mix.understanding": 0.75}  # the paper's reasoning : retrieval : understanding
SUGGESTED = "suggested-mix"  # its overrides come from the default run (`suggested_overrides`)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "a",
        "agent data aligned to natural chat is learned better than ReAct-format data",
        (
            Variant(DEFAULT),
            Variant("elicited", {"convert.call_style": "elicited"}, protocol="chat"),
            # rows of 1,024 tokens: ToolBench's ReAct records keep their upstream system prompt with the APIs listed
            # (about 900 tokens of the tiny tokenizer), which fills a row of the default 512 on its own, and a
            # conversation whose context fills a row is dropped (the same tokens a step either way)
            Variant("all-react", {"convert.react_fraction": 1.0, "train.max_length": 1024}, protocol="react"),
        ),
        supported_if=(("all-react", "tool_name_accuracy_seen", -1),),
    ),
    Claim(
        "b",
        "capabilities are learned at different speeds, so re-balancing them helps",
        (
            Variant(DEFAULT),  # every token kept: each mix weight 1.0 (params.yaml)
            Variant("paper-mix", PAPER_MIX),  # 1 : 0.25 : 0.75
            Variant(SUGGESTED),
        ),
        supported_if=(("paper-mix", "tool_name_accuracy_seen", 1),),
        no_cost=(("paper-mix", "hscore", -1),),
    ),
    Claim(
        "c",
        "hallucination negatives cut hallucination without costing agent ability",
        (Variant(DEFAULT), Variant("no-negatives", {"negatives.enabled": False})),
        supported_if=(("no-negatives", "hscore", -1),),
        no_cost=(("no-negatives", "tool_name_accuracy_seen", 1), ("no-negatives", "argument_accuracy", 1)),
    ),
)


# the table's metrics: the evaluation headline's, each the mean of a per-sample value (`scoring.SAMPLE_METRICS`), so
# that a difference of two runs' values is a mean of paired per-sample differences
METRICS = tuple(m for m in EVALUATION if m in SAMPLE_METRICS)


def run_name(variant: str, seed: int) -> str:
    return f"{variant}-s{seed}"


def variants(claims: Iterable[str]) -> list[Variant]:
    """The distinct variants of the chosen claims, the default first."""
    seen: dict[str, Variant] = {}
    for claim in CLAIMS:
        if claim.key in claims:
            for v in claim.variants:
                seen.setdefault(v.name, v)
    return list(seen.values())


def suggested_overrides(train_details: dict) -> dict[str, float]:
    """`agentflan suggest-mix` on a run's train details: `mix.*` from its per-capability learning speed."""
    from agentflan.training.curves import suggest_mix

    speed = train_details.get("learning_speed") or {}
    if not speed:
        raise ValueError(f"the default run's {TRAIN_DETAILS} has no learning_speed")
    return {f"mix.{c}": w for c, w in suggest_mix(speed).items()}


def train_details(run: dict[str, Any]) -> dict[str, Any]:
    """A run's train details (`metrics/details/train.json` at its revision; the metrics file of runs made before
    the headline and the details were split)."""
    import dvc.api
    from dvc.exceptions import PathMissingError

    try:
        return json.loads(dvc.api.read(TRAIN_DETAILS, rev=run["rev"]))
    except (PathMissingError, FileNotFoundError):
        return by_file_name(run["metrics"]).get("train.json", {})


def command(name: str, overrides: dict[str, Any], seed: int, queue: bool = False) -> list[str]:
    """The `dvc exp run` of one (variant, seed)."""
    cmd = ["dvc", "exp", "run", "--queue" if queue else "--temp", "-n", name, "-S", f"train.seed={seed}"]
    for key, value in overrides.items():
        cmd += ["-S", f"{key}={json.dumps(value) if isinstance(value, bool) else value}"]
    return cmd


def plan(
    claims: Iterable[str], seeds: list[int], done: dict[str, dict[str, Any]], queue: bool = False
) -> list[tuple[str, list[str] | None]]:
    """(name, its `dvc exp run`) for every run of the chosen claims not in `done`, the default's first; the
    suggested mix needs the default's first seed done (`None` until then: run the plan again)."""
    out: list[tuple[str, list[str] | None]] = []
    for variant in variants(claims):
        for seed in seeds:
            name = run_name(variant.name, seed)
            if name in done:
                continue
            overrides = variant.overrides
            if variant.name == SUGGESTED:
                default = done.get(run_name(DEFAULT, seeds[0]))
                if default is None:
                    out.append((name, None))
                    continue
                overrides = suggested_overrides(train_details(default))
            out.append((name, command(name, overrides, seed, queue)))
    return out


def run(
    claims: Iterable[str],
    seeds: list[int],
    echo: Callable[[str], None] = print,
    dry_run: bool = False,
    queue: bool = False,
) -> int:
    """Run every missing experiment of the chosen claims, one at a time (`dvc exp run --temp`), or queue them
    (`queue`, for `dvc queue start -j N`; run it again for the suggested mix once the default's first seed is
    done); returns how many were run or queued. Names already queued or running are left alone."""
    claims, count = list(claims), 0
    for _ in range(1 if queue else 2):  # a second pass for the suggested mix, once the default has run
        waiting = queued() if queue else set()
        todo = [(name, cmd) for name, cmd in plan(claims, seeds, shown(), queue) if name not in waiting]
        for name, cmd in todo:
            if cmd is None:
                echo(f"# {name}: after {run_name(DEFAULT, seeds[0])}, with the mix `agentflan suggest-mix` proposes")
                continue
            echo(" ".join(cmd))
            if not dry_run:
                subprocess.run(cmd, check=True)
                count += 1
        if dry_run or all(cmd is not None for _, cmd in todo):
            break
    return count


def queued() -> set[str]:
    """Names of the experiments queued or running (`dvc queue status`)."""
    out = subprocess.run(["dvc", "queue", "status"], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return {r[1] for r in rows if len(r) > 2 and r[-1] in ("Queued", "Running")}


def shown(rev: str | None = None) -> dict[str, dict[str, Any]]:
    """name -> {"rev", "params", "metrics": {file: data}} of every finished experiment `dvc exp show --json` lists
    (those of HEAD, or of the baseline commit `rev`)."""
    cmd = ["dvc", "exp", "show", "--json"] + (["--rev", rev] if rev else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    finished = finished_revs()
    found: dict[str, dict[str, Any]] = {}
    for baseline in json.loads(out):  # the workspace, then the baseline commit with its experiments
        for exp in baseline.get("experiments") or []:
            for node in exp.get("revs") or []:
                data = node.get("data") or {}
                if node.get("name") and node.get("rev") in finished and data.get("metrics"):
                    found[node["name"]] = {
                        "rev": node["rev"],
                        "params": (data.get("params") or {}).get("params.yaml", {}).get("data", {}),
                        "metrics": {k: v.get("data") or {} for k, v in data["metrics"].items()},
                    }
    return found


def finished_revs() -> set[str]:
    """The commits of finished experiments (`dvc exp show` also lists queued, running and failed ones, at the
    commit of their stashed workspace, with the baseline's metrics)."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # refs/exps/<baseline>/<name>; refs/exps/celery/* (the queue's stash and its failed runs) are not results
    return {sha for ref, sha in (line.split() for line in out.splitlines()) if not ref.startswith("refs/exps/celery/")}


def predictions_of(rev: str) -> list[dict]:
    """An experiment's per-sample predictions (a DVC-cached output), read at its revision."""
    import dvc.api

    with dvc.api.open(PREDICTIONS, rev=rev) as f:
        return [json.loads(line) for line in f if line.strip()]


def judged(rows: list[dict]) -> list[dict]:
    """Rows of predictions.jsonl with each verdict given again by this commit's judges (a run keeps the verdicts of
    the judges it ran with)."""
    return [{**row, "verdict": judge(Prediction.from_dict(row))} for row in rows]


def collect(claims: Iterable[str], seeds: list[int], rev: str | None = None) -> list[dict[str, Any]]:
    """Every run of the chosen claims that `dvc exp show` lists (of HEAD, or of the baseline commit `rev`): its name,
    variant, seed, experiment commit, baseline, params and answers (its `predictions.jsonl` rows in the protocol its
    variant is read in), as `write_runs` archives them."""
    found, baseline, out = shown(rev), short_commit(rev or "HEAD"), []
    for variant in variants(claims):
        for seed in seeds:
            name = run_name(variant.name, seed)
            if exp := found.get(name):
                rows = [r for r in predictions_of(exp["rev"]) if r.get("protocol", "react") == variant.protocol]
                run = {"name": name, "variant": variant.name, "seed": seed, "rev": exp["rev"], "baseline": baseline}
                out.append({**run, "params": exp["params"], "rows": rows})
    return out


def table(runs: list[dict[str, Any]], claims: Iterable[str], seeds: list[int]) -> dict[str, Any]:
    """`summarize` over the runs (`collect`'s, or an archive's) of the chosen claims and seeds, every answer `judged`
    again by this commit's judges; each claim names the baseline of its runs, and the suggested mix's row its mix."""
    claims, by_variant = list(claims), {}
    for r in runs:
        by_variant.setdefault(r["variant"], {})[r["seed"]] = judged(r["rows"])
    summary = summarize(by_variant, seeds, claims)
    named, judged_at = {r["name"]: r for r in runs}, short_commit("HEAD")
    for claim in summary["claims"].values():
        mine = [named[run_name(v, s)] for v in claim["variants"] for s in seeds if run_name(v, s) in named]
        claim["baseline"] = "/".join(dict.fromkeys(r["baseline"] for r in mine)) or judged_at
        claim["judged_at"] = judged_at
        for name, row in claim["variants"].items():
            ran = [(named[run_name(name, s)], named.get(run_name(DEFAULT, s))) for s in row["seeds"]]
            if ran and all(default for _, default in ran):  # what the runs changed, not what the variant says today
                row["overrides"] = ran_overrides(*ran[0])
    return summary


def ran_overrides(run: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The `-S` overrides a run was made with: its params that differ from the default's run of the same seed (an
    archive's runs keep their own, whatever the variant's definition has become since; a suggested mix its mix)."""
    mine, base = flatten(run["params"]), flatten(default["params"])
    return {key: value for key, value in mine.items() if base.get(key) != value}


def write_runs(path: Path, runs: list[dict[str, Any]]) -> None:
    """The runs as gzipped JSON lines (the same bytes for the same runs), those already in `path` that these do not
    replace (by name) kept: `read_runs` gives them back for `table` to judge again once the experiments' refs are
    gone (a clone, `dvc exp remove`)."""
    names = {r["name"] for r in runs}
    kept = [r for r in read_runs(path) if r["name"] not in names] if path.is_file() else []
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted([*kept, *runs], key=lambda r: r["name"]))
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(gzip.compress(text.encode(), mtime=0))
    tmp.replace(path)


def read_runs(path: Path, claims: Iterable[str] | None = None, seeds: list[int] | None = None) -> list[dict[str, Any]]:
    """The runs `write_runs` archived (of the chosen claims' variants and seeds, when given)."""
    names = {v.name for v in variants(claims)} if claims is not None else None
    runs = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines() if line.strip()]
    return [r for r in runs if (names is None or r["variant"] in names) and (seeds is None or r["seed"] in seeds)]


def short_commit(rev: str) -> str:
    """The short hash of a git revision."""
    return subprocess.run(
        ["git", "rev-parse", "--short", rev], check=True, capture_output=True, text=True
    ).stdout.strip()


def _mean_sd(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "sd": None}
    return {
        "mean": round(statistics.mean(values), 4),
        "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
    }


def summarize(
    runs: dict[str, dict[str, list[dict]]], seeds: list[int], claims: Iterable[str], samples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The ablation table from each run's predictions: `runs[variant][seed] = rows of predictions.jsonl`, one
    `compared` table per claim with its verdict."""
    out: dict[str, Any] = {"seeds": seeds, "metrics": list(METRICS), "claims": {}}
    for claim in (c for c in CLAIMS if c.key in claims):
        table = compared(runs, seeds, claim.variants, samples, seed)
        out["claims"][claim.key] = {"statement": claim.statement, "variants": table, "verdict": verdict(claim, table)}
    return out


def compared(
    runs: dict[str, dict[str, list[dict]]],
    seeds: list[int],
    variants: Sequence[Variant],
    samples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per variant (the first is the default) and metric: the per-seed values, their mean and sd; for a variant other
    than the default, the mean paired difference from the default (same seed, same benchmark sample, each in its own
    protocol) with its percentile-bootstrap 95% interval."""
    table: dict[str, Any] = {}
    base = variants[0]
    # variant -> metric -> seed -> {sample id: value}, each computed once
    scores = {
        v.name: {
            m: {s: per_sample(runs[v.name][s], m, v.protocol) for s in seeds if s in runs.get(v.name, {})}
            for m in METRICS
        }
        for v in variants
    }
    for variant in variants:
        done = [s for s in seeds if s in runs.get(variant.name, {})]
        row: dict[str, Any] = {"overrides": variant.overrides, "protocol": variant.protocol, "seeds": done}
        for metric in METRICS:
            mine, theirs = scores[variant.name][metric], scores[base.name][metric]
            values = [sum(m.values()) / len(m) for m in mine.values() if m]
            cell: dict[str, Any] = {"per_seed": [round(v, 4) for v in values], **_mean_sd(values)}
            deltas = []
            for s in [s for s in done if s in theirs] if variant is not base else []:
                deltas += [mine[s][i] - theirs[s][i] for i in sorted(mine[s].keys() & theirs[s].keys())]
            if deltas:
                diff, low, high = bootstrap_mean(deltas, samples, seed)
                cell["vs_default"] = {
                    "diff": round(diff, 4),
                    "low": round(low, 4),
                    "high": round(high, 4),
                    "pairs": len(deltas),
                }
            row[metric] = cell
        table[variant.name] = row
    return table


def merge(previous: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """`summary`, keeping the claims of a previous table it does not hold (each claim names its baseline)."""
    kept = {k: v for k, v in (previous.get("claims") or {}).items() if k not in summary["claims"]}
    return {**summary, "claims": dict(sorted({**kept, **summary["claims"]}.items()))}


def verdict(claim: Claim, table: dict[str, Any]) -> str:
    """Whether this run supports the claim, by the rule the claim states (intervals, not point estimates)."""
    reasons, holds = [], True
    for variant, metric, direction in claim.supported_if:
        d = _difference(table, variant, metric)
        if d is None:
            return "not measured"
        holds &= _beyond(d, direction)
        reasons.append(f"{metric} of {variant} minus default: {_interval(d)}")
    for variant, metric, direction in claim.no_cost:
        d = _difference(table, variant, metric)
        if d is not None and _beyond(d, direction):
            holds = False
            reasons.append(f"but the recipe costs {metric} ({variant} minus default: {_interval(d)})")
    return ("supported: " if holds else "not supported: ") + "; ".join(reasons)


def _difference(table: dict[str, Any], variant: str, metric: str) -> dict[str, float] | None:
    """A variant's paired difference from the default in one metric, or None where it was not measured."""
    return (table.get(variant, {}).get(metric) or {}).get("vs_default")


def _beyond(d: dict[str, float], direction: int) -> bool:
    """Whether a difference's interval lies wholly on `direction`'s side of 0."""
    return d["high"] < 0 if direction < 0 else d["low"] > 0


def _interval(d: dict[str, float]) -> str:
    """A difference with its interval, as the verdict prints it."""
    return f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


LABELS = {
    "hscore": "HScore",
    "over_refusal_rate": "over-refusal",
    "fabrication_rate": "fabrication",
    "plain_quality": "plain quality",
    "tool_name_accuracy_seen": "tool acc. seen",
    "tool_name_accuracy_unseen": "tool acc. unseen",
    "argument_accuracy": "argument acc.",
    "call_format_validity": "call format",
    "hallucinated_tool_rate": "hallucinated tool",
    "multi_step_accuracy": "multi-step",
    "multi_step_fabrication_rate": "multi-step made up",
}


def markdown(summary: dict[str, Any]) -> str:
    """The table as Markdown: one section per claim, mean ± sd over seeds and [interval] of the difference."""
    lines = [
        f"Seeds: {', '.join(map(str, summary['seeds']))} (`train.seed`). Each cell: mean ± sd over seeds; under it, "
        "the paired difference from the default with its bootstrap 95% interval.",
        "",
    ]
    for key, claim in summary["claims"].items():
        lines += [f"### ({key}) {claim['statement']}", ""]
        if claim.get("baseline"):
            judged_at = claim.get("judged_at", claim["baseline"])
            by = "" if judged_at == claim["baseline"] else f"; answers judged by the judges of commit {judged_at}"
            lines += [f"Baseline commit {claim['baseline']}; variants: `-S` overrides of it{by}.", ""]
        lines += rows_markdown(summary["metrics"], claim["variants"])
        lines += ["", f"Verdict: {claim['verdict']}", ""]
    return "\n".join(lines)


def rows_markdown(metrics: Sequence[str], variants: dict[str, Any]) -> list[str]:
    """A `compared` table as Markdown lines: a row per variant, each cell mean ± sd over seeds and, under it, the
    difference from the default with its [interval]."""
    lines = ["| variant | protocol | seeds | " + " | ".join(LABELS[m] for m in metrics) + " |"]
    lines.append("|" + "---|" * (len(metrics) + 3))
    for name, row in variants.items():
        cells = []
        for m in metrics:
            c = row.get(m) or {"mean": None}  # a metric added after the claim was read: not in its rows
            text = "—" if c["mean"] is None else f"{c['mean']:.2f} ± {c['sd']:.2f}"
            d = c.get("vs_default")
            if d:
                text += f"<br>{d['diff']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
            cells.append(text)
        lines.append(f"| {name} | {row['protocol']} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    return lines
