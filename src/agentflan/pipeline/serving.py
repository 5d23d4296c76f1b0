"""A registered version as a folder `transformers serve` (or vLLM) serves: its weights and generation config with its
tokenizer beside them (chat template and response template), fetched from the MLflow registry once and kept.

The folder is named after the registered model (`.agentflan/served/v3/agentflan/`), so a server started in its parent
serves it under that name: clients ask for `model="agentflan"`, as they would of any hosted model."""

from __future__ import annotations

import shutil
from pathlib import Path

SERVED = Path(".agentflan/served")  # under the working directory, git-ignored


def model_uri(name: str, version: str) -> str:
    """`models:/NAME/3` for a version number, `models:/NAME@alias` for an alias."""
    return f"models:/{name}/{version}" if version.isdigit() else f"models:/{name}@{version}"


def registered_folder(name: str, version: str, root: Path = SERVED) -> Path:
    """The local folder holding the version's model and tokenizer (the transformers flavor keeps them apart)."""
    import mlflow

    from agentflan.pipeline.tracking import client

    registry = client()
    try:
        found = (
            registry.get_model_version(name, version)
            if version.isdigit()
            else registry.get_model_version_by_alias(name, version)
        )
    except mlflow.exceptions.MlflowException:
        raise LookupError(
            f"no version {version!r} of registered model {name!r} (see `agentflan promote --help`)"
        ) from None
    number = str(found.version)
    folder = root / f"v{number}" / name
    if (folder / "config.json").exists():
        return folder
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri(name, number), dst_path=str(staging / "mlflow"), tracking_uri=registry.tracking_uri
        )
    )
    shutil.copytree(local / "model", staging / "model")
    for f in (local / "components" / "tokenizer").iterdir():
        shutil.copy2(f, staging / "model" / f.name)
    shutil.rmtree(folder, ignore_errors=True)
    (staging / "model").rename(folder)
    shutil.rmtree(staging, ignore_errors=True)
    return folder
