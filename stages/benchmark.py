"""DVC stage `benchmark`: the Agent-H benchmark from the converted corpus (or your own file), and the held-out list."""

import functools

from agentflan.config import BenchmarkConfig
from agentflan.data.heldout import Heldout, Offered, QueryAndTools, choose_from, offered, query_key
from agentflan.data.jsonio import atomic_writer, read_records, write_json, write_jsonl
from agentflan.data.parallel import conversations, fields_of, records_with_ids
from agentflan.data.schema import Conversation
from agentflan.evaluation.benchmark import (
    CATEGORIES,
    Candidates,
    Sample,
    candidates,
    choose_samples,
    chosen_ids,
    sample_row,
    samples,
)
from agentflan.pipeline.project import file_md5
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate


def tools_and_queries(cfg: BenchmarkConfig, lines: list[bytes]) -> Offered:
    """The first pass over one chunk: the tools it offers and the queries the seeded draw holds out (of each record,
    its kind, query and tool names only are decoded)."""
    return offered(fields_of(QueryAndTools, lines), cfg)


def held_out(heldout: Heldout, lines: list[bytes]) -> Candidates:
    """The second pass over one chunk: the candidate samples among its held-out records."""
    return candidates(conversations(lines), heldout)


with stage("benchmark", ("benchmark", "eval"), open_run=False) as s, s.workers() as workers:
    cfg, corpus = s.params.benchmark, s.path("converted")
    if s.params.eval.benchmark:
        s.open()
        built = list(read_records(s.params.eval.benchmark, Sample.from_dict))
        heldout = Heldout(sorted(set(cfg.heldout_tools)), sorted({query_key(x.query) for x in built}))
        counts = {c: sum(x.category == c for x in built) for c in sorted({x.category for x in built})}
    else:
        found = Offered(cfg)
        for part in workers.map(corpus, functools.partial(tools_and_queries, cfg)):
            found.merge(part)
        heldout = choose_from(found, cfg, str(corpus))
        parts = workers.map(corpus, functools.partial(held_out, heldout))
        s.open()  # MLflow's run and GX's import while the workers read (the second pass: the longer one)
        gathered = Candidates()
        for part in parts:
            gathered.merge(part)
        picked, counts = choose_samples(gathered, cfg)
        del gathered
        records: dict[str, Conversation] = {}  # the third pass: the records the chosen samples are read from
        for part in workers.map(corpus, functools.partial(records_with_ids, chosen_ids(picked))):
            for rid, conv in part.items():
                records.setdefault(rid, conv)
        built = samples(picked, records)
    validate([sample_row(x) for x in built], "agent_h")
    with atomic_writer(s.path("benchmark")) as f:
        write_jsonl(f, (x.to_dict() for x in built))
    write_json(s.path("heldout"), heldout.to_dict())
    s.write_metrics(
        "benchmark_metrics",
        {
            "source": s.params.eval.benchmark or "corpus",
            "samples": len(built),
            "per_category": counts,
            "requested_per_category": cfg.per_category if not s.params.eval.benchmark else None,
            "short_categories": [
                c for c in CATEGORIES if not s.params.eval.benchmark and counts.get(c, 0) < cfg.per_category
            ],
            "heldout_tools": len(heldout.tools),
            "heldout_queries": len(heldout.queries),
            "md5": file_md5(s.path("benchmark")),
        },
    )
