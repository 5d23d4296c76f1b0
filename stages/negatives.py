"""DVC stage `negatives`: add hallucination negatives; write the final train/validation files and
their Agent-FLAN release-schema exports."""

import contextlib

from agentflan.decompose import CapabilityTable
from agentflan.jsonio import atomic_writer, read_conversations, write_jsonl
from agentflan.negatives import NegativesConfig, NegativesStats, add_negatives, query_key, tool_pool
from agentflan.profiles import conversation_row, query_split_rows
from agentflan.stage import stage
from agentflan.validation import validate

with stage("negatives", ("negatives",)) as s:
    config = NegativesConfig.from_params(s.params["negatives"])
    pool = tool_pool(read_conversations(s.path("balanced")))
    stats, rows, tables = NegativesStats(), [], {"train": CapabilityTable(), "validation": CapabilityTable()}
    with contextlib.ExitStack() as files:
        out = {split: files.enter_context(atomic_writer(s.path(split))) for split in ("train", "validation")}
        export = {split: files.enter_context(atomic_writer(s.path(f"{split}_agentflan"))) for split in ("train", "validation")}
        for split, conv in add_negatives(read_conversations(s.path("balanced")), pool, config, stats):
            out[split].write(conv.to_json() + b"\n")
            write_jsonl(export[split], [conv.to_agentflan()])
            tables[split].add(conv)
            rows.append({**conversation_row(conv), "split": split, "query_key": query_key(conv)})
        validate(rows, "final")
        validate(query_split_rows(rows), "final_split", id_column="query_key")
    s.write_metrics("negatives_metrics", {**stats.to_metrics(), "train": tables["train"].to_metrics(),
                                          "validation": tables["validation"].to_metrics()})
