"""`agentflan`: the project's command line.

Heavy libraries (torch, transformers, MLflow, Great Expectations) are imported inside the commands
that need them, so `agentflan --help` stays instant.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Agent-FLAN agent tuning: convert, inspect and validate agent data.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


class Format(str, enum.Enum):
    auto = "auto"
    agentinstruct = "agentinstruct"
    toolbench = "toolbench"
    sharegpt = "sharegpt"
    agentflan = "agentflan"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def convert(
    inputs: Annotated[list[Path], typer.Argument(help="Upstream files (JSONL or a JSON array).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL of canonical conversations.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Input format; detected per file by default.")] = Format.auto,
    react_fraction: Annotated[float, typer.Option(help="Share of agent trajectories kept in ReAct form.")] = 0.1,
    format_samples: Annotated[int, typer.Option(help="Format-following samples to add.")] = 0,
    seed: int = 0,
) -> None:
    """Convert upstream agent data into canonical chat conversations.

    Exit 0 when every record converted (or was dropped by a cleaning rule), 1 when some were
    quarantined (see OUT.quarantine.jsonl), 2 when an input is unusable.
    """
    from rich.console import Console
    from rich.table import Table

    from agentflan.config import ParamsError
    from agentflan.convert import ConvertConfig, Converter, Source
    from agentflan.jsonio import InputError, atomic_writer, write_jsonl

    quarantine_path = out.with_name(out.name.removesuffix(".jsonl") + ".quarantine.jsonl")
    try:
        config = ConvertConfig.from_params({"react_fraction": react_fraction, "format_samples": format_samples, "seed": seed})
        converter = Converter(config)
        with atomic_writer(out) as f, atomic_writer(quarantine_path) as q:
            converter.on_reject = lambda r: write_jsonl(q, [r.to_dict()])
            for conv in converter.run([Source(str(p), format.value) for p in inputs]):
                f.write(conv.to_json() + b"\n")
    except (InputError, ParamsError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{e.filename or out}: {e.strerror}") from None
    stats = converter.stats
    table = Table("", "records", title=f"convert -> {out}")
    table.add_row("read", str(stats.read))
    table.add_row("converted", str(stats.converted))
    for rule, n in sorted(stats.dropped.items()):
        table.add_row(f"dropped: {rule}", str(n))
    table.add_row("quarantined", str(stats.quarantined))
    table.add_row("format samples", str(stats.format_samples))
    table.add_row("written", str(stats.written))
    Console(stderr=True).print(table)
    if stats.quarantined:
        typer.echo(f"{stats.quarantined} record(s) quarantined: see {quarantine_path}", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Argument(help="Directory for the raw demo files.")] = Path("data/raw/demo"),
    toolbench: int = 600,
    seed: int = 0,
) -> None:
    """Write the seeded synthetic demo corpus (ToolBench, AgentInstruct, ShareGPT formats)."""
    from agentflan.demo import DemoConfig, write_demo

    counts = write_demo(out_dir, DemoConfig(seed=seed, toolbench=toolbench))
    for name, n in counts.items():
        typer.echo(f"{out_dir / name}: {n} records")


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="A JSONL file of canonical conversations.")],
    id: Annotated[str | None, typer.Option("--id", help="Conversation id; the first one by default.")] = None,
) -> None:
    """Show one conversation: roles, loss flags, parts and capability labels."""
    from rich.console import Console

    from agentflan.inspect import find_conversation, render
    from agentflan.jsonio import InputError

    try:
        conv = find_conversation(file, id)
    except InputError as e:
        raise _fail(str(e)) from None
    if conv is None:
        raise _fail(f"{file}: no conversation with id {id!r}", 1)
    Console().print(render(conv))


@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(help="JSONL: id, category, tools, expected (plain|call), expected_tool, response.")],
) -> None:
    """Judge a predictions file from any model (Agent-H metrics as JSON on stdout); exit 2 on a malformed line."""
    import json

    from agentflan.jsonio import InputError, iter_raw
    from agentflan.scoring import Prediction, PredictionError, score as score_predictions

    preds = []
    try:
        for raw in iter_raw(predictions):
            if raw.error:
                raise _fail(f"{predictions}: {raw.error}")
            try:
                preds.append(Prediction.from_dict(raw.data))
            except PredictionError as e:
                raise _fail(f"{predictions}: line {raw.index + 1}: field {e.field}: {str(e).split(': ', 1)[1]}") from None
    except InputError as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps(score_predictions(preds), indent=2))


@app.command()
def promote(
    version: Annotated[str | None, typer.Argument(help="Model version; the latest by default.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and explain, change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Promote even if the gate refuses (recorded).")] = False,
    params: Annotated[Path, typer.Option(help="params.yaml with the registry section.")] = Path("params.yaml"),
) -> None:
    """Move alias `champion` to a model version if it beats the champion on `registry.gate`."""
    import json

    from agentflan.config import ParamsError
    from agentflan.project import load_params
    from agentflan.registry import Gate, RegistryConfig, promote as promote_version

    try:
        cfg = RegistryConfig.from_params(load_params(params).get("registry"))
    except (ParamsError, OSError) as e:
        raise _fail(str(e)) from None
    from agentflan.tracking import client

    try:
        decision = promote_version(client(), cfg.model_name, Gate.from_params(cfg.gate), version, dry_run, force)
    except LookupError as e:
        raise _fail(str(e.args[0])) from None
    typer.echo(json.dumps(decision.to_dict(), indent=2))
    if not decision.promoted:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
