"""DVC stage `decompose`: label every assistant turn with a capability; count tokens per capability."""

from agentflan.data.decompose import CapabilityTable, label
from agentflan.data.jsonio import atomic_writer, read_conversations
from agentflan.pipeline.profiles import Profile, conversation_row
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("decompose") as s:
    table, rows = CapabilityTable(), Profile()
    with atomic_writer(s.path("decomposed")) as out:
        for conv in read_conversations(s.path("converted")):
            table.add(label(conv))
            out.write(conv.to_json() + b"\n")
            rows.add(conversation_row(conv))
        validate(rows, "decomposed")
    s.write_plot("capability_plot", table.plot_rows())
    s.write_metrics("decompose_metrics", table.to_metrics())
