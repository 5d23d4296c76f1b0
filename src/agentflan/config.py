"""params.yaml as typed models: the one place where configuration enters the code.

`load_params()` parses the whole file once into `Params`; every stage and command takes its typed
section from that object (`params.train.max_length`). Unknown keys, wrong types, NaN/infinite numbers
and out-of-range values are refused before any work is done, with a `ParamsError` that names the key
(`mix.reasoning: -0.5 is negative ...`). This module imports nothing else of the package: the wings
below it (data, demo, training, evaluation, pipeline) receive these models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

M = TypeVar("M", bound=BaseModel)

SOURCE_FORMATS = (
    "auto",
    "agentinstruct",
    "toolbench",
    "toolbench_tree",
    "sharegpt",
    "agentflan",
    "openai",
    "llamafactory",
    "hermes",
    "glaive",
    "xlam",
    "toolace",
)


class ParamsError(ValueError):
    """A params.yaml value that cannot work; the message names the key."""


def _fraction(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{value} is not a fraction between 0 and 1")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"{value} must not be negative")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"{value} is below 1 (must be at least 1)")
    return value


Fraction = Annotated[float, AfterValidator(_fraction)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
Count = Annotated[int, AfterValidator(_non_negative)]
Positive = Annotated[int, AfterValidator(_positive)]


class Section(BaseModel):
    """A params.yaml section: unknown keys, coercions between types, NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Paths(Section):
    """`paths`: where every stage reads and writes (relative to the repository root)."""

    demo: str = "data/raw/demo"
    demo_metrics: str = "metrics/demo.json"
    demo_details: str = "metrics/details/demo.json"  # everything; demo_metrics holds its headline
    converted: str = "data/converted/conversations.jsonl"
    quarantine: str = "data/converted/quarantine"
    convert_metrics: str = "metrics/convert.json"
    convert_details: str = "metrics/details/convert.json"
    decomposed: str = "data/decomposed/conversations.jsonl"
    decompose_metrics: str = "metrics/decompose.json"
    decompose_details: str = "metrics/details/decompose.json"
    capability_plot: str = "plots/capabilities.json"
    balanced: str = "data/balanced/conversations.jsonl"
    balance_metrics: str = "metrics/balance.json"
    balance_details: str = "metrics/details/balance.json"
    balance_plot: str = "plots/balance.json"
    train: str = "data/final/train.jsonl"
    validation: str = "data/final/validation.jsonl"
    train_agentflan: str = "data/final/agentflan/train.jsonl"
    validation_agentflan: str = "data/final/agentflan/validation.jsonl"
    train_hf: str = "data/final/hf/train.jsonl"
    validation_hf: str = "data/final/hf/validation.jsonl"
    negatives_metrics: str = "metrics/negatives.json"
    negatives_details: str = "metrics/details/negatives.json"
    model: str = "models/agentflan"
    train_metrics: str = "metrics/train.json"
    train_details: str = "metrics/details/train.json"
    train_loss_plot: str = "plots/train_loss.json"
    val_loss_plot: str = "plots/val_loss.json"
    capability_loss_plot: str = "plots/val_loss_by_capability.json"
    benchmark: str = "data/benchmark/agent_h.jsonl"
    heldout: str = "data/benchmark/heldout.json"
    benchmark_metrics: str = "metrics/benchmark.json"
    benchmark_details: str = "metrics/details/benchmark.json"
    predictions: str = "data/eval/predictions.jsonl"
    eval_metrics: str = "metrics/evaluate.json"
    eval_details: str = "metrics/details/evaluate.json"
    agent_h_plot: str = "plots/agent_h.json"
    report: str = "reports/evaluation"  # index.html and its figures

    def __getitem__(self, key: str) -> Path:
        if key not in type(self).model_fields:
            raise ParamsError(f"paths.{key}: no such path")
        return Path(getattr(self, key))


class DemoConfig(Section):
    """`demo`: the synthetic corpus in the upstream formats."""

    seed: int = 0
    toolbench: Count = 2400  # trajectories (queries); each is written as one record per step
    two_tool_fraction: Fraction = 0.25
    give_up_fraction: Fraction = 0.05
    empty_thought_fraction: Fraction = 0.05
    distractors: Count = 2  # extra tools offered beside the needed ones
    agentinstruct_os: Count = 160
    agentinstruct_db: Count = 160
    sharegpt: Count = 1600


