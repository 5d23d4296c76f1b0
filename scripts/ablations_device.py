"""The three claims' ablations on a GPU machine: a larger tiny model trained longer, the same table (issue 22, item 3).

A lent GPU machine has torch but neither DVC nor MLflow, and no network, so the work is split in three steps:

    python scripts/ablations_device.py prepare .device
        here, with DVC: each variant's final split and benchmark, `dvc exp run -S <its overrides> negatives` in a
        clone of HEAD that shares this DVC cache, gzipped into .device/<variant>/ with a manifest; and a check that
        `final_split` below (balance and negatives in one process) writes the paper mix's split byte for byte as
        the two stages do
    python scripts/ablations_device.py run .device $OUT
        on the GPU machine (scripts/sweep_tiny.py's training and answers, no DVC or MLflow): every (variant, seed)
        of the claims, several processes at a time on the one GPU; the suggested mix's split is built there by
        `final_split` from the mix `suggest-mix` proposes from the default's seed-0 run; one JSON line a run in
        $OUT/runs.jsonl, written as each run ends
    python scripts/ablations_device.py table runs.jsonl results/ablations-gpu [--benchmark data/benchmark/agent_h.jsonl]
        here: every answer judged again by this commit's judges (runs made before a540a46 take each sample's
        `from_knowledge` flag from the benchmark file), `experiments.summarize` (mean +- sd over seeds,
        paired bootstrap intervals), written as results/ablations-gpu.json and .md, marked with the machine

The number of steps is the most of `STEPS` that fits the time given (`--budget-s`), from a timed probe of
`PROBE_STEPS` steps in as many processes as the first wave runs; it is recorded in every run's line, and
`run --steps N` repeats a run with it.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from agentflan.pipeline import experiments  # noqa: E402

# the GPU row's model and training: twice the default's width, twice its tokens a step, the peak lr and row length of
# the CPU default it was measured beside (lr 0.003, rows of 1,024, before e8dcce1), params.yaml otherwise
GPU = {
    "lr": 0.003,
    "max_length": 1024,
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "intermediate_size": 768,
    "batch_tokens": 4096,
    "warmup_steps": 100,
    "checkpoint_every": 10**9,  # a run is not resumed: no checkpoints
}
STEPS = (8000, 7000, 6000, 5000, 4000, 3000, 2400, 2000, 1600, 1400)
PROBE_STEPS = 60
SEEDS = (0, 1, 2)
FILES = ("train.jsonl", "validation.jsonl", "agent_h.jsonl")  # of each variant; the default also carries the next two
SOURCES = ("decomposed.jsonl", "heldout.json")
PATHS = {
    "train.jsonl": "data/final/train.jsonl",
    "validation.jsonl": "data/final/validation.jsonl",
    "agent_h.jsonl": "data/benchmark/agent_h.jsonl",
    "decomposed.jsonl": "data/decomposed/conversations.jsonl",
    "heldout.json": "data/benchmark/heldout.json",
}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def final_split(decomposed: Path, heldout: Path, mix: dict[str, float], params) -> dict[str, bytes]:
    """The `balance` and `negatives` stages' train and validation files for another mix (`{"mix.<capability>": w}`,
    as a variant's overrides write it), in one process (no GX, no MLflow): the same library calls on the same
    decomposed corpus."""
    from agentflan.data.balance import Balancer
    from agentflan.data.heldout import Heldout
    from agentflan.data.jsonio import read_conversations, read_json
    from agentflan.data.negatives import NegativesStats, add_negatives, tool_pool

    weights = {key.removeprefix("mix."): weight for key, weight in mix.items()}
    balancer = Balancer(params.mix.model_copy(update=weights), params.balance)
    conversations = list(read_conversations(decomposed))
    if not balancer.plan_unsampled():
        balancer.plan(conversations)
    kept = list(balancer.apply(conversations))
    held = Heldout.from_dict(read_json(heldout), str(heldout))
    out: dict[str, list[bytes]] = {"train": [], "validation": []}
    for split, conv in add_negatives(kept, tool_pool(kept, held), params.negatives, NegativesStats(), held):
        out[split].append(conv.to_json() + b"\n")
    return {f"{split}.jsonl": b"".join(lines) for split, lines in out.items()}


def prepare(bundle: Path, repo: Path = ROOT, only: list[str] | None = None) -> None:
    """Each variant's files (of those named in `only`, the default and the paper mix always) through DVC (a clone of
    `repo`'s HEAD per variant, its DVC cache shared), gzipped into `bundle`: written beside it and put in its place
    whole, so that a failed prepare leaves the bundle there was."""
    staged = bundle.with_name(f".{bundle.name}.partial")
    shutil.rmtree(staged, ignore_errors=True)
    try:
        manifest = stage_variants(staged, repo, only)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    (staged / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(bundle, ignore_errors=True)
    staged.rename(bundle)


def stage_variants(staged: Path, repo: Path, only: list[str] | None) -> dict:
    """`prepare`'s work into `staged`; its manifest."""
    from agentflan.config import load_params

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    manifest: dict = {"commit": commit.stdout.strip(), "variants": {}}
    dvc = str(Path(sys.executable).with_name("dvc"))
    with tempfile.TemporaryDirectory(prefix="ablations-") as tmp:
        work = Path(tmp)
        for variant in experiments.variants("abc"):
            if variant.name == experiments.SUGGESTED:
                continue  # built on the GPU machine, from the default's first run there
            if only and variant.name not in {*only, experiments.DEFAULT, "paper-mix"}:
                continue
            clone = work / variant.name
            subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
            cache = ["config", "--local", "cache.dir", str(repo / ".dvc" / "cache")]
            subprocess.run([dvc, *cache], cwd=clone, check=True)
            env = {
                **os.environ,
                "PYTHONPATH": str(clone / "src"),
                "MLFLOW_TRACKING_URI": f"sqlite:///{clone}/mlflow.db",
            }
            command = experiments.command(variant.name, variant.overrides, 0)
            command = [dvc, "exp", "run", *command[command.index("-S") + 2 :], "negatives"]  # no seed: data only
            print(" ".join(command[1:]), f"(in {clone})", flush=True)
            subprocess.run(command, cwd=clone, env=env, check=True, stdout=subprocess.DEVNULL)
            folder = staged / variant.name
            folder.mkdir(parents=True)
            md5s = {}
            for name in FILES + (SOURCES if variant.name == experiments.DEFAULT else ()):
                data = (clone / PATHS[name]).read_bytes()
                md5s[name] = md5(data)
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            manifest["variants"][variant.name] = {
                "overrides": variant.overrides,
                "protocol": variant.protocol,
                "md5": md5s,
            }
        # the split the GPU machine builds for the suggested mix, checked here against the stages on the paper mix
        paper = manifest["variants"]["paper-mix"]["md5"]
        default = work / experiments.DEFAULT
        params = load_params(default / "params.yaml")
        built = final_split(
            default / PATHS["decomposed.jsonl"], default / PATHS["heldout.json"], experiments.PAPER_MIX, params
        )
        for name, data in built.items():
            if md5(data) != paper[name]:
                raise SystemExit(f"final_split: {name} of the paper mix differs from the stages' ({md5(data)})")
        print("final_split writes the paper mix's train and validation files as the stages do", flush=True)
        manifest["benchmark_same"] = len({v["md5"]["agent_h.jsonl"] for v in manifest["variants"].values()}) == 1
        shutil.copy(default / "params.yaml", staged / "params.yaml")  # the runs' params: HEAD's
    return manifest


