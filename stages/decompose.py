"""DVC stage `decompose`: label every assistant turn with a capability; count tokens per capability, and per source."""

from collections import defaultdict

from agentflan.data.decompose import CapabilityTable, label
from agentflan.data.jsonio import atomic_writer, lines_text, sync_ahead
from agentflan.data.parallel import Records
from agentflan.data.schema import with_capabilities
from agentflan.pipeline.profiles import Profile, conversation_row, row_fields
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import suite_columns, validate

KEPT = suite_columns("decomposed")  # of each record's profile row: what the suite checks
ROW = row_fields(KEPT)  # of them, the fields of a conversation's row


def decompose(lines: list[bytes]) -> tuple[bytes, dict[str, CapabilityTable], dict[str, list]]:
    """One chunk: its labelled records as JSON lines, their token counts per source and their profile columns."""
    out, by_source, rows = [], defaultdict(CapabilityTable), Profile(keep=KEPT)
    records = Records(lines)
    for conv in records:
        learned = label(conv).learned_pieces()
        by_source[conv.source].add(conv, learned)
        line = records.read_line(conv)  # the labels written into it, where the line tells where (`with_capabilities`)
        out.append((line and with_capabilities(line, conv)) or conv.to_json())
        rows.add(conversation_row(conv, learned, ROW))
    return lines_text(out), by_source, rows.columns


with stage("decompose", open_run=False) as s, s.workers() as workers:
    parts = workers.map(s.path("converted"), decompose)
    s.open()  # MLflow's run and GX's import while the workers read
    rows, by_source = Profile(keep=KEPT), defaultdict(CapabilityTable)
    with atomic_writer(s.path("decomposed")) as out:
        for text, part_by_source, columns in parts:
            out.write(text)
            for source, counts in part_by_source.items():
                by_source[source].merge(counts)
            rows.extend(columns)
        sync_ahead(out)
        validate(rows, "decomposed")
    table = CapabilityTable()  # the whole corpus: the sum of its sources
    for counts in by_source.values():
        table.merge(counts)
    s.write_plot("capability_plot", table.plot_rows())
    # per source, what each teaches: a source without thoughts (xLAM, glaive calls) shows reasoning 0
    s.write_metrics(
        "decompose_metrics",
        {**table.to_metrics(), "by_source": {src: t.to_metrics()["tokens"] for src, t in sorted(by_source.items())}},
    )
