"""DVC stage `convert`: upstream trajectories -> canonical chat conversations, validated."""

from agentflan.data.convert import Converter
from agentflan.data.jsonio import atomic_writer, write_jsonl
from agentflan.pipeline.profiles import Profile, conversation_row
from agentflan.pipeline.project import file_md5
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import suite_columns, validate

with stage("convert", ("data", "convert")) as s:
    converter = Converter(s.params.convert)
    rows = Profile(keep=suite_columns("converted"))  # of each record's profile row: what the suite checks
    quarantined = s.path("quarantine") / "records.jsonl"  # a DVC output folder, empty when nothing is quarantined
    with atomic_writer(s.path("converted")) as out, atomic_writer(quarantined) as quarantine:
        converter.on_reject = lambda r: write_jsonl(quarantine, [r.to_dict()])
        for conv in converter.run(s.params.data.sources):
            out.write(conv.to_json() + b"\n")
            rows.add(conversation_row(conv))
        validate(rows, "converted")
    if not converter.stats.quarantined:
        quarantined.unlink()
    sources = [{"path": x.path, "format": x.format, "md5": file_md5(x.path)} for x in s.params.data.sources]
    s.write_metrics("convert_metrics", {**converter.stats.to_metrics(), "sources": sources})
    s.run.log_files({"converted": s.path("converted"), "quarantine": quarantined})
