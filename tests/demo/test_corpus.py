"""The demo corpus: seeded, byte-identical, in the published layout, held-out tools checked."""

from __future__ import annotations

import json

from agentflan.config import DemoConfig
from agentflan.demo.corpus import DEMO_FILES, write_demo


def test_demo_is_byte_identical(tmp_path):
    cfg = DemoConfig(toolbench=30, agentinstruct_os=3, agentinstruct_db=3, sharegpt=5)
    write_demo(tmp_path / "a", cfg)
    write_demo(tmp_path / "b", cfg)
    for name in DEMO_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_demo_toolbench_file_is_a_json_array_like_json_dump(tmp_path):
    write_demo(tmp_path, DemoConfig(toolbench=3, agentinstruct_os=0, agentinstruct_db=0, sharegpt=0))
    text = (tmp_path / "toolbench.json").read_text()
    assert text == json.dumps(json.loads(text), indent=4, ensure_ascii=False)


def test_every_tool_of_the_world_is_in_the_corpus(tmp_path):
    from agentflan.demo import world

    write_demo(tmp_path, DemoConfig(toolbench=200, agentinstruct_os=0, agentinstruct_db=0, sharegpt=0))
    text = (tmp_path / "toolbench.json").read_text()
    assert all(f"'name': '{t.name}'" in text for t in world.TOOLS)  # which are held out is the benchmark's choice
