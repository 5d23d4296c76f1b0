"""DVC stage `negatives`: add hallucination negatives; write the final train/validation files and their exports in
the Agent-FLAN release schema and as HF conversational JSONL (`messages` + `tools`)."""

import contextlib

from agentflan.data.decompose import CapabilityTable
from agentflan.data.heldout import Heldout
from agentflan.data.jsonio import atomic_writer, read_conversations, read_json, write_jsonl
from agentflan.data.negatives import NegativesStats, add_negatives, query_key, tool_pool
from agentflan.evaluation.judges import negative_calls
from agentflan.pipeline.profiles import Profile, conversation_row, query_split_rows
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("negatives", ("negatives",)) as s:
    heldout = Heldout.from_dict(
        read_json(s.path("heldout")), str(s.path("heldout"))
    )  # the benchmark's: never trained on
    pool = tool_pool(read_conversations(s.path("balanced")), heldout)
    stats, rows, tables = NegativesStats(), Profile(), {"train": CapabilityTable(), "validation": CapabilityTable()}
    with contextlib.ExitStack() as files:
        out = {split: files.enter_context(atomic_writer(s.path(split))) for split in ("train", "validation")}
        export = {
            split: files.enter_context(atomic_writer(s.path(f"{split}_agentflan"))) for split in ("train", "validation")
        }
        hf = {split: files.enter_context(atomic_writer(s.path(f"{split}_hf"))) for split in ("train", "validation")}
        for split, conv in add_negatives(
            read_conversations(s.path("balanced")), pool, s.params.negatives, stats, heldout
        ):
            out[split].write(conv.to_json() + b"\n")
            write_jsonl(export[split], [conv.to_agentflan()])
            write_jsonl(hf[split], [conv.to_hf()])
            tables[split].add(conv)
            rows.add(
                {
                    **conversation_row(conv),
                    "split": split,
                    "query_key": query_key(conv),
                    "negative_calls": negative_calls(conv),
                    "heldout": int(heldout.excludes(conv)),
                }
            )
        validate(rows, "final")
        validate(query_split_rows(rows), "final_split", id_column="query_key")
    s.write_metrics(
        "negatives_metrics",
        {**stats.to_metrics(), "train": tables["train"].to_metrics(), "validation": tables["validation"].to_metrics()},
    )
