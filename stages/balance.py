"""DVC stage `balance`: re-weight trainable tokens per capability by `mix.*` (turn-level loss masking)."""

import functools

from agentflan.config import Mix
from agentflan.data.balance import Balancer, Candidates, candidates
from agentflan.data.jsonio import atomic_writer, lines_text, sync_ahead
from agentflan.data.parallel import Records, conversations
from agentflan.pipeline.profiles import Profile, conversation_row, row_fields
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import suite_columns, validate

KEPT = suite_columns("balanced")  # of each record's profile row: what the suite checks
ROW = row_fields(KEPT)  # of them, the fields of a conversation's row


def gather(seed: int, mix: Mix, lines: list[bytes]) -> Candidates:
    """The first pass over one chunk: its trainable pieces."""
    return candidates(conversations(lines), seed, mix)


def balance(balancer: Balancer, lines: list[bytes]) -> tuple[bytes, Balancer, dict[str, list]]:
    """The second pass over one chunk: its balanced records as JSON lines, what was applied, the profile columns."""
    part, out, rows, records = balancer.chunk(), [], Profile(keep=KEPT), Records(lines)
    for conv in records:
        kept = part.balanced(conv)
        if kept is not None:
            learned, masked = kept
            out.append(records.line(conv, changed=masked))
            rows.add(conversation_row(conv, learned, ROW))
    return lines_text(out), part, rows.columns


with stage("balance", ("mix", "balance"), open_run=False) as s, s.workers() as workers:
    balancer = Balancer(s.params.mix, s.params.balance)
    if not balancer.plan_unsampled():  # some capability is sampled: a first pass plans what each keeps
        parts = workers.map(s.path("decomposed"), functools.partial(gather, s.params.balance.seed, s.params.mix))
        s.open()  # MLflow's run and GX's import while the workers read
        found = Candidates()
        for part in parts:
            found.merge(part)
        balancer.plan_from(found)
    rows = Profile(keep=KEPT)
    with atomic_writer(s.path("balanced")) as out:
        applied = workers.map(s.path("decomposed"), functools.partial(balance, balancer))
        s.open()  # (without a first pass: while the workers read now)
        for text, part, columns in applied:
            out.write(text)
            balancer.merge(part)
            rows.extend(columns)
        sync_ahead(out)
        balancer.finish()
        validate(rows, "balanced")
        validate(
            balancer.result.mix_rows(),
            "balanced_mix",
            id_column="capability",
            parameters={"tolerance": s.params.balance.tolerance},
        )
    s.write_plot("balance_plot", balancer.result.mix_rows())
    s.write_metrics("balance_metrics", balancer.result.to_metrics())
