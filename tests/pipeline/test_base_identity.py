"""Which base a model was trained from: a local folder by the sha256 of its files, a hub id by the commit the
hub cache resolves its revision to (a cache laid out as huggingface_hub writes it: refs/<branch> -> commit)."""

from __future__ import annotations

import json
import subprocess
import sys

from agentflan.config import ModelConfig
from agentflan.pipeline.model_card import base_identity
from agentflan.pipeline.project import folder_sha256

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_a_local_folder_is_identified_by_its_files(tmp_path):
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    (base / "config.json").write_text("{}")
    (base / "sub" / "model.safetensors").write_bytes(b"weights")
    first = base_identity(ModelConfig(base=str(base)))
    assert first == {"base": str(base), "kind": "local folder", "sha256": folder_sha256(base)}
    (base / ".cache").mkdir()
    (base / ".cache" / "lock").write_text("x")  # hidden entries do not count
    assert folder_sha256(base) == first["sha256"]
    (base / "sub" / "model.safetensors").write_bytes(b"weightz")
    changed = folder_sha256(base)
    assert changed != first["sha256"]
    (base / "sub" / "model.safetensors").rename(base / "model.safetensors")  # same bytes, other name
    assert folder_sha256(base) not in (first["sha256"], changed)


def test_a_hub_id_is_identified_by_the_commit_its_revision_resolves_to(tmp_path):
    repo = tmp_path / "hub" / "models--org--base"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "snapshots" / COMMIT / "config.json").write_text("{}")
    script = (
        "import json; from agentflan.config import ModelConfig; from agentflan.pipeline.model_card import "
        "base_identity; "
        "print(json.dumps([base_identity(ModelConfig(base='org/base', revision=r)) for r in ('', 'main', 'v2')]))"
    )
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    default, main, unknown = json.loads(out)
    assert default == {"base": "org/base", "kind": "hub", "revision": "", "commit": COMMIT}
    assert main["commit"] == COMMIT
    assert unknown == {
        "base": "org/base",
        "kind": "hub",
        "revision": "v2",
        "commit": "",
    }  # not in the cache: not guessed
    pinned = base_identity(ModelConfig(base="org/other", revision=COMMIT))
    assert pinned["commit"] == COMMIT  # a commit pins itself
    assert base_identity(ModelConfig()) == {"base": "tiny", "kind": "built from params"}