class Source(Section):
    """A `data.sources` entry: a path (a file, or a folder of files), or `{path, format, columns?, tags?}`; `columns`
    and `tags` rename the fields and roles of a messages-like (`openai`) or ShareGPT-like (`llamafactory`) variant, as
    LLaMA-Factory's `dataset_info.json` does (`columns: {messages, system, tools}`, `tags: {role, content, user,
    assistant, system, tool | function, observation}`)."""

    path: str
    format: Literal[SOURCE_FORMATS] = "auto"  # type: ignore[valid-type]
    columns: dict[str, str] = {}
    tags: dict[str, str] = {}

    @model_validator(mode="after")
    def _mapping(self) -> Source:
        if (self.columns or self.tags) and self.format not in ("openai", "llamafactory"):
            raise ParamsError(
                f"data.sources: {self.path}: columns/tags map the fields of format openai or llamafactory, "
                f"not {self.format!r}; set its format"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value


# How a stage runs, not what it makes: the outputs are the same bytes whatever these are, so no stage lists them as a
# DVC parameter and the report does not show them (changing one re-runs nothing)
EXECUTION_ONLY = {"data": {"workers", "chunk_bytes"}}


class DataConfig(Section):
    """`data`: the inputs of `convert`."""

    sources: Annotated[list[Source], Field(min_length=1)]
    # processes the data stages spread their records over (0: every core), in chunks of about `chunk_bytes` of their
    # input; the output is the same bytes with any number and any size
    workers: Annotated[int, Field(ge=0)] = 0
    chunk_bytes: Annotated[int, Field(ge=1)] = 4_194_304


class ConvertConfig(Section):
    """`convert`: agent trajectories -> chat conversations."""

    # native: a step is one assistant message with its thought and `tool_calls`, its result a tool message (the model's
    # own tool-calling chat); elicited: the paper's form, thought, tool name and arguments as turns with eliciting
    # user turns
    call_style: Literal["native", "elicited"] = "native"
    react_fraction: Fraction = 0.1
    format_samples: Count = 200
    seed: int = 0


class Mix(Section):
    """`mix`: share of each capability's trainable data to keep (1.0 = all of it)."""

    reasoning: float = 1.0
    retrieval: float = 1.0  # the paper: 0.25, and understanding 0.75 (params.yaml says why not here)
    understanding: float = 1.0
    instruction_following: float = 1.0
    general: float = 1.0

    @model_validator(mode="after")
    def _weights(self) -> Mix:
        for capability, w in self:
            if w < 0:
                raise ParamsError(
                    f"mix.{capability}: {w} is negative; a weight is the share of that capability's data to keep (0 "
                    "to 1)"
                )
            if w > 1:
                raise ParamsError(f"mix.{capability}: {w} is above 1; 1.0 already keeps all of that capability's data")
        return self

    def weight(self, capability: str) -> float:
        return getattr(self, capability)


class BalanceConfig(Section):
    """`balance`: the seed of turn selection and the share error the validation accepts."""

    seed: int = 0
    tolerance: Annotated[float, Field(gt=0, lt=1)] = 0.02


class NegativesConfig(Section):
    """`negatives`: hallucination negatives and the train/validation split."""

    enabled: bool = True
    seed: int = 0
    no_tools: Fraction = 0.1  # share of agent conversations that yield a "tool needed, none offered" negative
    unfit_tools: Fraction = (
        0.05  # share of agent conversations that yield "tool needed, only unfit tools offered" negatives
    )
    plain_with_tools: Fraction = 0.5  # share of general conversations that get irrelevant tools offered
    # the chat given tools is a copy: the chat without tools stays beside it (false: it is replaced)
    plain_with_tools_copies: bool = False
    max_tools: Count = 3  # most irrelevant tools appended to one plain query
    val_fraction: Fraction = 0.1


class TinyConfig(Section):
    """`model.tiny`: the small Llama built when `model.base` is `tiny`."""

    vocab_size: Positive = 4096
    hidden_size: Positive = 128
    num_hidden_layers: Positive = 4
    num_attention_heads: Positive = 4
    intermediate_size: Positive = 384
    max_position_embeddings: Positive = 2048
    # byte_level: GPT-2's split (` Paris` in a query, `Paris` in `{"city": "Paris"}`: two tokens); values_apart: a
    # capitalised word or a number is split from the space before it, so a value is one token in both places
    pretokenizer: Literal["byte_level", "values_apart"] = "byte_level"

    @model_validator(mode="after")
    def _heads(self) -> TinyConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ParamsError("model.tiny.num_attention_heads: must divide model.tiny.hidden_size")
        return self


class ModelConfig(Section):
    """`model`: `tiny`, a hub id or a local path."""

    base: str = "tiny"
    revision: str = (
        ""  # a hub base's branch, tag or commit (pin a commit: DVC re-runs training when this param changes)
    )
    trust_remote_code: bool = False
    # auto: a base model's own chat template is kept (ChatML for `tiny` or a base without one); chatml: always ChatML
    chat_template: Literal["auto", "chatml"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"  # all three read packed position ids
    tiny: TinyConfig = TinyConfig()


class LoraConfig(Section):
    """`train.lora`: peft LoRA adapters, merged before saving."""

    enabled: bool = False
    r: Positive = 8
    alpha: Positive = 16
    dropout: Fraction = 0.05
    target_modules: list[str] = ["q_proj", "v_proj"]
    quantize_4bit: bool = False  # QLoRA: the frozen base in 4-bit NF4 (bitsandbytes, CUDA only: `pip install .[gpu]`)


class TrainConfig(Section):
    """`train`: the optimisation loop."""

    seed: int = 0
    max_length: Positive = 512
    batch_tokens: Positive = 2048  # tokens per optimizer micro-batch, across all processes
    grad_accum: Positive = 1
    max_steps: Positive = 1700  # optimizer steps
    lr: NonNegative = 1.5e-3
    weight_decay: NonNegative = 0.01
    warmup_steps: Count = 20
    max_grad_norm: NonNegative = 1.0
    eval_every: Positive = 300
    checkpoint_every: Positive = 750
    keep_checkpoints: Positive = 2
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on a GPU that supports it
    # a conversation longer than max_length: `repeat_context` cuts it at turn boundaries into pieces that each
    # start with its context (system turn with the tools, first user turn); `truncate` keeps the first piece only
    long_conversations: Literal["repeat_context", "truncate"] = "repeat_context"
    lora: LoraConfig = LoraConfig()

    @model_validator(mode="after")
    def _rows(self) -> TrainConfig:
        if self.batch_tokens < self.max_length:
            raise ParamsError("train.batch_tokens: must hold at least one row of train.max_length tokens")
        return self

    @property
    def batch_rows(self) -> int:
        return self.batch_tokens // self.max_length

    def precision(self) -> str:
        if self.mixed_precision != "auto":
            return self.mixed_precision
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


class BenchmarkConfig(Section):
    """`benchmark`: the Agent-H benchmark drawn from the corpus: held-out tools and queries, never trained on."""

    seed: int = 1234
    # tools the model never sees in training (the unseen-tool category): the demo's two by default
    heldout_tools: list[str] = ["search_hotels", "track_package"]
    heldout_tool_fraction: Fraction = 0.0  # plus this seeded share of the corpus's other tools
    heldout_agent_queries: Fraction = 0.1  # seeded share of agent queries that only the benchmark asks
    heldout_general_queries: Fraction = 0.3  # seeded share of general-chat queries that only the benchmark asks
    per_category: Positive = 20
    distractors: Count = 2  # tools offered beside the needed one
    # tools that serve facts a model can know without them (a dictionary, a translator, a film database): a query that
    # needs only these, asked with no tool offered, may be answered from knowledge - no fabrication to judge there
    knowledge_tools: list[str] = [
        "calculate",
        "convert_units",
        "define_word",
        "find_recipes",
        "find_restaurants",
        "get_movie_info",
        "list_public_holidays",
        "translate_text",
    ]


class EvalConfig(Section):
    """`eval`: generation, a benchmark file of your own instead of the built one, a server to score beside the model."""

    max_new_tokens: Positive = 64
    batch_size: Positive = 40
    benchmark: str = (
        ""  # empty: the `benchmark` stage builds one from the corpus; else an Agent-H JSONL under data/raw/
    )
    endpoint: str = (
        ""  # an OpenAI-compatible base URL (…/v1) scored on the same benchmark, beside the model (native protocol)
    )
    endpoint_model: str = ""  # the model name that endpoint serves
    api_key_env: str = (
        "OPENAI_API_KEY"  # the environment variable holding the endpoint's key (the key itself is never a param)
    )
    judge_tolerance: Fraction = (
        0.02  # the judges' false-positive and false-negative rates on the benchmark's references
    )

    @model_validator(mode="after")
    def _endpoint(self) -> EvalConfig:
        if self.endpoint and not self.endpoint_model:
            raise ParamsError("eval.endpoint_model: required with eval.endpoint (the model name the server serves)")
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ParamsError(f"eval.endpoint: {self.endpoint!r} is not an http(s) URL")
        parts = Path(self.benchmark).parts
        if self.benchmark and (Path(self.benchmark).is_absolute() or parts[:2] != ("data", "raw") or ".." in parts):
            raise ParamsError(
                f"eval.benchmark: {self.benchmark!r} is not under data/raw/, the folder the benchmark stage depends "
                "on: DVC would not see a change to it (copy it there, or `dvc add` it there)"
            )
        return self


class Gate(Section):
    """`registry.gate`: what a candidate must show to take the `champion` alias."""

    min_gain: NonNegative = 0.0  # better than the champion: the gain's paired bootstrap 95% interval lies above this
    max_over_refusal: Fraction = 0.5  # floors that hold with or without a champion
    min_plain_quality: Fraction = 0.1  # chrF on subject: gibberish, empty, repeated or off-subject answers score <= 0.1
    max_fabrication_rate: Fraction = 0.5  # "tool needed, none offered" answered with made-up facts
    min_tool_name_accuracy: Fraction = 0.0
    min_call_format_validity: Fraction = 0.1  # a random-init model writes no call (0.0); the default ~0.8
    bootstrap_samples: Positive = 1000
    seed: int = 0


class RegistryConfig(Section):
    """`registry`: the registered model's name and the promotion gate."""

    model_name: str = "agentflan"
    gate: Gate = Gate()


class Params(Section):
    """The whole params.yaml."""

    paths: Paths = Paths()
    demo: DemoConfig = DemoConfig()
    data: DataConfig
    convert: ConvertConfig = ConvertConfig()
    mix: Mix = Mix()
    balance: BalanceConfig = BalanceConfig()
    negatives: NegativesConfig = NegativesConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    eval: EvalConfig = EvalConfig()
    registry: RegistryConfig = RegistryConfig()


def _where(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-") and part not in ("str", "dict[str,any]"):
            out += f".{part}" if out else str(part)
    return out


def _known(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `loc` (for "unknown key" messages)."""
    for part in loc:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif isinstance(part, str) and field is None:
            break
    return sorted(model.model_fields)


def _message(model: type[BaseModel], prefix: str, error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = _where(prefix, loc)
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"{where}: unknown key (known: {', '.join(_known(model, loc[:-1]))})"
    if kind == "missing":
        return f"{where}: missing"
    if kind in ("value_error", "assertion_error"):
        cause = error.get("ctx", {}).get("error")
        text = str(cause) if cause is not None else error["msg"].removeprefix("Value error, ")
        named = not where or text.startswith(where.split("[")[0] + ".") or text.startswith(where + ":")
        return text if named else f"{where}: {text}"
    if kind == "literal_error":
        return f"{where}: {value!r} is not one of {error['ctx']['expected']}"
    return f"{where}: {error['msg'].lower().removeprefix('input should be ')} expected, got {value!r}"


def parse(model: type[M], values: Any, where: str = "") -> M:
    """Build `model` from a params mapping; raises `ParamsError` naming the first bad key."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ParamsError(f"{where or 'params'}: expected a mapping, got {values!r}")
    try:
        return model.model_validate(values)
    except ParamsError:
        raise
    except ValidationError as e:
        raise ParamsError(_message(model, where, e.errors(include_url=False)[0])) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse and check the whole params file once."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except OSError as e:
        raise ParamsError(f"{p}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ParamsError(f"{p}: not valid YAML ({e})") from None
    return parse(Params, raw)
