"""Benchmarks, each figure a ratio against a baseline measured in the same run (the machines are shared
and noisy). Writes `benchmarks/results/<name>.json` and the table `benchmarks/results/README.md`.

    python benchmarks/run.py                 # every benchmark
    python benchmarks/run.py streaming       # one of: streaming, generation, training, data_stages, pipeline

- streaming: `agentflan convert` on generated ToolBench ToolLLaMA arrays of 10,000, 20,000 and 100,000
  records, against bare orjson (read the array, write each record as a JSON line) on the same files:
  records/s ratio and peak memory (each run in its own process, peak RSS from the kernel).
- generation: batched greedy generation (`evaluation.generation.complete`) at several batch sizes against
  one sample at a time, the first turn of every benchmark prompt (the model `dvc repro` trained).
- training: our loop (first-fit packing by position ids) against TRL's `SFTTrainer` (padding-free best-fit
  packing, `packing_strategy="bfd"`) and `transformers.Trainer` with per-batch padding: the same tiny model
  (same initial weights), the same encoded conversations of `data/final/train.jsonl` with the same labels,
  the default's tokens per optimizer step (`train.batch_tokens`), the same number of steps; tokens/s,
  trainable tokens/s and the padding each one computes on. Needs `pip install -e '.[bench]'` (TRL).
- data_stages: every data stage (convert, benchmark, decompose, balance, negatives) on the demo at 100,000 and
  500,000 ToolBench trajectories, each in a fresh clone, with one worker and with every core (`data.workers`):
  records/s against bare orjson reading the same input and writing it back as JSON lines, peak memory
  (100k -> 500k growth), the stage's time in Great Expectations (from its MLflow run), whether its outputs are
  the bytes `dvc repro` wrote, and its CPU seconds (its workers' too) against the CPU the cores give in the wall time
  0.5x bare orjson allows, with the share of it the libraries' start (GX, MLflow) takes before the first record.
- pipeline: a no-op `dvc repro` against `dvc status` (both read the whole dvc.lock); `dvc exp run -S
  mix.reasoning=0.3` (re-runs balance onward) against a full `dvc repro -f`, in a fresh clone.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable

# bare orjson, the I/O floor: read each input (an array whole, JSONL line by line), write each record as a JSON line
BARE_IO = """
import sys, orjson
with open(sys.argv[-1], "wb") as out:
    for path in sys.argv[1:-1]:
        with open(path, "rb") as f:
            if f.read(1) == b"[":
                f.seek(0)
                records = orjson.loads(f.read())
            else:
                f.seek(0)
                records = (orjson.loads(line) for line in f if line.strip())
            for r in records:
                out.write(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\\n")
"""


# the same, reading an array laid out as `json.dump(records, f, indent=k)` writes it (ToolBench's files, the demo's) in
# blocks cut after an element's closing brace, each block parsed by orjson: every byte parsed as the whole-array load
# parses it, in bounded memory. The data stages' baseline: orjson cannot load the demo's 500k array (5.25 GB) whole on
# this machine ("Not enough memory to allocate buffer for parsing"), and a failed baseline is no floor.
BARE_IO_BLOCKS = """
import re, sys, orjson
BLOCK = 64 << 20
def records(f):
    head = f.read(BLOCK)
    if not head.lstrip().startswith(b"["):
        f.seek(0)
        yield from (orjson.loads(line) for line in f if line.strip())
        return
    indent = re.match(rb"\\s*\\[\\n( +)\\{\\n", head)
    if indent is None:
        yield from orjson.loads(head + f.read())
        return
    end = b"\\n" + indent[1] + b"},"
    rest = head[head.index(b"[") + 1 :]
    while more := f.read(BLOCK):
        rest += more
        cut = rest.rfind(end)
        if cut >= 0:
            yield from orjson.loads(b"[" + rest[: cut + len(end) - 1] + b"]")
            rest = rest[cut + len(end) :]
    yield from orjson.loads(b"[" + rest.rstrip()[:-1] + b"]")
with open(sys.argv[-1], "wb") as out:
    for path in sys.argv[1:-1]:
        with open(path, "rb") as f:
            for r in records(f):
                out.write(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\\n")
"""


# the VM's CPU speed in the hour of a run (a fixed pure-Python loop, best of three): its speed moves from hour to hour,
# and a CPU-bound stage slows more than bare I/O does (6 Dec 2026: the same negatives pass 46 then 90 us a record)
CPU_PROBE = """
import time
times = []
for _ in range(3):
    started = time.perf_counter()
    sum(i * i for i in range(10**7))
    times.append(time.perf_counter() - started)
print(min(times))
"""


def cpu_probe() -> float:
    """Seconds of `CPU_PROBE`'s loop on this machine now."""
    return round(float(subprocess.run([PYTHON, "-c", CPU_PROBE], capture_output=True, text=True, check=True).stdout), 3)


MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "wb") as err:
    code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(code, time.perf_counter() - started, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


class Measured(NamedTuple):
    """A command's wall seconds, its peak RSS in MiB (its largest process's), and the CPU seconds (user + system) of
    its process and every process it waited for (a data stage's workers)."""

    wall_s: float
    peak_mib: float
    cpu_s: float


def measured(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> Measured:
    """`Measured` of a command run as its own process, which must exit with a code in `ok`. It is started from a small
    bare Python (`MEASURE`), because Linux counts the memory of the process that forked a child into the child's peak:
    started from this process, every command would seem to need at least what this one holds."""
    with tempfile.NamedTemporaryFile(suffix=".log") as err:
        out = subprocess.run(
            [PYTHON, "-S", "-c", MEASURE, err.name, *cmd], cwd=cwd, env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        code, wall, peak_kib, cpu = int(out[0]), float(out[1]), int(out[2]), float(out[3])
        if code not in ok:
            raise SystemExit(f"{' '.join(cmd)} failed: {Path(err.name).read_text()[-2000:]}")
    return Measured(wall, peak_kib / 1024, cpu)


def toolbench_array(path: Path, n: int) -> int:
    """A ToolBench ToolLLaMA array of `n` records (the demo's trajectories under new ids), streamed to disk."""
    import orjson

    from agentflan.config import DemoConfig
    from agentflan.demo.corpus import write_demo

    with tempfile.TemporaryDirectory() as tmp:
        write_demo(tmp, DemoConfig(toolbench=400, agentinstruct_os=1, agentinstruct_db=1, sharegpt=1))
        base = orjson.loads(Path(tmp, "toolbench.json").read_bytes())
    with path.open("wb") as f:
        f.write(b"[")
        for i in range(n):
            record = dict(base[i % len(base)])
            record["id"] = f"{record['id']} [copy {i // len(base)}]"
            f.write((b",\n" if i else b"") + orjson.dumps(record))
        f.write(b"]\n")
    return path.stat().st_size


def streaming() -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10_000, 20_000, 100_000):
            array = Path(tmp, f"toolllama_{n}.json")
            size = toolbench_array(array, n)
            bare_s, bare_mib, _ = measured([PYTHON, "-c", BARE_IO, str(array), str(Path(tmp, "bare.jsonl"))])
            ours_s, ours_mib, _ = measured(
                [
                    str(Path(PYTHON).parent / "agentflan"),
                    "convert",
                    str(array),
                    "--out",
                    str(Path(tmp, "converted.jsonl")),
                    "--format",
                    "toolbench",
                ],
                ok=(0, 1),  # convert exits 1 when it quarantined records
            )
            rows.append(
                {
                    "records": n,
                    "file_mb": round(size / 1e6, 1),
                    "orjson_s": round(bare_s, 2),
                    "orjson_peak_mib": round(bare_mib),
                    "convert_s": round(ours_s, 2),
                    "convert_peak_mib": round(ours_mib),
                    "throughput_vs_orjson": round(bare_s / ours_s, 3),
                }
            )
            array.unlink()
            print(rows[-1], flush=True)
    by = {r["records"]: r for r in rows}
    growth = by[100_000]["convert_peak_mib"] / by[20_000]["convert_peak_mib"]
    return {
        "rows": rows,
        "memory_growth_20k_to_100k": round(growth, 3),
        "orjson_memory_growth_20k_to_100k": round(by[100_000]["orjson_peak_mib"] / by[20_000]["orjson_peak_mib"], 3),
        "targets": {
            "memory_growth_20k_to_100k <= 1.5": growth <= 1.5,
            "throughput_vs_orjson >= 0.5 at 100k": by[100_000]["throughput_vs_orjson"] >= 0.5,
        },
    }


def generation(batch_sizes: tuple[int, ...] = (8, 20, 40, 60), repeats: int = 2) -> dict:
    """Greedy generation of the first turn of every benchmark sample (natural system prompt, the sample's tools),
    one sample at a time against batches of each size; after one warm-up call, the best of `repeats` runs each."""
    sys.path.insert(0, str(ROOT / "src"))
    from agentflan.config import load_params
    from agentflan.data.jsonio import read_records
    from agentflan.evaluation.benchmark import Sample
    from agentflan.evaluation.generation import NATURAL_SYSTEM, complete, load

    configured = load_params(ROOT / "params.yaml").eval.batch_size
    model, tokenizer = load(ROOT / "models/agentflan")
    samples = list(read_records(ROOT / "data/benchmark/agent_h.jsonl", Sample.from_dict))
    dialogues = [
        (
            [{"role": "system", "content": NATURAL_SYSTEM}, {"role": "user", "content": s.query}],
            [t.to_openai() for t in s.tools] or None,
        )
        for s in samples
    ]
    complete(model, tokenizer, dialogues[:4], 64, 4)  # warm-up
    timings = {}
    for batch in (1, *sorted({*batch_sizes, configured})):
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            out = complete(model, tokenizer, dialogues, 64, batch)
            best = min(best, time.perf_counter() - started)
        timings[batch] = best
        assert len(out) == len(dialogues)
    rows = [{"batch_size": b, "seconds": round(t, 2), "speedup": round(timings[1] / t, 2)} for b, t in timings.items()]
    return {
        "samples": len(dialogues),
        "max_new_tokens": 64,
        "configured_batch_size": configured,
        "rows": rows,
        "targets": {
            f"speedup >= 4 at eval.batch_size {configured} ({timings[1] / timings[configured]:.2f}x)": timings[1]
            / timings[configured]
            >= 4
        },
    }


def training(steps: int = 40) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments
    from trl import SFTConfig, SFTTrainer

    from agentflan.config import load_params
    from agentflan.data.jsonio import read_conversations
    from agentflan.training.chat_format import ChatFormat
    from agentflan.training.chat_template import chatml_text
    from agentflan.training.loop import train
    from agentflan.training.model import build_tiny
    from agentflan.training.packing import IGNORE, encode, pack
    from agentflan.training.tokenizer import train_bpe

    params = load_params(ROOT / "params.yaml")
    cfg = params.train.model_copy(
        update={
            "max_steps": steps,
            "eval_every": 10**6,
            "checkpoint_every": 10**6,
            "warmup_steps": 2,
            "mixed_precision": "no",
        }
    )
    convs = list(read_conversations(ROOT / params.paths["train"]))
    tokenizer = train_bpe((chatml_text(c) for c in convs), params.model.tiny.vocab_size)
    fmt = ChatFormat.of(tokenizer)
    encoded = [
        e for e in (encode(fmt, c) for c in convs) if len(e.input_ids) <= cfg.max_length
    ]  # all fit whole: same data for all
    packed = pack(encoded, cfg.max_length, tokenizer.pad_token_id)
    dataset = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in encoded])
    mean_len = sum(len(e.input_ids) for e in encoded) / len(encoded)
    padded_batch = max(1, round(cfg.batch_tokens / mean_len))  # rows per step for the padded baseline: the same tokens

    def fresh():
        torch.manual_seed(cfg.seed)
        return build_tiny(tokenizer, params.model.tiny)

    counted = {"tokens": 0, "trainable": 0, "real": 0}

    def counting(collate):
        def wrapped(features):
            batch = collate(features)
            counted["real"] += sum(len(f["input_ids"]) for f in features)
            counted["tokens"] += batch["input_ids"].numel()
            counted["trainable"] += int((batch["labels"][:, 1:] != IGNORE).sum())
            return batch

        return wrapped

    def pad_collate(features):  # per-batch padding to the longest row of the batch
        longest = max(len(f["input_ids"]) for f in features)
        ids = [f["input_ids"] + [tokenizer.pad_token_id] * (longest - len(f["input_ids"])) for f in features]
        labels = [f["labels"] + [IGNORE] * (longest - len(f["labels"])) for f in features]
        mask = [[1] * len(f["input_ids"]) + [0] * (longest - len(f["input_ids"])) for f in features]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}

    from agentflan.training import loop

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainable = packed.trainable_tokens / packed.rows * cfg.batch_rows * steps  # rows are drawn uniformly
        tokens = cfg.batch_rows * cfg.max_length * steps
        selective = loop.takes_logits_to_keep
        for name, logits_to_keep in (
            ("ours (first-fit packing, position ids)", selective),
            ("ours, logits at every position (before logits_to_keep)", lambda model: False),
        ):
            loop.takes_logits_to_keep = logits_to_keep
            _, _, result = train(
                fresh(),
                packed,
                pack(encoded[:8], cfg.max_length, tokenizer.pad_token_id),
                cfg,
                Path(tmp, name[:4] + str(len(rows))),
                echo=lambda s: None,
            )
            rows[name] = {
                "wall_s": result.wall_s,
                "tokens": tokens,
                "trainable": trainable,
                "real": tokens * (1 - packed.padding_fraction),
            }
        loop.takes_logits_to_keep = selective
        common = {
            "max_steps": steps,
            "learning_rate": cfg.lr,
            "warmup_steps": 2,
            "weight_decay": cfg.weight_decay,
            "lr_scheduler_type": "cosine",
            "logging_steps": 10**6,
            "save_strategy": "no",
            "report_to": [],
            "use_cpu": True,
            "seed": cfg.seed,
            "dataloader_num_workers": 0,
            "disable_tqdm": True,
        }
        counted.update(tokens=0, trainable=0, real=0)
        trainer = Trainer(
            model=fresh(),
            args=TrainingArguments(
                output_dir=str(Path(tmp, "hf")),
                per_device_train_batch_size=padded_batch,
                remove_unused_columns=False,
                **common,
            ),
            train_dataset=dataset,
            data_collator=counting(pad_collate),
        )
        hf = trainer.train().metrics["train_runtime"]
        rows["transformers.Trainer (per-batch padding)"] = dict(counted, wall_s=hf)
        counted.update(tokens=0, trainable=0, real=0)
        sft = SFTTrainer(
            model=fresh(),
            processing_class=tokenizer,
            train_dataset=dataset,
            args=SFTConfig(
                output_dir=str(Path(tmp, "trl")),
                packing=True,
                packing_strategy="bfd",
                max_length=cfg.max_length,
                per_device_train_batch_size=cfg.batch_rows,
                **common,
            ),
        )
        sft.data_collator = counting(sft.data_collator)
        trl_s = sft.train().metrics["train_runtime"]
        rows["TRL SFTTrainer (padding-free, bfd packing)"] = dict(counted, wall_s=trl_s)
    ours = rows["ours (first-fit packing, position ids)"]
    out = {
        "steps": steps,
        "tokens_per_step": cfg.batch_tokens * cfg.grad_accum,
        "model_parameters": sum(p.numel() for p in fresh().parameters()),
        "rows": [],
    }
    for name, r in rows.items():
        out["rows"].append(
            {
                "trainer": name,
                "wall_s": round(r["wall_s"], 1),
                "tokens_per_s": round(r["tokens"] / r["wall_s"]),
                "trainable_tokens_per_s": round(r["trainable"] / r["wall_s"]),
                "trainable_tokens_per_s_vs_ours": round(
                    (r["trainable"] / r["wall_s"]) / (ours["trainable"] / ours["wall_s"]), 3
                ),
                "padding_share": round(1 - r["real"] / max(1, r["tokens"]), 4),
            }
        )
    return out


