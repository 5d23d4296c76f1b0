"""DVC stage `benchmark`: the Agent-H benchmark from the converted corpus (or your own file), and the held-out list."""

import functools

from agentflan.config import BenchmarkConfig
from agentflan.data.heldout import Guess, Heldout, choose_from, query_key
from agentflan.data.jsonio import atomic_writer, read_records, write_json, write_jsonl
from agentflan.data.parallel import conversations_at, read_at
from agentflan.evaluation.benchmark import (
    CATEGORIES,
    Candidates,
    Sample,
    candidates_at,
    choose_samples,
    chosen_places,
    sample_row,
    samples,
)
from agentflan.pipeline.project import file_md5
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate


def guessed(cfg: BenchmarkConfig, lines: list[bytes], start: int) -> tuple[Guess, Candidates]:
    """The pass over one chunk: the tools it offers, the queries the seeded draw holds out, and the candidate samples
    (with their records' places) among its records held out as each record tells it (`Guess`)."""
    guess = Guess(cfg)
    return guess, candidates_at(conversations_at(lines, start), guess)


def held_out(heldout: Heldout, lines: list[bytes], start: int) -> Candidates:
    """The candidate samples among one chunk's held-out records, the choice known (the pass again, where a guess of
    the first was wrong)."""
    return candidates_at(conversations_at(lines, start), heldout)


with stage("benchmark", ("benchmark", "eval"), open_run=False) as s, s.workers() as workers:
    cfg, corpus = s.params.benchmark, s.path("converted")
    if s.params.eval.benchmark:
        s.open()
        built = list(read_records(s.params.eval.benchmark, Sample.from_dict))
        heldout = Heldout(sorted(set(cfg.heldout_tools)), sorted({query_key(x.query) for x in built}))
        counts = {c: sum(x.category == c for x in built) for c in sorted({x.category for x in built})}
    else:
        parts = workers.map(corpus, functools.partial(guessed, cfg), positioned=True)
        s.open()  # MLflow's run and GX's import while the workers read
        guess, gathered = Guess(cfg), Candidates()
        for part_guess, part in parts:
            guess.merge(part_guess)
            gathered.merge(part)
        heldout = choose_from(guess.found, cfg, str(corpus))
        if guess.holds(heldout):
            gathered.decide(heldout)
        else:  # a record judged by what only the whole corpus tells, and judged wrong
            gathered = Candidates()
            for part in workers.map(corpus, functools.partial(held_out, heldout), positioned=True):
                gathered.merge(part)
        picked, counts = choose_samples(gathered, cfg)
        del gathered
        built = samples(picked, read_at(corpus, chosen_places(picked)), cfg.knowledge_tools)  # read at their places
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
