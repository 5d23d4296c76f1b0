"""DVC stage `balance`: re-weight trainable tokens per capability by `mix.*` (turn-level loss masking)."""

from agentflan.data.balance import Balancer
from agentflan.data.jsonio import atomic_writer, read_conversations
from agentflan.pipeline.profiles import Profile, conversation_row
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("balance", ("mix", "balance")) as s:
    balancer = Balancer(s.params.mix, s.params.balance)
    balancer.plan(read_conversations(s.path("decomposed")))
    rows = Profile()
    with atomic_writer(s.path("balanced")) as out:
        for conv in balancer.apply(read_conversations(s.path("decomposed"))):
            out.write(conv.to_json() + b"\n")
            rows.add(conversation_row(conv))
        validate(rows, "balanced")
        validate(
            balancer.result.mix_rows(),
            "balanced_mix",
            id_column="capability",
            parameters={"tolerance": s.params.balance.tolerance},
        )
    s.write_plot("balance_plot", balancer.result.mix_rows())
    s.write_metrics("balance_metrics", balancer.result.to_metrics())