DATA_STAGES = {
    "convert": "demo",
    "benchmark": "converted",
    "decompose": "converted",
    "balance": "decomposed",
    "negatives": "balanced",
}  # each stage's input (a `paths` key), read in full


def data_stages(trajectories: tuple[int, ...] = (100_000, 500_000)) -> dict:
    """Each data stage on the demo with `demo.toolbench` set to each size (a fresh clone of this repository per
    size, tracked into a temporary MLflow store): after `dvc repro negatives` has made every input, each stage's
    command is run again as its own process for its wall time and peak memory, with `data.workers` 1 and 0 (every
    core), and bare orjson reads its input and writes each record back as a JSON line (the I/O floor, one process);
    each run's outputs are checked byte-identical to `dvc repro`'s; the stage's MLflow run gives its time in Great
    Expectations and, of that, the one-off GX import. Peak memory is the largest process's (the stage's or a
    worker's)."""
    import mlflow
    import yaml

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows, probes = [], [cpu_probe()]
    for n in trajectories:
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp, "repo")
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            params = yaml.safe_load((clone / "params.yaml").read_text())
            params["demo"]["toolbench"] = n
            (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            paths = params["paths"]
            uri = f"sqlite:///{tmp}/stages.db"
            env = {
                **os.environ,
                "MLFLOW_TRACKING_URI": uri,
                "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
            }
            dvc = str(Path(PYTHON).parent / "dvc")
            subprocess.run([dvc, "repro", "negatives"], cwd=clone, env=env, check=True, capture_output=True)
            client = mlflow.MlflowClient(uri)
            experiment = client.get_experiment_by_name("agentflan")
            if n == max(trajectories):
                fixed = fixed_costs(clone, env)
            for stage, key in DATA_STAGES.items():
                given = clone / paths[key]  # a file, or the demo's folder of upstream files
                files = [str(f) for f in sorted(given.rglob("*.json*"))] if given.is_dir() else [str(given)]
                records = sum(_count_records(f) for f in files)
                bare_s, bare_mib, _ = measured(
                    [PYTHON, "-c", BARE_IO_BLOCKS, *files, str(Path(tmp, "bare.jsonl"))], cwd=clone, env=env
                )
                Path(tmp, "bare.jsonl").unlink()
                for workers in (1, 0):
                    params["data"]["workers"] = workers
                    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
                    stage_wall, stage_mib, stage_cpu = measured([PYTHON, f"stages/{stage}.py"], cwd=clone, env=env)
                    changed = subprocess.run(
                        [dvc, "status", stage], cwd=clone, env=env, check=True, capture_output=True, text=True
                    ).stdout
                    run = client.search_runs(
                        [experiment.experiment_id],
                        f"tags.`agentflan.pipeline.stage` = '{stage}'",
                        order_by=["attributes.start_time DESC"],
                        max_results=1,
                    )[0]
                    m = run.data.metrics
                    rows.append(
                        {
                            "trajectories": n,
                            "stage": stage,
                            "workers": workers or cores,
                            "input_records": records,
                            "wall_s": round(stage_wall, 2),
                            "cpu_s": round(stage_cpu, 2),
                            "records_per_s": round(records / stage_wall),
                            "orjson_io_s": round(bare_s, 2),
                            "throughput_vs_orjson": round(bare_s / stage_wall, 3),
                            "peak_mib": round(stage_mib),
                            "orjson_peak_mib": round(bare_mib),
                            "stage_s": round(m["stage_s"], 2),
                            "gx_s": round(m["gx_validation_s"], 2),
                            "gx_import_s": round(m["gx_import_s"], 2),
                            "gx_share": round(m["gx_validation_s"] / m["stage_s"], 3),
                            "outputs_as_dvc_repro": "modified" not in changed and "changed" not in changed,
                        }
                    )
                    print(rows[-1], flush=True)
        probes.append(cpu_probe())
    return {
        "cores": cores,
        "rows": rows,
        "cpu_probe_s": probes,
        "fixed_cpu_s": fixed,
        "cpu_budget": data_stage_cpu(rows, fixed),
        **data_stage_targets(rows),
    }


# what every data stage spends before its first record, whatever its input: the libraries it validates and tracks with
# (its GX suites, its MLflow run in the project's SQLite store), measured in a fresh interpreter whose garbage collector
# is tuned as a stage's (`tune_gc`, and frozen at exit), both (`total`: they share imports, pandas and SQLAlchemy among
# them) and each alone; `python` is that interpreter's start, taken from the others
TUNED = "import atexit, gc, os; from agentflan.pipeline.stage import tune_gc; tune_gc(); atexit.register(gc.freeze)"
MLFLOW_STORE = "mlflow.set_tracking_uri(os.environ['MLFLOW_TRACKING_URI']); mlflow.get_experiment_by_name('agentflan')"
FIXED_COSTS = {
    "python": TUNED,
    "total": f"{TUNED}; import great_expectations, mlflow; {MLFLOW_STORE}",
    "gx_import": f"{TUNED}; import great_expectations",
    "mlflow_store": f"{TUNED}; import mlflow; {MLFLOW_STORE}",
}


def fixed_costs(clone: Path, env: dict[str, str], repeats: int = 3) -> dict[str, float]:
    """CPU seconds of each of `FIXED_COSTS` (the least of `repeats`), the interpreter's start taken from each."""
    cpu = {
        name: min(measured([PYTHON, "-c", code], cwd=clone, env=env).cpu_s for _ in range(repeats))
        for name, code in FIXED_COSTS.items()
    }
    start = cpu.pop("python")
    return {name: round(max(v - start, 0.0), 2) for name, v in cpu.items()}


def data_stage_cpu(rows: list[dict], fixed: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per stage at the largest size with every core: the CPU seconds it spent (its process and its workers'), the share
    of its cores' time it kept them busy (a stage that fits the CPU below can still miss by its parts that run on one
    core), the CPU the machine's cores give in the wall time 0.5x bare orjson I/O allows (cores x 2 x the baseline's
    seconds), and the share of that which the libraries' fixed start (`fixed_costs`) takes."""
    cores = max(r["workers"] for r in rows)
    large = max(r["trajectories"] for r in rows)
    out = {}
    for r in rows:
        if r["trajectories"] == large and r["workers"] == cores:
            budget = cores * 2 * r["orjson_io_s"]
            out[r["stage"]] = {
                "cpu_s": r["cpu_s"],
                "cores_busy": round(r["cpu_s"] / (cores * r["wall_s"]), 3),
                "cpu_at_half_orjson_s": round(budget, 2),
                "cpu_over_budget": round(r["cpu_s"] / budget, 3),
                "fixed_share_of_budget": round(fixed["total"] / budget, 3),
            }
    return out


def data_stage_targets(rows: list[dict]) -> dict:
    """Per stage with every core: peak memory growth from the smallest size to the largest, and at the largest size
    the throughput against bare orjson I/O (>= 0.5x); every run's outputs byte-identical to `dvc repro`'s."""
    cores = max(r["workers"] for r in rows)
    by = {(r["trajectories"], r["stage"]): r for r in rows if r["workers"] == cores}
    sizes = sorted({r["trajectories"] for r in rows})
    base, large = sizes[0], sizes[-1]
    growth = {stage: round(by[(large, stage)]["peak_mib"] / by[(base, stage)]["peak_mib"], 3) for stage in DATA_STAGES}
    targets = {}
    for stage in DATA_STAGES:
        r = by[(large, stage)]
        targets[f"{stage}: peak memory {base // 1000}k -> {large // 1000}k <= 1.5x ({growth[stage]}x)"] = (
            growth[stage] <= 1.5
        )
        targets[
            f"{stage} at {large:,}, {cores} workers: throughput >= 0.5x bare orjson I/O ({r['throughput_vs_orjson']}x)"
        ] = r["throughput_vs_orjson"] >= 0.5
    targets["every run's outputs are the bytes dvc repro wrote (dvc status: unchanged)"] = all(
        r["outputs_as_dvc_repro"] for r in rows
    )
    return {"memory_growth_to_largest": growth, "targets": targets}


def _count_records(path: str) -> int:
    with open(path, "rb") as f:
        if f.read(1) == b"[":
            import ijson

            f.seek(0)
            return sum(1 for _ in ijson.items(f, "item"))
        f.seek(0)
        return sum(1 for line in f if line.strip())


def pipeline() -> dict:
    """No-op `dvc repro` against `dvc status`; then, in a fresh clone whose outputs are checked out from this
    repository's DVC cache, `dvc exp run -S mix.reasoning=0.3` (balance onward) against a full `dvc repro -f`."""
    dvc = str(Path(PYTHON).parent / "dvc")
    subprocess.run([dvc, "status"], cwd=ROOT, check=True, capture_output=True)  # warm caches
    status_s = min(measured([dvc, "status"], cwd=ROOT)[0] for _ in range(3))
    noop_s = min(measured([dvc, "repro"], cwd=ROOT)[0] for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp, "repo")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/pipeline.db",
            "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",
        }
        for cmd in (["cache", "dir", str(ROOT / ".dvc" / "cache")], ["checkout", "-q"]):
            subprocess.run([dvc, *cmd], cwd=clone, env=env, check=True, capture_output=True)
        ran = subprocess.run(
            [dvc, "status", "--json"], cwd=clone, env=env, check=True, capture_output=True, text=True
        ).stdout
        if json.loads(ran or "{}"):
            raise SystemExit(f"the clone is not up to date after checkout: {ran[:2000]}")
        full_s = measured([dvc, "repro", "-f"], cwd=clone, env=env)[0]
        exp_s = measured([dvc, "exp", "run", "-S", "mix.reasoning=0.3"], cwd=clone, env=env)[0]
    return {
        "dvc_status_s": round(status_s, 2),
        "noop_repro_s": round(noop_s, 2),
        "noop_repro_vs_status": round(noop_s / status_s, 2),
        "full_repro_f_s": round(full_s, 1),
        "exp_run_mix_reasoning_s": round(exp_s, 1),
        "exp_run_vs_full_repro": round(exp_s / full_s, 3),
    }


