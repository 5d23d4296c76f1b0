"""The demo corpus: seeded, byte-identical, in the published layout, held-out tools checked."""

from __future__ import annotations

import json

import pytest

from agentflan.config import DemoConfig, ParamsError
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


@pytest.mark.parametrize(("heldout", "message"), [
    (["no_such_tool"], r"demo\.heldout_tools: unknown tool\(s\) \['no_such_tool'\]"),
    (None, r"demo\.heldout_tools: too few tools left for training"),
])
def test_bad_heldout_tools_are_refused_naming_the_key(tmp_path, heldout, message):
    from agentflan.demo import world

    names = heldout if heldout is not None else [t.name for t in world.TOOLS][:-1]
    with pytest.raises(ParamsError, match=message):
        write_demo(tmp_path, DemoConfig(toolbench=1, heldout_tools=names))
