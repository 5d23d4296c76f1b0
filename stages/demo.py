"""DVC stage `demo`: write the seeded synthetic corpus in the real upstream formats, validated."""

from agentflan.demo import DEMO_FILES, DemoConfig, write_demo
from agentflan.jsonio import atomic_dir
from agentflan.profiles import raw_frame
from agentflan.stage import stage
from agentflan.validation import validate

with stage("demo", ("demo",)) as s:
    cfg = DemoConfig.from_params(s.params["demo"])
    with atomic_dir(s.path("demo")) as tmp:
        counts = write_demo(tmp, cfg)
        for name, fmt in DEMO_FILES.items():
            validate(raw_frame(tmp / name, fmt), f"raw_{fmt}")
    s.write_metrics("demo_metrics", {"records": counts})