BENCHMARKS = {
    "streaming": streaming,
    "generation": generation,
    "training": training,
    "data_stages": data_stages,
    "pipeline": pipeline,
}


def table() -> str:
    lines = ["# Benchmark results", "", "Reproduce: `python benchmarks/run.py` (machine of the last run below).", ""]
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        lines += [f"## {name} ({r['machine']}, {r['date']})", ""]
        if name == "training":
            lines += [
                f"{r['steps']} optimizer steps of about {r['tokens_per_step']:,} tokens, "
                f"{r['model_parameters']:,}-parameter tiny Llama, CPU.",
                "",
                "| trainer | wall s | tokens/s | trainable tokens/s | trainable tokens/s vs ours | padding computed "
                "on |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {x['trainer']} | {x['wall_s']} | {x['tokens_per_s']:,} | {x['trainable_tokens_per_s']:,} | "
                f"{x['trainable_tokens_per_s_vs_ours']} | {x['padding_share']} |"
                for x in r["rows"]
            ]
        elif name == "data_stages":
            lines += [
                "Each stage run as its own process on its full input (start-up, MLflow and GX included), with one "
                f"worker and with every core ({r['cores']}); the baseline is bare orjson reading the same input and "
                "writing each record as a JSON line, in one process.",
                "",
                "| trajectories | stage | workers | input records | stage s | CPU s | records/s | orjson I/O s | "
                "throughput vs orjson | peak MiB | orjson peak MiB | in GX s | of it GX import s | "
                "outputs as dvc repro |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {x['trajectories']:,} | {x['stage']} | {x['workers']} | {x['input_records']:,} | {x['wall_s']} | "
                f"{x.get('cpu_s', '')} | {x['records_per_s']:,} | {x['orjson_io_s']} | {x['throughput_vs_orjson']} | "
                f"{x['peak_mib']} | {x['orjson_peak_mib']} | {x['gx_s']} | {x['gx_import_s']} | "
                f"{x['outputs_as_dvc_repro']} |"
                for x in r["rows"]
            ]
            if "cpu_budget" in r:
                fixed = r["fixed_cpu_s"]
                lines += [
                    "",
                    f"CPU against what 0.5x allows, at the largest size with every core: in the wall time 0.5x bare "
                    f"orjson I/O allows, {r['cores']} cores give {r['cores']} x 2 x the baseline's seconds of CPU. "
                    f"Before its first record a stage spends {fixed['total']} s of it on its libraries alone "
                    f"(`import great_expectations`, and MLflow's import and its SQLite store opened, in a fresh "
                    f"interpreter; alone {fixed['gx_import']} and {fixed['mlflow_store']} s: they share imports).",
                    "",
                    "| stage | CPU s | cores busy | CPU at 0.5x s | CPU over it | libraries' start, share of it |",
                    "|---|---|---|---|---|---|",
                ]
                lines += [
                    f"| {stage} | {b['cpu_s']} | {b['cores_busy']} | {b['cpu_at_half_orjson_s']} | "
                    f"{b['cpu_over_budget']} | {b['fixed_share_of_budget']} |"
                    for stage, b in r["cpu_budget"].items()
                ]
            if "cpu_probe_s" in r:
                lines += [
                    "",
                    "The machine's CPU speed during the run (a fixed pure-Python loop, best of three, before the first "
                    f"size and after each): {', '.join(f'{x} s' for x in r['cpu_probe_s'])}.",
                ]
        elif name == "generation":
            lines += [
                f"{r['samples']} benchmark prompts, up to {r['max_new_tokens']} new tokens, greedy; best of two runs "
                "each.",
                "",
                "| batch size | seconds | speedup vs one at a time |",
                "|---|---|---|",
            ]
            lines += [f"| {x['batch_size']} | {x['seconds']} | {x['speedup']} |" for x in r["rows"]]
        elif name == "streaming":
            lines += [
                "| records | file MB | orjson s | orjson peak MiB | convert s | convert peak MiB | throughput vs "
                "orjson |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {x['records']:,} | {x['file_mb']} | {x['orjson_s']} | {x['orjson_peak_mib']} | {x['convert_s']} | "
                f"{x['convert_peak_mib']} | {x['throughput_vs_orjson']} |"
                for x in r["rows"]
            ]
            lines += [
                "",
                f"Peak memory growth 20k -> 100k: convert {r['memory_growth_20k_to_100k']}x, "
                f"bare orjson {r['orjson_memory_growth_20k_to_100k']}x.",
            ]
        else:
            lines += ["| measure | value |", "|---|---|"] + [
                f"| {k} | {v} |" for k, v in r.items() if k not in ("machine", "date", "targets")
            ]
        lines += [""] + [f"- target {k}: {'met' if ok else 'MISSED'}" for k, ok in r.get("targets", {}).items()] + [""]
    return "\n".join(lines)


def main(names: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names or list(BENCHMARKS):
        result = BENCHMARKS[name]()
        result.update(machine=f"{platform.machine()}, {os.cpu_count()} cores", date=time.strftime("%Y-%m-%d"))
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(name, json.dumps(result), flush=True)
    (RESULTS / "README.md").write_text(table())


if __name__ == "__main__":
    main(sys.argv[1:])
