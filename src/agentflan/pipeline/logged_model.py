"""The model as MLflow logs it: a `transformers` flavor model with MLflow's chat task (`llm/v1/chat`: OpenAI-style
`messages` in, a chat completion out, the model's own chat template applied), explicit pip requirements and the
model card as the flavor's `model_card.md`, so `mlflow.transformers.load_model` loads a registered version and
`mlflow models serve -m models:/<name>@champion` answers a messages request the way the model was trained; and
its card.
"""

from __future__ import annotations

import tempfile

CARD = "model_card.md"


def log_model(model_dir, card: str):
    """Log a saved model folder (weights, tokenizer with its chat template, generation config) as a
    `transformers` flavor model of the active run; returns its `ModelInfo`. Loaded from the folder, so it holds
    the weights DVC tracks; they are stored once in MLflow, in the flavor."""
    from pathlib import Path

    import accelerate
    import mlflow
    import mlflow.transformers
    import torch
    import transformers
    from huggingface_hub import ModelCard

    model_dir = Path(model_dir).resolve()  # an absolute path is no hub repo id: nothing is looked up online
    components = {
        "model": transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto"),
        "tokenizer": transformers.AutoTokenizer.from_pretrained(model_dir),
    }
    # MLflow records the model's `name_or_path` as its source: the folder's name, not this machine's path to it
    for part in (components["model"], components["model"].config, components["tokenizer"]):
        part.name_or_path = model_dir.name
    requirements = [
        f"mlflow=={mlflow.__version__}",
        f"transformers=={transformers.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"accelerate=={accelerate.__version__}",
    ]
    from huggingface_hub import constants

    # MLflow looks the source name up on the hub for a license file; a local model has none: stay offline
    online, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, True
    try:
        return mlflow.transformers.log_model(  # the chat task brings its own signature (messages, max_tokens, ...)
            transformers_model=components,
            name="model",
            task="llm/v1/chat",
            pip_requirements=requirements,
            model_card=ModelCard(card),
            model_config={"max_new_tokens": 64, "do_sample": False},
        )
    finally:
        constants.HF_HUB_OFFLINE = online


def publish_card(client, model_id: str, card: str) -> None:
    """Replace the logged model's card (`model_card.md`, and its front matter in `model_card_data.yaml`)."""
    import yaml
    from huggingface_hub import ModelCard

    with tempfile.TemporaryDirectory() as tmp:
        with open(f"{tmp}/{CARD}", "w") as f:
            f.write(card)
        with open(f"{tmp}/model_card_data.yaml", "w") as f:
            yaml.safe_dump(ModelCard(card).data.to_dict(), f, sort_keys=False)
        client.log_model_artifacts(model_id, tmp)


def logged_model_id(version) -> str | None:
    """The logged model a version was registered from (some stores keep it only in the source, `models:/<id>`)."""
    if getattr(version, "model_id", None):
        return version.model_id
    source = version.source or ""
    rest = source.removeprefix("models:/")
    return rest if source.startswith("models:/m-") and "/" not in rest and "@" not in rest else None


def read_card(client, version) -> str:
    """The card of the version's logged model ("" when it has none)."""
    import mlflow

    model_id = logged_model_id(version)
    if model_id is None:
        return ""
    location = client.get_logged_model(model_id).artifact_location
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{location}/{CARD}", dst_path=tmp, tracking_uri=client.tracking_uri
            )
        except Exception:  # noqa: BLE001 - no card yet
            return ""
        with open(path) as f:
            return f.read()
