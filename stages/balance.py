"""DVC stage `balance`: re-weight trainable tokens per capability by `mix.*` (turn-level loss masking)."""

from agentflan.balance import BalanceConfig, Balancer, Mix
from agentflan.jsonio import atomic_writer, read_conversations, write_json
from agentflan.profiles import conversation_row
from agentflan.stage import stage
from agentflan.validation import validate

with stage("balance", ("mix", "balance")) as s:
    config = BalanceConfig.from_params(s.params["balance"])
    balancer = Balancer(Mix.from_params(s.params["mix"]), config)
    balancer.plan(read_conversations(s.path("decomposed")))
    rows = []
    with atomic_writer(s.path("balanced")) as out:
        for conv in balancer.apply(read_conversations(s.path("decomposed"))):
            out.write(conv.to_json() + b"\n")
            rows.append(conversation_row(conv))
        validate(rows, "balanced")
        validate(balancer.result.mix_rows(), "balanced_mix", id_column="capability", parameters={"tolerance": config.tolerance})
    write_json(s.path("balance_plot"), balancer.result.mix_rows())
    s.write_metrics("balance_metrics", balancer.result.to_metrics())
