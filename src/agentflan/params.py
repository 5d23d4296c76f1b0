"""Check every params.yaml section up front, so a bad value is refused before any stage does work."""

from __future__ import annotations

from typing import Any

from agentflan.agent_h import AgentHConfig
from agentflan.balance import BalanceConfig, Mix
from agentflan.config import ParamsError
from agentflan.convert import ConvertConfig, Source
from agentflan.demo import DemoConfig
from agentflan.evaluate import EvalConfig
from agentflan.model import ModelConfig
from agentflan.negatives import NegativesConfig
from agentflan.registry import RegistryConfig
from agentflan.train import TrainConfig


def check_params(params: dict[str, Any]) -> None:
    """Build every config from its section; raises `ParamsError` naming the first bad key."""
    DemoConfig.from_params(params.get("demo"))
    sources = (params.get("data") or {}).get("sources")
    if not isinstance(sources, list) or not sources:
        raise ParamsError("data.sources: expected a non-empty list of input files")
    for i, src in enumerate(sources):
        Source.from_param(src, f"data.sources[{i}]")
    ConvertConfig.from_params(params.get("convert"))
    Mix.from_params(params.get("mix"))
    BalanceConfig.from_params(params.get("balance"))
    NegativesConfig.from_params(params.get("negatives"))
    ModelConfig.from_params(params.get("model"))
    TrainConfig.from_params(params.get("train"))
    RegistryConfig.from_params(params.get("registry"))
    eval_cfg = EvalConfig.from_params(params.get("eval"))
    AgentHConfig.from_params(eval_cfg.agent_h)