def unpack(bundle: Path, where: Path, variant: str) -> Path:
    """A variant's files of the bundle, unzipped into `where`/<variant>, each checked against the manifest's md5."""
    expected = json.loads((bundle / "manifest.json").read_text())["variants"][variant]["md5"]
    folder = where / variant
    folder.mkdir(parents=True, exist_ok=True)
    for name, digest in expected.items():
        data = gzip.decompress((bundle / variant / f"{name}.gz").read_bytes())
        if md5(data) != digest:
            raise SystemExit(f"{bundle / variant / name}.gz: md5 {md5(data)}, the manifest says {digest}")
        (folder / name).write_bytes(data)
    return folder


def one_run(task: dict) -> dict:
    """Train one (variant, seed) and answer the benchmark in the variant's protocol (in a worker process)."""
    import sweep_tiny
    import torch

    from agentflan.config import load_params
    from agentflan.training.curves import learning_speed

    torch.set_num_threads(1)
    torch.backends.cuda.matmul.allow_tf32 = True
    started = time.perf_counter()
    overrides = {**task["config"], "data": task["data"]}
    model, tokenizer, result, train_s = sweep_tiny.trained(overrides, load_params(task["params"]))
    answered = time.perf_counter()
    preds = sweep_tiny.answers(model, tokenizer, Path(task["data"], "agent_h.jsonl"), [task["protocol"]])
    ended = time.perf_counter()
    return {
        **{k: task[k] for k in ("name", "variant", "seed", "protocol", "config", "commit")},
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "train_s": round(train_s, 1),
        "step_s": round(result.wall_s / max(result.steps, 1), 4),
        "prepare_s": round(answered - started - train_s, 1),
        "answer_s": round(ended - answered, 1),
        "val_loss": result.val_loss,
        "learning_speed": learning_speed(result.capability_history),
        "rows": [p.to_dict() for p in preds],
    }


