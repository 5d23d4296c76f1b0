"""What the tiny default model learns under different budgets: train + evaluate configs on the current data.

Evidence for the defaults in params.yaml (`model.tiny`, `train.*`): each config trains on
data/final/{train,validation}.jsonl and is scored on data/benchmark/agent_h.jsonl in all protocols,
without DVC or MLflow, so it runs wherever torch is (a GPU machine gives the same learning per step in
seconds). Prints one JSON line per config; the CPU cost of a config is measured by `dvc repro` itself.

    python scripts/sweep_tiny.py '{"hidden_size": 128, "max_steps": 300, "lr": 0.003}' ...

`"copy_rows": f` adds f x the packed rows of synthetic copying (a random run of the corpus's tokens, then the same run,
the repeat labelled: what an induction head learns); `"copy_only": true` trains on such rows alone and reports the loss
on fresh ones (`results/levers.md`, copy warm-up). `"rename_tools": f` gives a share f of the training conversations
other names for the tools they offer and call (`renamed`: `fetch_weather`, `weatherLookup`, `weather` for
`get_weather`), so that a tool's name has to be read from the tools offered rather than remembered (the lever for
tools never seen in training); `"synthetic_tools": n` adds n conversations calling tools made by the dozen
(`synthetic_tools.py`: `get_city_population`, asked for in the query's own words), the same lever by more tools.
`"lever": name, "archive": file` adds the row's answers to an archive of runs (`experiments.write_runs`' schema, named
`<lever>-s<seed>`), for `levers_table.py` to compare each lever with the default over seeds, paired by sample.
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from agentflan.config import ModelConfig, TinyConfig, TrainConfig, load_params
from agentflan.data.jsonio import iter_raw, read_conversations
from agentflan.data.schema import PSEUDO_TOOLS, Conversation, decode_conversation
from agentflan.data.seeded import unit_hash
from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.generation import PROTOCOLS, predictions, run_protocol
from agentflan.evaluation.scoring import score
from agentflan.pipeline import experiments
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.curves import learning_speed
from agentflan.training.loop import train
from agentflan.training.model import load_model_and_tokenizer
from agentflan.training.packing import IGNORE, Encoded, Packed, encode, pack

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling, however this script is loaded
import synthetic_tools  # noqa: E402

KEYS = (
    "hscore",
    "over_refusal_rate",
    "tool_name_accuracy_seen",
    "tool_name_accuracy_unseen",
    "call_format_validity",
    "argument_accuracy",
    "fabrication_rate",
    "plain_quality",
)


def add_copy_rows(packed: Packed, rows: int, corpus: Packed, tokenizer, seed: int) -> None:
    """`rows` rows of repeated random runs (8 to 48 tokens, drawn from the corpus's tokens with the square root of
    their frequency as weight), only the repeat labelled, appended to `packed`."""
    special, length = set(tokenizer.all_special_ids), len(corpus.input_ids[0])
    counts = Counter(t for row in corpus.input_ids for t in row if t not in special)
    vocab, weights = list(counts), [c**0.5 for c in counts.values()]
    rng = random.Random(seed)
    for _ in range(rows):  # each row's runs packed on their own (`pack` lays out the segments, positions, padding)
        runs, size = [], 0
        while size + 2 * (n := rng.randint(8, 48)) <= length:
            run = rng.choices(vocab, weights, k=n)
            runs.append(Encoded(run + run, [IGNORE] * (n + 1) + run[1:], [-1] * (2 * n)))
            size += 2 * n
        row = pack(runs, length, tokenizer.pad_token_id)
        for column in ("input_ids", "labels", "capabilities", "segments", "positions"):
            getattr(packed, column).extend(getattr(row, column))


VERBS = {  # each verb a tool name may start with, and the verbs an alias may put in its place
    "get": ("get", "fetch", "lookup", "query", "retrieve", "read"),
    "search": ("search", "find", "lookup", "query"),
    "find": ("find", "search", "lookup", "discover"),
    "convert": ("convert", "exchange", "transform"),
    "translate": ("translate", "render"),
    "define": ("define", "explain", "lookup"),
    "list": ("list", "get", "fetch"),
}


def aliases(name: str) -> list[str]:
    """Other names for a tool, made of its own words (so no alias is a held-out tool's name): the verb swapped, the
    words reordered or joined in camel case, the noun alone, a version suffix; the name itself first."""
    words = name.split("_")
    verbs = VERBS.get(words[0], (words[0],)) if len(words) > 1 else ()
    noun = "_".join(words[1:]) if verbs else name
    out = [name]
    for verb in verbs:
        out += [f"{verb}_{noun}", f"{noun}_{verb}", verb + "".join(w.title() for w in noun.split("_"))]
    out += [noun, f"{name}_v2", f"{noun}_api"]
    return list(dict.fromkeys(out))


def renamed(conv: Conversation, seed: int, share: float) -> Conversation:
    """The conversation with each tool it offers or calls renamed to one of its `aliases` (drawn for this
    conversation), everywhere the name is written (the tool list, calls, tool results, text), for a share of the
    conversations; names without an underscore (`calculate`, `bash`: words of ordinary text) and pseudo tools kept."""
    names = {t.name for t in conv.tools} | {c.name for c in conv.calls}
    names = sorted(n for n in names if "_" in n and n not in PSEUDO_TOOLS)
    if not names or unit_hash(seed, "rename", conv.id) >= share:
        return conv
    rng = random.Random(f"{seed}:rename:{conv.id}")
    chosen = {n: rng.choice(aliases(n)) for n in names}
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_])")
    return decode_conversation(pattern.sub(lambda m: chosen[m.group(1)], conv.to_json().decode()).encode())


def configs(overrides: dict, params) -> tuple[TinyConfig, TrainConfig]:
    """The model shape and training config of a row: params.yaml's, fp32, with the row's keys of either."""
    tiny = TinyConfig(
        **{**params.model.tiny.model_dump(), **{k: v for k, v in overrides.items() if k in TinyConfig.model_fields}}
    )
    cfg = TrainConfig(
        **{
            **params.train.model_dump(),
            "mixed_precision": "no",
            **{k: v for k, v in overrides.items() if k in TrainConfig.model_fields},
        }
    )
    return tiny, cfg


def prepared(overrides: dict, params) -> tuple:
    """(model, tokenizer, train config, packed train rows, packed validation rows) of a row, before training."""
    tiny, cfg = configs(overrides, params)
    folder = overrides.get("data")  # another final split, e.g. one written with negatives off
    train_convs = list(read_conversations(Path(folder, "train.jsonl") if folder else params.paths["train"]))
    if overrides.get("rename_tools"):
        train_convs = [renamed(c, cfg.seed, overrides["rename_tools"]) for c in train_convs]
    if overrides.get("synthetic_tools"):
        train_convs += synthetic_tools.conversations(overrides["synthetic_tools"], cfg.seed)
    val_convs = list(read_conversations(Path(folder, "validation.jsonl") if folder else params.paths["validation"]))
    torch.manual_seed(cfg.seed)
    model, tokenizer, _ = load_model_and_tokenizer(ModelConfig(tiny=tiny), (chatml_text(c) for c in train_convs))
    fmt = ChatFormat.of(tokenizer)
    train_set = pack(
        (encode(fmt, c) for c in train_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations
    )
    val_set = pack((encode(fmt, c) for c in val_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations)
    return model, tokenizer, cfg, train_set, val_set


def trained(overrides: dict, params) -> tuple:
    """(model, tokenizer, TrainResult, training seconds) of a row (`copy_rows` added to its training rows)."""
    model, tokenizer, cfg, train_set, val_set = prepared(overrides, params)
    if overrides.get("copy_rows"):
        rows = round(train_set.rows * overrides["copy_rows"])
        add_copy_rows(train_set, rows, train_set, tokenizer, cfg.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, model, result = train(model, train_set, val_set, cfg, Path(tmp), echo=lambda s: None)
    model.eval()
    return model, tokenizer, result, time.perf_counter() - started


def answers(model, tokenizer, benchmark, protocols) -> list:
    """The model's Agent-H predictions (`scoring.Prediction`s) in each protocol, as the evaluate stage generates
    them (64 new tokens, 40 prompts a batch)."""
    samples = [Sample.from_dict(r.data) for r in iter_raw(benchmark)]
    return [
        p
        for protocol in protocols
        for p in predictions(samples, run_protocol(model, tokenizer, samples, protocol, 64, 40), protocol)
    ]


def archive(path: Path, overrides: dict, seed: int, preds: list, protocol: str) -> None:
    """A row's answers in one protocol added to an archive of runs (`experiments.write_runs`), named after its lever
    and seed; a row of the same name replaced."""
    commit = experiments.short_commit("HEAD")
    params = {k: v for k, v in overrides.items() if k not in ("archive", "save", "protocols")}
    rows = [p.to_dict() for p in preds if p.protocol == protocol]
    run = {"name": experiments.run_name(overrides["lever"], seed), "variant": overrides["lever"], "seed": seed}
    experiments.write_runs(path, [{**run, "rev": commit, "baseline": commit, "params": params, "rows": rows}])


def run(overrides: dict, params) -> dict:
    if overrides.get("archive") and not overrides.get("lever"):  # before training, not after
        raise SystemExit(f'{overrides}: an archived row names its lever ("lever": "lr-0.006")')
    if overrides.get("copy_only"):  # can the model learn to copy at all in these steps: copying rows only
        model, tokenizer, cfg, train_set, _ = prepared(overrides, params)
        copy_train, copy_val = Packed([], [], [], []), Packed([], [], [], [])
        add_copy_rows(copy_train, 400, train_set, tokenizer, cfg.seed)
        add_copy_rows(copy_val, 20, train_set, tokenizer, cfg.seed + 1)
        cfg = cfg.model_copy(update={"eval_every": 50})
        with tempfile.TemporaryDirectory() as tmp:
            _, _, result = train(model, copy_train, copy_val, cfg, Path(tmp), echo=lambda s: None)
        return {"config": overrides, "copy_val_loss": result.val_history}
    model, tokenizer, result, wall = trained(overrides, params)
    protocols = overrides.get("protocols", PROTOCOLS)  # e.g. ["native"]: the default protocol only, faster
    preds = answers(model, tokenizer, overrides.get("benchmark", params.paths["benchmark"]), protocols)
    metrics = score(preds)
    if overrides.get("save"):  # a folder: the model and its predictions, to read the answers behind the numbers
        model.save_pretrained(overrides["save"])
        tokenizer.save_pretrained(overrides["save"])
        with open(Path(overrides["save"], "predictions.jsonl"), "w") as f:
            f.writelines(json.dumps(p.to_dict()) + "\n" for p in preds)
    if overrides.get("archive"):  # the answers of the row's first protocol, paired with the default's by levers_table
        archive(Path(overrides["archive"]), overrides, configs(overrides, params)[1].seed, preds, protocols[0])
    out = {
        "config": overrides,
        "val_loss": round(result.val_loss, 4),
        "train_s": round(wall, 1),
        "learning_speed": {c: v["relative_area"] for c, v in learning_speed(result.capability_history).items()},
        **{f"{p}.{k}": metrics["by_protocol"][p][k] for p in protocols for k in KEYS},
    }
    calls = [p for p in preds if p.protocol == protocols[0] and p.expected == "call"][:3]
    out["examples"] = [p.tool_calls or p.content or p.turns or p.response for p in calls]
    return out


if __name__ == "__main__":
    params = load_params()
    for arg in sys.argv[1:]:
        print(json.dumps(run(json.loads(arg), params)), flush=True)
