"""Benchmarks, each figure a ratio against a baseline measured in the same run (the machines are shared
and noisy). Writes `benchmarks/results/<name>.json` and the table `benchmarks/results/README.md`.

    python benchmarks/run.py                 # every benchmark
    python benchmarks/run.py streaming       # one of: streaming, generation, pipeline

- streaming: `agentflan convert` on generated ToolBench ToolLLaMA arrays of 10,000, 20,000 and 100,000
  records, against bare orjson (read the array, write each record as a JSON line) on the same files:
  records/s ratio and peak memory (each run in its own process, peak RSS from the kernel).
- generation: batched greedy generation (`evaluation.generation.complete`, batch 20) against one
  sample at a time, same model and prompts (the model `dvc repro` trained).
- pipeline: a no-op `dvc repro` against `dvc status` (both read the whole dvc.lock).
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable

BARE_ORJSON = """
import sys, orjson
with open(sys.argv[1], "rb") as f:
    records = orjson.loads(f.read())
with open(sys.argv[2], "wb") as out:
    for r in records:
        out.write(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\\n")
"""


def measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of a command run as its own process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # convert exits 1 when it quarantined records
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def toolbench_array(path: Path, n: int) -> int:
    """A ToolBench ToolLLaMA array of `n` records (the demo's trajectories, replicated under new ids), streamed to disk."""
    from agentflan.config import DemoConfig
    from agentflan.demo.corpus import write_demo

    import orjson

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
            bare_s, bare_mib = measured([PYTHON, "-c", BARE_ORJSON, str(array), str(Path(tmp, "bare.jsonl"))])
            ours_s, ours_mib = measured([str(Path(PYTHON).parent / "agentflan"), "convert", str(array), "--out",
                                         str(Path(tmp, "converted.jsonl")), "--format", "toolbench"])
            rows.append({"records": n, "file_mb": round(size / 1e6, 1), "orjson_s": round(bare_s, 2), "orjson_peak_mib": round(bare_mib),
                         "convert_s": round(ours_s, 2), "convert_peak_mib": round(ours_mib),
                         "throughput_vs_orjson": round(bare_s / ours_s, 3)})
            array.unlink()
            print(rows[-1], flush=True)
    by = {r["records"]: r for r in rows}
    growth = by[100_000]["convert_peak_mib"] / by[20_000]["convert_peak_mib"]
    return {"rows": rows, "memory_growth_20k_to_100k": round(growth, 3),
            "orjson_memory_growth_20k_to_100k": round(by[100_000]["orjson_peak_mib"] / by[20_000]["orjson_peak_mib"], 3),
            "targets": {"memory_growth_20k_to_100k <= 1.5": growth <= 1.5,
                        "throughput_vs_orjson >= 0.5 at 100k": by[100_000]["throughput_vs_orjson"] >= 0.5}}


def generation() -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from agentflan.data.jsonio import read_records
    from agentflan.evaluation.benchmark import Sample
    from agentflan.evaluation.generation import NATURAL_SYSTEM, complete, load

    model, tokenizer = load(ROOT / "models/agentflan")
    samples = list(read_records(ROOT / "data/benchmark/agent_h.jsonl", Sample.from_dict))[:60]
    dialogues = [([{"role": "system", "content": NATURAL_SYSTEM}, {"role": "user", "content": s.query}],
                  [t.to_openai() for t in s.tools] or None) for s in samples]
    timings = {}
    for batch in (1, 20):
        started = time.perf_counter()
        out = complete(model, tokenizer, dialogues, 64, batch)
        timings[batch] = time.perf_counter() - started
        assert len(out) == len(dialogues)
    speedup = timings[1] / timings[20]
    return {"samples": len(dialogues), "max_new_tokens": 64, "one_at_a_time_s": round(timings[1], 2),
            "batched_20_s": round(timings[20], 2), "speedup": round(speedup, 2), "targets": {"speedup >= 4": speedup >= 4}}


def pipeline() -> dict:
    dvc = str(Path(PYTHON).parent / "dvc")
    subprocess.run([dvc, "status"], cwd=ROOT, check=True, capture_output=True)  # warm caches
    status_s = min(measured([dvc, "status"])[0] for _ in range(3))
    noop_s = min(measured([dvc, "repro"])[0] for _ in range(3))
    return {"dvc_status_s": round(status_s, 2), "noop_repro_s": round(noop_s, 2), "noop_repro_vs_status": round(noop_s / status_s, 2)}


BENCHMARKS = {"streaming": streaming, "generation": generation, "pipeline": pipeline}


def table() -> str:
    lines = ["# Benchmark results", "", f"Reproduce: `python benchmarks/run.py` (machine of the last run below).", ""]
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        lines += [f"## {name} ({r['machine']}, {r['date']})", ""]
        if name == "streaming":
            lines += ["| records | file MB | orjson s | orjson peak MiB | convert s | convert peak MiB | throughput vs orjson |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {x['records']:,} | {x['file_mb']} | {x['orjson_s']} | {x['orjson_peak_mib']} | {x['convert_s']} | "
                      f"{x['convert_peak_mib']} | {x['throughput_vs_orjson']} |" for x in r["rows"]]
            lines += ["", f"Peak memory growth 20k -> 100k: convert {r['memory_growth_20k_to_100k']}x, "
                          f"bare orjson {r['orjson_memory_growth_20k_to_100k']}x."]
        else:
            lines += ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in r.items()
                                                          if k not in ("machine", "date", "targets")]
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