def config(steps: int, seed: int) -> dict:
    return {**GPU, "max_steps": steps, "eval_every": max(1, steps // 6), "seed": seed}


def choose_steps(probe: list[dict], seconds: float) -> int:
    """The most of `STEPS` whose two waves (every variant but the suggested mix, then it) fit `seconds`, each wave's
    step as slow as the probe's slowest (the second wave runs fewer processes: no slower)."""
    step = max(r["step_s"] for r in probe)
    fixed = max(r["prepare_s"] + r["answer_s"] for r in probe) + 15  # + the suggested mix's split
    for steps in STEPS:
        if 2 * (fixed + 1.1 * steps * step) <= seconds:
            return steps
    return STEPS[-1]


@contextlib.contextmanager
def stopped_at_exit(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of `jobs` spawned processes whose runs still going at the end (past the deadline, or after an error) are
    stopped, not waited for."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        for process in list(pool._processes.values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)


def run(bundle: Path, out: Path, budget_s: float, jobs: int, steps: int | None, only: list[str] | None = None) -> None:
    """Every (variant, seed) (of the variants named in `only`), `jobs` processes at a time; the suggested mix once the
    default's seed 0 is done."""
    from agentflan.config import load_params

    deadline = time.monotonic() + budget_s  # from the start: the unpacking and the probe count
    os.environ.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    manifest = json.loads((bundle / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="ablations-") as tmp,
        (out / "runs.jsonl").open("a") as log,
        stopped_at_exit(jobs) as pool,
    ):
        where = Path(tmp)
        folders = {name: str(unpack(bundle, where, name)) for name in manifest["variants"]}
        protocol = {v.name: v.protocol for v in experiments.variants("abc")}
        chosen = only or [v.name for v in experiments.variants("abc")]
        first = [(v, s) for v in manifest["variants"] if v in chosen for s in SEEDS]  # the default's seed 0 first

        def task(variant: str, seed: int, n: int, **extra) -> dict:
            cfg = {**config(n, seed), **extra}
            name = experiments.run_name(variant, seed)
            return {
                "name": name,
                "variant": variant,
                "seed": seed,
                "protocol": protocol[variant],
                "config": cfg,
                "commit": manifest["commit"],
                "params": str(bundle / "params.yaml"),
            }

        if steps is None:  # time a few steps in as many processes as the first wave runs
            probes = [
                pool.submit(one_run, {**task(v, s, PROBE_STEPS, eval_every=PROBE_STEPS), "data": folders[v]})
                for v, s in first[: min(jobs, len(first))]
            ]
            probe = [p.result() for p in probes]
            steps = choose_steps(probe, deadline - time.monotonic() - 30)
            print(
                json.dumps({"probe": [{k: r[k] for k in ("name", "step_s", "prepare_s", "answer_s")} for r in probe]})
            )
            print(f"steps: {steps} (of {STEPS}), {deadline - time.monotonic():.0f} s left", flush=True)
        running = {pool.submit(one_run, {**task(v, s, steps), "data": folders[v]}): (v, s) for v, s in first}
        while running:
            done, _ = wait(running, timeout=max(1.0, deadline - time.monotonic()), return_when=FIRST_COMPLETED)
            if not done:
                print(f"deadline: {len(running)} runs unfinished", flush=True)
                break
            for future in done:
                variant, seed = running.pop(future)
                if future.exception() is not None:  # said, and the other runs go on
                    print(f"{experiments.run_name(variant, seed)} failed: {future.exception()!r}", flush=True)
                    continue
                result = future.result()
                log.write(json.dumps(result) + "\n")
                log.flush()
                print(result["name"], {k: result[k] for k in ("train_s", "step_s", "answer_s", "val_loss")}, flush=True)
                if (variant, seed) == (experiments.DEFAULT, SEEDS[0]) and experiments.SUGGESTED in chosen:
                    suggested = experiments.suggested_overrides(result)
                    source = Path(folders[experiments.DEFAULT])
                    folder = where / experiments.SUGGESTED
                    folder.mkdir()
                    params = load_params(bundle / "params.yaml")
                    built = final_split(source / "decomposed.jsonl", source / "heldout.json", suggested, params)
                    for name, data in built.items():
                        (folder / name).write_bytes(data)
                    shutil.copy(source / "agent_h.jsonl", folder / "agent_h.jsonl")
                    print(f"suggested mix: {suggested}", flush=True)
                    for s in SEEDS:
                        t = {**task(experiments.SUGGESTED, s, steps, mix=suggested), "data": str(folder)}
                        running[pool.submit(one_run, t)] = (experiments.SUGGESTED, s)


def knowledge_flags(rows: list[dict], benchmark: Path, run: str) -> list[dict]:
    """`rows` with each sample's `from_knowledge` flag as `benchmark` (an `agent_h.jsonl`) gives it, by sample id: the
    runs made before the benchmark marked the samples a model can answer from knowledge (a540a46) lack it. A sample
    the file does not hold with the same query is an error, not a guess."""
    samples = {s["id"]: s for s in (json.loads(line) for line in benchmark.read_text().splitlines() if line.strip())}
    out = []
    for row in rows:
        sample = samples.get(row["id"])
        if sample is None or sample["query"] != row["query"]:
            raise SystemExit(f"{run}: sample {row['id']!r} is not in {benchmark} with the query it was asked")
        flag = {"from_knowledge": True} if sample.get("from_knowledge") else {}
        out.append({**{k: v for k, v in row.items() if k != "from_knowledge"}, **flag})
    return out


def table(runs_path: Path, stem: Path, claims: str = "abc", benchmark: Path | None = None) -> None:
    """The claims' table from the GPU runs (`runs.jsonl`, gzipped or not), every answer judged again here (`benchmark`:
    each sample's `from_knowledge` flag taken from that `agent_h.jsonl`, `knowledge_flags`)."""
    data = runs_path.read_bytes()
    text = (gzip.decompress(data) if runs_path.suffix == ".gz" else data).decode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    runs: dict[str, dict[int, list[dict]]] = {}
    for r in lines:
        rows = knowledge_flags(r["rows"], benchmark, r["name"]) if benchmark else r["rows"]
        runs.setdefault(r["variant"], {})[r["seed"]] = experiments.judged(rows)
    summary = experiments.summarize(runs, list(SEEDS), claims)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True)
    first = lines[0]
    cfg = {k: v for k, v in first["config"].items() if k not in ("seed", "mix")}
    summary["machine"] = {"device": first["device"], "config": cfg, "script": "scripts/ablations_device.py"}
    mixes = {r["variant"]: r["config"].get("mix") for r in lines if r["config"].get("mix")}
    for claim in summary["claims"].values():
        claim["baseline"], claim["judged_at"] = first["commit"][:9], head.stdout.strip()
        for name, mix in mixes.items():
            if name in claim["variants"]:
                claim["variants"][name]["overrides"] = mix
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    seconds = sorted(r["train_s"] for r in lines)
    kind = "CPU" if first["device"] == "cpu" else "GPU"
    mark = (
        f"{kind}: {first['device']}; model and training: {json.dumps(cfg)} (params.yaml otherwise); "
        f"`scripts/ablations_device.py` ({runs_path.name}), every run without DVC or MLflow on the splits DVC wrote; "
        f"{seconds[0]:.0f} to {seconds[-1]:.0f} s of training a run, runs sharing the device"
        + (f"; each sample's `from_knowledge` flag from `{benchmark}`" if benchmark else "")
        + ".\n\n"
    )
    stem.with_suffix(".md").write_text(mark + experiments.markdown(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("bundle", type=Path)
    p.add_argument("--repo", type=Path, default=ROOT, help="the repository whose HEAD is cloned (default: this one)")
    p.add_argument("--variants", nargs="+", default=None, help="these variants only (default: every one)")
    r = sub.add_parser("run")
    r.add_argument("bundle", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--budget-s", type=float, default=480)
    r.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    r.add_argument("--steps", type=int, default=None)
    r.add_argument("--variants", nargs="+", default=None, help="these variants only (default: every one)")
    t = sub.add_parser("table")
    t.add_argument("runs", type=Path)
    t.add_argument("stem", type=Path)
    t.add_argument("--claims", default="abc", help="the claims to table (default: abc)")
    t.add_argument(
        "--benchmark",
        type=Path,
        default=None,
        help="an agent_h.jsonl whose from_knowledge flags the runs' samples take (runs made before a540a46 lack them)",
    )
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.bundle, args.repo, args.variants)
    elif args.step == "run":
        run(args.bundle, args.out, args.budget_s, args.jobs, args.steps, args.variants)
    else:
        table(args.runs, args.stem, args.claims, args.benchmark)


if __name__ == "__main__":
    main()
