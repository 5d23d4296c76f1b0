"""DVC stage `train`: agent-tune the model on the final training file (transformers + accelerate).

Runs unchanged under `python stages/train.py` and `accelerate launch --num_processes N stages/train.py`.
"""

import shutil

from accelerate.utils import set_seed

from agentflan.data.jsonio import atomic_dir, read_conversations, read_json
from agentflan.data.schema import CAPABILITIES
from agentflan.pipeline import model_card
from agentflan.pipeline.project import file_md5, workspace_root
from agentflan.pipeline.stage import stage
from agentflan.training.chat_format import ChatFormat
from agentflan.training.chat_template import chatml_text
from agentflan.training.curves import learning_speed
from agentflan.training.loop import checkpoint_dir_for, train
from agentflan.training.model import apply_lora, load_model_and_tokenizer, save_model
from agentflan.training.packing import encode, pack, unigram_loss

with stage("train", ("model", "train")) as s:
    cfg = s.params.train
    train_convs = list(read_conversations(s.path("train")))
    val_convs = list(read_conversations(s.path("validation")))
    set_seed(cfg.seed)  # before the tiny model is built: its initial weights follow train.seed
    model, tokenizer, added = load_model_and_tokenizer(s.params.model, (chatml_text(c) for c in train_convs), cfg.lora)
    if cfg.lora.enabled:
        model = apply_lora(model, cfg.lora, added)
    fmt = ChatFormat.of(tokenizer)
    if any(t.tool_calls for c in train_convs for t in c.turns):
        fmt.require_native()  # native calls need a template that writes them and a response template that reads them
    train_set = pack(
        (encode(fmt, c) for c in train_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations
    )
    val_set = pack((encode(fmt, c) for c in val_convs), cfg.max_length, tokenizer.pad_token_id, cfg.long_conversations)
    digests = {
        name: s.run.log_dataset(s.path(name), name, name) or file_md5(s.path(name)) for name in ("train", "validation")
    }
    checkpoints = checkpoint_dir_for(
        workspace_root(),
        {"model": s.params.model.model_dump(mode="json"), "train": cfg.model_dump(mode="json"), **digests},
    )
    accelerator, model, result = train(model, train_set, val_set, cfg, checkpoints, log=s.run.log_metrics)
    if accelerator.is_main_process:
        baseline = unigram_loss(train_set, val_set, len(tokenizer))
        parameters = sum(p.numel() for p in model.parameters())
        sources = read_json(s.path("convert_details"))["sources"]  # the raw inputs, as convert hashed them
        base = model_card.base_identity(s.params.model)
        card = model_card.render(
            base,
            sources,
            {
                "steps": result.steps,
                "val_loss": round(result.val_loss, 5),
                "unigram_val_loss": round(baseline, 5),
                "parameters": parameters,
            },
        )
        with atomic_dir(s.path("model")) as tmp:
            save_model(model, tokenizer, tmp, fmt.end_of_turn_ids, result.state_dict)
            (tmp / "README.md").write_text(card)
        s.write_plot("train_loss_plot", result.train_history)
        s.write_plot("val_loss_plot", result.val_history)
        # every capability in every row (null where the validation split has none), so the plot's y fields all exist
        s.write_plot(
            "capability_loss_plot",
            [{"step": r["step"], **{c: r.get(c) for c in CAPABILITIES}} for r in result.capability_history],
        )
        s.write_metrics(
            "train_metrics",
            {
                "val_loss": round(result.val_loss, 5),
                "unigram_val_loss": round(baseline, 5),
                "val_loss_vs_unigram": round(result.val_loss / baseline, 4),
                "val_loss_by_capability": {c: v for c, v in result.capability_history[-1].items() if c != "step"},
                "learning_speed": learning_speed(result.capability_history),
                "train_loss": result.train_loss,
                "steps": result.steps,
                "resumed_from_step": result.resumed_from_step,
                "tokens_per_s": round(result.tokens_per_s, 1),
                "train_wall_s": round(result.wall_s, 1),
                "parameters": parameters,
                "processes": accelerator.num_processes,
                "base_model": base,
                "data": {
                    "train_rows": train_set.rows,
                    "train_tokens": train_set.tokens,
                    "trainable_tokens": train_set.trainable_tokens,
                    "padding_fraction": round(train_set.padding_fraction, 5),
                    "split_documents": train_set.split_documents,
                    "dropped_documents": train_set.dropped_documents,
                    "dropped_trainable_tokens": train_set.dropped_trainable_tokens,
                    "val_trainable_tokens": val_set.trainable_tokens,
                },
            },
        )
        s.run.log_model(s.path("model"), card)
        s.run.log_files({"model": s.path("model") / "model.safetensors"})  # evaluate finds this run by it
        shutil.rmtree(checkpoints, ignore_errors=True)  # finished: the model is the output now
