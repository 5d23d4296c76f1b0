"""DVC stage `benchmark`: the Agent-H benchmark from the converted corpus (or your own file), and the held-out list."""

from agentflan.data.heldout import Heldout, choose, query_key
from agentflan.data.jsonio import atomic_writer, read_conversations, read_records, write_json, write_jsonl
from agentflan.evaluation.benchmark import CATEGORIES, Sample, build, sample_row
from agentflan.pipeline.project import file_md5
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("benchmark", ("benchmark", "eval")) as s:
    cfg, corpus = s.params.benchmark, s.path("converted")
    if s.params.eval.benchmark:
        samples = list(read_records(s.params.eval.benchmark, Sample.from_dict))
        heldout = Heldout(sorted(set(cfg.heldout_tools)), sorted({query_key(x.query) for x in samples}))
        counts = {c: sum(x.category == c for x in samples) for c in sorted({x.category for x in samples})}
    else:
        heldout = choose(read_conversations(corpus), cfg, str(corpus))
        samples, counts = build(read_conversations(corpus), heldout, cfg)
    validate([sample_row(x) for x in samples], "agent_h")
    with atomic_writer(s.path("benchmark")) as f:
        write_jsonl(f, (x.to_dict() for x in samples))
    write_json(s.path("heldout"), heldout.to_dict())
    s.write_metrics(
        "benchmark_metrics",
        {
            "source": s.params.eval.benchmark or "corpus",
            "samples": len(samples),
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
