"""The training loop: AdamW, cosine schedule with warm-up, gradient accumulation, periodic validation,
`accelerator.save_state` checkpoints and resumption — one code path under plain `python` and under
`accelerate launch` (DDP, FSDP, DeepSpeed: `configs/accelerate/`).

The loss is token-weighted: each micro-batch's summed cross-entropy is divided by the number of labelled
tokens in the whole optimizer step (all micro-batches, all processes; what transformers calls
`num_items_in_batch`), so every labelled token weighs the same whatever row, micro-batch or process it falls in.
The output layer runs only where a labelled token is predicted (`target_logits`: the model's own `logits_to_keep`,
about a quarter of the positions of the default rows), which gives transformers' loss at a fifth less time a step
(benchmarks/run.py, training).

Batches are defined globally: optimizer step `s` always sees the same rows (seeded per-epoch
permutations), and each process takes its slice of them, so a resumed or multi-process run follows
the same data order as a single uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflan.config import ParamsError, TrainConfig
from agentflan.data.schema import CAPABILITIES
from agentflan.training.packing import IGNORE, Packed, collate, target_count

CHECKPOINT_PREFIX = "step_"


@dataclass
class TrainResult:
    steps: int = 0
    resumed_from_step: int = 0
    train_loss: float = float("nan")
    val_loss: float = float("nan")
    tokens_per_s: float = 0.0
    wall_s: float = 0.0
    train_history: list[dict[str, float]] = field(default_factory=list)
    val_history: list[dict[str, float]] = field(default_factory=list)
    capability_history: list[dict[str, float]] = field(default_factory=list)  # {"step", <capability>: val loss, ...}
    state_dict: dict[str, Any] | None = field(default=None, repr=False)  # the full weights, on the main process


class BatchSchedule:
    """Micro-batch k -> row indices: consecutive slices of seeded per-epoch permutations."""

    def __init__(self, rows: int, batch_rows: int, seed: int):
        self.rows, self.batch_rows, self.seed = rows, batch_rows, seed
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            import torch

            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perms[epoch] = torch.randperm(self.rows, generator=g).tolist()
        return self._perms[epoch]

    def rows_for(self, k: int) -> list[int]:
        start = k * self.batch_rows
        return [self._perm(i // self.rows)[i % self.rows] for i in range(start, start + self.batch_rows)]


def latest_checkpoint(directory: Path, warn: Callable[[str], None] = print) -> Path | None:
    """The newest complete checkpoint that reads back; a corrupt or truncated one is skipped with a warning."""
    done = sorted(p for p in directory.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and not p.name.endswith(".tmp"))
    for path in reversed(done):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        warn(f"warning: skipping checkpoint {path}: {problem}")
    return None


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (None when every file in it reads back)."""
    import torch
    from safetensors import safe_open

    try:
        int(json.loads((path / "progress.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "progress.json is missing or unreadable"
    files = [f for f in path.iterdir() if f.is_file()]
    if not any(f.suffix in (".safetensors", ".bin") for f in files):
        return "no model state in it"
    for f in files:
        try:
            if f.stat().st_size == 0:
                return f"{f.name} is empty"
            if f.suffix == ".safetensors":
                with safe_open(str(f), "pt") as tensors:
                    for key in tensors.keys():
                        tensors.get_tensor(key)
            elif f.suffix == ".bin":
                torch.load(
                    f, map_location="cpu", weights_only=True
                )  # optimizer and scheduler state: tensors and numbers
        except Exception as e:  # noqa: BLE001 - any failure to read back means: do not resume from it
            return f"{f.name} does not read back ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
    return None


def takes_logits_to_keep(model) -> bool:
    """The model's forward computes logits at chosen positions only (`logits_to_keep`, most transformers causal LMs;
    a PEFT wrapper passes it on to its base)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


def target_logits(model, batch: dict, selective: bool = True):
    """(logits, targets, kept positions): the logits at the positions whose next token is labelled in some row of the
    batch, and those labels (IGNORE where a row has none there). With `selective` off (a model without
    `logits_to_keep`), every position."""
    import torch

    labels = batch["labels"]
    keep = (labels[:, 1:] != IGNORE).any(0).nonzero().squeeze(1) if selective else None
    if keep is not None and keep.numel() == 0:
        keep = torch.zeros(1, dtype=torch.long, device=labels.device)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    if keep is None:
        logits = model(**inputs, use_cache=False).logits[:, :-1]
        return logits, labels[:, 1:], torch.arange(labels.shape[1] - 1, device=labels.device)
    return model(**inputs, use_cache=False, logits_to_keep=keep).logits, labels[:, keep + 1], keep


def summed_loss(logits, targets):
    """Summed cross-entropy over the labelled targets (fp32, as transformers' causal-LM loss computes it)."""
    import torch

    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


def evaluate_loss(model, packed: Packed, batch_rows: int, accelerator) -> tuple[float, dict[str, float]]:
    """Token-weighted mean cross-entropy over every trainable token of `packed`, and the same over the
    tokens of each capability's turns (capabilities without validation tokens are left out).

    Every process scores its share of the rows and the sums are added across processes: under FSDP or
    ZeRO-3 a forward pass needs all of them."""
    import torch

    model.eval()
    totals = torch.zeros(len(CAPABILITIES) + 1, dtype=torch.float64)  # last slot: tokens of no capability
    counts = torch.zeros(len(CAPABILITIES) + 1, dtype=torch.float64)
    rank, world = accelerator.process_index, accelerator.num_processes
    batches = -(-packed.rows // batch_rows)
    selective = takes_logits_to_keep(accelerator.unwrap_model(model))
    with torch.no_grad(), accelerator.autocast():
        for b in range(-(-batches // world) * world):  # the same number of forward passes on every process
            rows = [r for r in range(b * batch_rows, min((b + 1) * batch_rows, packed.rows)) if b % world == rank]
            padded = not rows
            rows = rows or [0]  # a process without rows runs a dummy batch and counts nothing
            batch = {k: v.to(accelerator.device) for k, v in collate(packed, rows).items()}
            logits, targets, keep = target_logits(model, batch, selective)
            if padded:
                continue
            shift_labels = targets.reshape(-1)
            losses = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), shift_labels, ignore_index=IGNORE, reduction="none"
            ).cpu()
            caps = torch.tensor([packed.capabilities[r] for r in rows])[:, keep.cpu() + 1].reshape(-1)
            caps = torch.where(caps < 0, len(CAPABILITIES), caps)
            trained = (shift_labels != IGNORE).cpu()
            totals.index_add_(0, caps[trained], losses[trained].double())
            counts.index_add_(0, caps[trained], torch.ones(int(trained.sum()), dtype=torch.float64))
    if world > 1:
        both = accelerator.reduce(torch.stack([totals, counts]).to(accelerator.device), "sum").cpu()
        totals, counts = both[0], both[1]
    model.train()
    overall = float(totals.sum() / counts.sum().clamp(min=1))
    return overall, {c: float(totals[i] / counts[i]) for i, c in enumerate(CAPABILITIES) if counts[i] > 0}


def gradient_scale(world: int, grad_accum: int) -> int:
    """What each micro-batch's loss is multiplied by before `backward`. The loss is already the sum over the
    process's targets divided by the whole step's target count (every process, every micro-batch), so the step's
    gradient should be their plain sum; DDP averages gradients over the `world` processes and accelerate divides
    each micro-batch's loss by `grad_accum`: this undoes both."""
    return world * grad_accum


def train(
    model,
    train_set: Packed,
    val_set: Packed,
    cfg: TrainConfig,
    checkpoint_dir: Path,
    log: Callable[[dict[str, float], int], None] = lambda m, s: None,
    echo: Callable[[str], None] = print,
):
    """Train `model` in place; returns (unwrapped model, TrainResult). Resumes from `checkpoint_dir`."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_cosine_schedule_with_warmup

    # cpu=True without CUDA: under torchrun/`accelerate launch --multi_gpu` that makes a gloo DDP group
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.precision(), cpu=not torch.cuda.is_available()
    )
    set_seed(cfg.seed)
    if not torch.cuda.is_available():
        torch.use_deterministic_algorithms(True, warn_only=True)  # CPU: same inputs, same weights (README: GPUs)
    if train_set.rows == 0:
        raise ParamsError(
            f"train.max_length: no training conversation fits its context (system turn, tools, first user turn) "
            f"into {cfg.max_length} tokens ({train_set.dropped_documents} dropped); raise it"
        )
    if train_set.dropped_documents and accelerator.is_main_process:
        echo(
            f"train.max_length: {train_set.dropped_documents} of {train_set.documents} training conversations dropped "
            f"({train_set.dropped_trainable_tokens} trainable tokens): their context (system turn, tools, first user "
            f"turn) alone fills a row of {cfg.max_length} tokens; raise it to learn them"
        )
    sharded = accelerator.distributed_type.name == "FSDP" or (
        accelerator.distributed_type.name == "DEEPSPEED" and accelerator.state.deepspeed_plugin.zero_stage == 3
    )
    if cfg.lora.enabled and sharded:
        raise ParamsError(
            "train.lora.enabled: LoRA adapters are merged on one process before saving, which a sharded model "
            "(FSDP, ZeRO-3) cannot do; use configs/accelerate/ddp.yaml or deepspeed_zero2.yaml for LoRA"
        )
    if cfg.batch_rows < accelerator.num_processes:
        raise ParamsError(
            f"train.batch_tokens: {cfg.batch_rows} rows per batch cannot be split over {accelerator.num_processes} "
            "processes"
        )
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.max_steps)
    # the scheduler is stepped once per optimizer step by hand (accelerate's prepared scheduler would
    # step once per process, for dataloaders it shards; ours shards global batches itself)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)

    result = TrainResult()
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    resume = latest_checkpoint(checkpoint_dir, echo)
    if resume is not None:
        accelerator.load_state(str(resume))
        state = json.loads((resume / "progress.json").read_text())
        result.resumed_from_step = state["step"]
        result.train_history, result.val_history = state["train_history"], state["val_history"]
        result.capability_history = state.get("capability_history", [])
        echo(f"resuming from checkpoint {resume.name} (step {state['step']} of {cfg.max_steps})")

    def validate(step: int) -> float:
        """On every process (each scores a share); the main one records and logs."""
        val, by_capability = evaluate_loss(model, val_set, cfg.batch_rows, accelerator)
        result.val_history.append({"step": step, "val_loss": round(val, 5)})
        result.capability_history.append({"step": step, **{c: round(v, 5) for c, v in by_capability.items()}})
        if accelerator.is_main_process:
            log({"val_loss": val, **{f"val_loss.{c}": v for c, v in by_capability.items()}}, step)
        return val

    if result.resumed_from_step == 0:
        validate(0)  # where each capability starts: the reference of its learning speed
    schedule = BatchSchedule(train_set.rows, cfg.batch_rows, cfg.seed)
    selective = takes_logits_to_keep(accelerator.unwrap_model(model))
    rank, world = accelerator.process_index, accelerator.num_processes
    model.train()
    started, tokens_seen = time.perf_counter(), 0
    for step in range(result.resumed_from_step + 1, cfg.max_steps + 1):
        step_loss = 0.0
        micro_rows = [schedule.rows_for((step - 1) * cfg.grad_accum + micro) for micro in range(cfg.grad_accum)]
        targets = max(
            1, sum(target_count(train_set, rows) for rows in micro_rows)
        )  # global: every process counts the same
        for rows in micro_rows:
            rows = rows[rank::world]
            batch = {k: v.to(accelerator.device) for k, v in collate(train_set, rows).items()}
            with accelerator.accumulate(model):
                loss = summed_loss(*target_logits(model, batch, selective)[:2]) / targets  # per the step's targets
                accelerator.backward(loss * gradient_scale(world, cfg.grad_accum))
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
            step_loss += loss.item()
            tokens_seen += len(rows) * cfg.max_length * world
        assert scheduler.last_epoch == step, "the schedule moves once per optimizer step, on every process"
        step_loss = accelerator.reduce(torch.tensor(step_loss, device=accelerator.device), "sum").item()
        elapsed = time.perf_counter() - started
        result.train_history.append({"step": step, "loss": round(step_loss, 5)})
        if accelerator.is_main_process:
            log(
                {"train_loss": step_loss, "lr": scheduler.get_last_lr()[0], "tokens_per_s": tokens_seen / elapsed}, step
            )
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            val = validate(step)
            if accelerator.is_main_process:
                echo(
                    f"step {step}/{cfg.max_steps}  loss {step_loss:.4f}  val {val:.4f}  lr "
                    f"{scheduler.get_last_lr()[0]:.2e}  "
                    f"{tokens_seen / elapsed:,.0f} tok/s"
                )
        if step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
            save_checkpoint(accelerator, checkpoint_dir, step, result, cfg.keep_checkpoints)

    result.steps = cfg.max_steps
    result.wall_s = time.perf_counter() - started
    result.tokens_per_s = tokens_seen / max(result.wall_s, 1e-9)
    result.train_loss = result.train_history[-1]["loss"] if result.train_history else float("nan")
    result.val_loss = result.val_history[-1]["val_loss"] if result.val_history else float("nan")
    accelerator.wait_for_everyone()
    result.state_dict = accelerator.get_state_dict(model)  # collective: gathers a sharded (FSDP, ZeRO-3) model whole
    return accelerator, accelerator.unwrap_model(model), result


def save_checkpoint(accelerator, directory: Path, step: int, result: TrainResult, keep: int) -> None:
    """`accelerator.save_state` into `step_N.tmp`, renamed to `step_N` once complete; older ones pruned."""
    final = directory / f"{CHECKPOINT_PREFIX}{step:06d}"
    tmp = final.with_name(final.name + ".tmp")
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / "progress.json").write_text(
            json.dumps(
                {
                    "step": step,
                    "train_history": result.train_history,
                    "val_history": result.val_history,
                    "capability_history": result.capability_history,
                }
            )
        )
        shutil.rmtree(final, ignore_errors=True)  # a corrupt one of the same step, skipped when resuming
        tmp.rename(final)
        for old in sorted(p for p in directory.glob(f"{CHECKPOINT_PREFIX}*") if not p.name.endswith(".tmp"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def checkpoint_dir_for(root: Path, fingerprint_parts: dict[str, Any]) -> Path:
    """Checkpoints of one training configuration: a re-run with the same params and data resumes
    from them, a changed one starts fresh. Kept outside DVC's outputs (DVC deletes outputs before a
    stage runs)."""
    import hashlib

    key = hashlib.sha256(json.dumps(fingerprint_parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return root / ".agentflan" / "checkpoints" / key
