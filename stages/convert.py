"""DVC stage `convert`: upstream trajectories -> canonical chat conversations, validated."""

import functools
from concurrent.futures import Future, ThreadPoolExecutor

from agentflan.data.convert import Converter
from agentflan.data.jsonio import atomic_writer, sync_ahead, write_jsonl
from agentflan.pipeline.profiles import Profile, conversation_row, row_fields
from agentflan.pipeline.project import file_md5
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import suite_columns, validate

KEPT = suite_columns("converted")  # of each record's profile row: what the suite checks


def described(sources: list) -> list[dict]:
    """Each input as the metrics name it: path, format and the md5 of its bytes."""
    return [{"path": x.path, "format": x.format, "md5": file_md5(x.path)} for x in sources]


with stage("convert", ("data", "convert"), open_run=False) as s, s.workers() as workers:
    converter = Converter(s.params.convert)
    rows, profile_row = Profile(keep=KEPT), functools.partial(conversation_row, fields=row_fields(KEPT))
    quarantined = s.path("quarantine") / "records.jsonl"  # a DVC output folder, empty when nothing is quarantined
    sources: Future | None = None
    with (
        atomic_writer(s.path("converted")) as out,
        atomic_writer(quarantined) as quarantine,
        ThreadPoolExecutor(1) as io,
    ):
        converter.on_reject = lambda r: write_jsonl(quarantine, [r.to_dict()])
        for lines, columns in converter.written(s.params.data.sources, workers, profile_row):
            if sources is None:  # the workers are forked (threads are safe now) and convert the first batches:
                sources = io.submit(described, s.params.data.sources)  # the inputs hashed while they work,
                s.open()  # and MLflow's run opened and GX imported
            out.write(lines)
            rows.extend(columns)
        sync_ahead(out)
        sync_ahead(quarantine)
        validate(rows, "converted")
    if not converter.stats.quarantined:
        quarantined.unlink()
    metrics = {
        **converter.stats.to_metrics(),
        "sources": sources.result() if sources else described(s.params.data.sources),
    }
    s.write_metrics("convert_metrics", metrics)
    s.run.log_files({"converted": s.path("converted"), "quarantine": quarantined})
