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


if __name__ == "__main__":
    app()
