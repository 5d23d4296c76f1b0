"""A small labelled corpus, shared by the recipe tests (demo -> convert -> decompose, in memory)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from agentflan.config import ConvertConfig, DemoConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import label
from agentflan.data.schema import Conversation, conversation_from_dict
from agentflan.demo.corpus import DEMO_FILES, write_demo


@lru_cache(maxsize=2)
def _labelled_dicts(call_style: str) -> tuple[dict, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        write_demo(tmp, DemoConfig(toolbench=300, agentinstruct_os=20, agentinstruct_db=20, sharegpt=60))
        converter = Converter(ConvertConfig(format_samples=20, call_style=call_style))
        return tuple(label(c).to_dict() for c in converter.run([Source(path=str(Path(tmp) / n)) for n in DEMO_FILES]))


def labelled_corpus() -> list[Conversation]:
    """Fresh copies each call (stages mutate loss flags in place); agent trajectories in the native form (default)."""
    return [conversation_from_dict(d) for d in _labelled_dicts("native")]


def elicited_corpus() -> list[Conversation]:
    """The same corpus with trajectories in the paper's elicited chat form."""
    return [conversation_from_dict(d) for d in _labelled_dicts("elicited")]
