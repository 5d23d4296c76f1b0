"""DVC stage `decompose`: label every assistant turn with a capability; count tokens per capability, and per source."""

from collections import defaultdict

from agentflan.data.decompose import CapabilityTable, label
from agentflan.data.jsonio import atomic_writer, read_conversations
from agentflan.pipeline.profiles import Profile, conversation_row
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("decompose") as s:
    table, rows, by_source = CapabilityTable(), Profile(), defaultdict(CapabilityTable)
    with atomic_writer(s.path("decomposed")) as out:
        for conv in read_conversations(s.path("converted")):
            table.add(label(conv))
            by_source[conv.source].add(conv)
            out.write(conv.to_json() + b"\n")
            rows.add(conversation_row(conv))
        validate(rows, "decomposed")
    s.write_plot("capability_plot", table.plot_rows())
    # per source, what each teaches: a source without thoughts (xLAM, glaive calls) shows reasoning 0
    s.write_metrics(
        "decompose_metrics",
        {**table.to_metrics(), "by_source": {src: t.to_metrics()["tokens"] for src, t in sorted(by_source.items())}},
    )
