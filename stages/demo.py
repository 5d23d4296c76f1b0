"""DVC stage `demo`: write the seeded synthetic corpus in the real upstream formats, validated."""

from agentflan.data.jsonio import atomic_dir
from agentflan.demo.corpus import DEMO_FILES, write_demo
from agentflan.pipeline.profiles import raw_frame
from agentflan.pipeline.stage import stage
from agentflan.pipeline.validation import validate

with stage("demo", ("demo",)) as s:
    with atomic_dir(s.path("demo")) as tmp:
        counts = write_demo(tmp, s.params.demo)
        for name, fmt in DEMO_FILES.items():
            validate(raw_frame(tmp / name, fmt), f"raw_{fmt}")
    s.write_metrics("demo_metrics", {"records": counts})
