"""One source of defaults: every default of the typed params models equals params.yaml's value, key by key, and
every params.yaml key is a field. Change a default on one side only and this fails naming the key."""

from __future__ import annotations

from typing import Any

import yaml

from agentflan.config import Params

from conftest import ROOT


def differences(yaml_side: Any, code_side: Any, path: str = "") -> list[str]:
    """Every key whose value differs between params.yaml and the models' defaults (or exists on one side only)."""
    if isinstance(yaml_side, dict) and isinstance(code_side, dict):
        out = []
        for key in sorted(set(yaml_side) | set(code_side)):
            where = f"{path}{key}"
            if key not in code_side:
                out.append(f"{where}: in params.yaml, not a field")
            elif key not in yaml_side:
                out.append(f"{where}: a field with default {code_side[key]!r}, missing from params.yaml")
            else:
                out += differences(yaml_side[key], code_side[key], f"{where}.")
        return out
    return [] if yaml_side == code_side else [f"{path[:-1]}: params.yaml {yaml_side!r}, code {code_side!r}"]


def test_every_model_default_equals_params_yaml():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    defaults = Params(data=params["data"]).model_dump(mode="json")  # data.sources is required: it has no default
    del params["data"], defaults["data"]
    assert differences(params, defaults) == []


def test_the_check_names_a_default_changed_on_one_side():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    defaults = Params(data=params["data"]).model_dump(mode="json")
    params["train"]["max_steps"] += 1
    del params["eval"]["judge_tolerance"]
    found = differences(params, defaults)
    assert any(f.startswith("train.max_steps: params.yaml") for f in found)
    assert any(f.startswith("eval.judge_tolerance: a field") for f in found)
