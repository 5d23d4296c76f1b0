"""DVC stage `negatives`: add hallucination negatives; write the final train/validation files and their exports in
the Agent-FLAN release schema and as HF conversational JSONL (`messages` + `tools`)."""

import contextlib
import functools

import orjson

from agentflan.config import NegativesConfig
from agentflan.data.decompose import CapabilityTable
from agentflan.data.heldout import Heldout
from agentflan.data.jsonio import atomic_writer, lines_text, read_json, sync_ahead
from agentflan.data.negatives import NegativesStats, Screen, add_negatives, query_key, screen, sorted_pool
from agentflan.data.parallel import Records
from agentflan.data.schema import Tool
from agentflan.evaluation.judges import negative_calls
from agentflan.pipeline.profiles import Profile, conversation_row, query_split_rows, row_fields
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import suite_columns, validate

SPLITS = ("train", "validation")
KEPT = suite_columns("final", "final_split")  # of each record's profile row: what the suites check
ROW = row_fields(KEPT)  # of them, the fields of a conversation's row (the stage adds the others)
FILES = [f"{split}{suffix}" for split in SPLITS for suffix in ("", "_agentflan", "_hf")]  # the paths' keys


def screened(heldout: Heldout, lines: list[bytes], start: int) -> tuple[int, Screen]:
    """The first pass over one chunk (where it starts, `screen`): the first definition of each tool it offers, and
    its held-out records (of each record, its kind, query and names are decoded)."""
    return start, screen(lines, heldout)


def finish(
    pool: list[Tool], cfg: NegativesConfig, heldout: Heldout, screens: dict[int, Screen], lines: list[bytes], start: int
) -> tuple[dict[str, bytes], NegativesStats, dict[str, CapabilityTable], dict[str, list]]:
    """The second pass over one chunk, its held-out records left unread: each output file's lines, the counts, the
    profile columns."""
    out = {key: [] for key in FILES}
    stats, rows, tables = NegativesStats(), Profile(keep=KEPT), {split: CapabilityTable() for split in SPLITS}
    chunk = screens[start]
    stats.held_out = len(chunk.held_out)
    records = Records(chunk.kept(lines))
    for split, conv in add_negatives(records, pool, cfg, stats):
        out[split].append(records.line(conv))  # a record passed on as it came: its line; a negative: encoded
        agentflan, hf = conv.exports()
        out[f"{split}_agentflan"].append(orjson.dumps(agentflan))
        out[f"{split}_hf"].append(orjson.dumps(hf))
        learned = conv.learned_pieces()  # once, for the token counts and the profile row
        tables[split].add(conv, learned)
        rows.add(
            {
                **conversation_row(conv, learned, ROW),
                "split": split,
                "query_key": query_key(conv),
                "negative_calls": negative_calls(conv),
                "heldout": int(heldout.excludes(conv)),
            }
        )
    return {key: lines_text(lines_) for key, lines_ in out.items()}, stats, tables, rows.columns


with stage("negatives", ("negatives",), open_run=False) as s, s.workers() as workers:
    heldout = Heldout.from_dict(
        read_json(s.path("heldout")), str(s.path("heldout"))
    )  # the benchmark's: never trained on
    first: dict[str, Tool] = {}
    screens: dict[int, Screen] = {}
    for start, part in workers.map(s.path("balanced"), functools.partial(screened, heldout), positioned=True):
        for name, tool in part.tools.items():
            first.setdefault(name, tool)
        screens[start] = Screen(
            {}, part.held_out
        )  # its tools are in the pool: the second pass needs its held-out lines
    pool = sorted_pool(first)
    stats, rows, tables = NegativesStats(), Profile(keep=KEPT), {split: CapabilityTable() for split in SPLITS}
    with contextlib.ExitStack() as files:
        out = {key: files.enter_context(atomic_writer(s.path(key))) for key in FILES}
        parts = workers.map(
            s.path("balanced"), functools.partial(finish, pool, s.params.negatives, heldout, screens), positioned=True
        )
        s.open()  # MLflow's run and GX's import while the workers read (the second pass: the longer one)
        for texts, part_stats, part_tables, columns in parts:
            for key, text in texts.items():
                out[key].write(text)
            stats.merge(part_stats)
            for split in SPLITS:
                tables[split].merge(part_tables[split])
            rows.extend(columns)
        for f in out.values():
            sync_ahead(f)
        validate(rows, "final")
        validate(query_split_rows(rows), "final_split", id_column="query_key")
    s.write_metrics(
        "negatives_metrics",
        {**stats.to_metrics(), "train": tables["train"].to_metrics(), "validation": tables["validation"].to_metrics()},
    )
