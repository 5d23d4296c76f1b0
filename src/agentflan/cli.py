"""`agentflan`: the project's command line.

Heavy libraries (torch, transformers, MLflow, Great Expectations) are imported inside the commands
that need them, so `agentflan --help` stays instant.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated

import typer

from agentflan.config import SOURCE_FORMATS, ConvertConfig, DataConfig, DemoConfig, Paths

CONVERT, DEMO = ConvertConfig(), DemoConfig()  # the CLI's defaults are the pipeline's (params.yaml equals these)

app = typer.Typer(
    help="Agent-FLAN agent tuning on your own data: convert and inspect it, score, serve and promote models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# the formats `convert` reads (config.SOURCE_FORMATS, the one list), as a choice for --format
Format = enum.Enum("Format", {name: name for name in SOURCE_FORMATS}, type=str)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def convert(
    inputs: Annotated[list[Path], typer.Argument(help="Upstream files (JSONL or a JSON array).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL of canonical conversations.")],
    format: Annotated[
        Format, typer.Option("--format", "-f", help="Input format; detected per file by default.")
    ] = Format["auto"],
    call_style: Annotated[
        str, typer.Option(help="native: calls as tool_calls messages; elicited: the paper's turns.")
    ] = CONVERT.call_style,
    react_fraction: Annotated[
        float, typer.Option(help="Share of agent trajectories kept in ReAct form.")
    ] = CONVERT.react_fraction,
    format_samples: Annotated[int, typer.Option(help="Format-following samples to add.")] = CONVERT.format_samples,
    seed: int = CONVERT.seed,
    workers: Annotated[
        int, typer.Option(min=0, help="Processes to convert on (0: every core); the output is the same with any.")
    ] = DataConfig.model_fields["workers"].default,
) -> None:
    """Convert upstream agent data into canonical chat conversations.

    Exit 0 when every record converted (or was dropped by a cleaning rule), 1 when some were
    quarantined (see OUT.quarantine.jsonl), 2 when an input is unusable.
    """
    from rich.console import Console
    from rich.table import Table

    from agentflan.config import ParamsError, Source, parse
    from agentflan.data.convert import Converter
    from agentflan.data.jsonio import InputError, atomic_writer, write_jsonl
    from agentflan.data.parallel import Workers, available_workers

    quarantine_path = out.with_name(out.name.removesuffix(".jsonl") + ".quarantine.jsonl")
    try:
        config = parse(
            ConvertConfig,
            {
                "call_style": call_style,
                "react_fraction": react_fraction,
                "format_samples": format_samples,
                "seed": seed,
            },
            "convert",
        )
        converter = Converter(config)
        sources = [Source(path=str(p), format=format.value) for p in inputs]
        with atomic_writer(out) as f, atomic_writer(quarantine_path) as q, Workers(available_workers(workers)) as pool:
            converter.on_reject = lambda r: write_jsonl(q, [r.to_dict()])
            for lines, _ in converter.written(sources, pool):
                f.write(lines)
    except (InputError, ParamsError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{e.filename or out}: {e.strerror}") from None
    stats = converter.stats
    if not stats.quarantined:
        quarantine_path.unlink(missing_ok=True)  # nothing quarantined: no empty file left to wonder about
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
    out_dir: Annotated[Path, typer.Argument(help="Directory for the raw demo files.")] = Path("demo_corpus"),
    toolbench: int = DEMO.toolbench,
    agentinstruct_os: int = DEMO.agentinstruct_os,
    agentinstruct_db: int = DEMO.agentinstruct_db,
    sharegpt: int = DEMO.sharegpt,
    seed: int = DEMO.seed,
) -> None:
    """Write the seeded synthetic demo corpus (ToolBench, AgentInstruct, ShareGPT formats); the same files as the
    `demo` stage with the same options. Exit 2 for the stage's own folder, which DVC owns."""
    from agentflan.demo.corpus import write_demo

    stage_out = Path(Paths().demo).resolve()
    if out_dir.resolve() == stage_out:
        raise _fail(
            f"{out_dir}: the `demo` stage's output, tracked by DVC: run `dvc repro demo`, or pass another folder"
        )
    config = DemoConfig(
        seed=seed,
        toolbench=toolbench,
        agentinstruct_os=agentinstruct_os,
        agentinstruct_db=agentinstruct_db,
        sharegpt=sharegpt,
    )
    counts = write_demo(out_dir, config)
    for name, n in counts.items():
        typer.echo(f"{out_dir / name}: {n} records")


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="A JSONL file of canonical conversations.")],
    id: Annotated[str | None, typer.Option("--id", help="Conversation id; the first one by default.")] = None,
) -> None:
    """Show one conversation: roles, loss flags, parts and capability labels."""
    from rich.console import Console

    from agentflan.data.jsonio import InputError, read_conversations

    try:
        conv = next((c for c in read_conversations(file) if id is None or c.id == id), None)
    except InputError as e:
        import msgspec

        from agentflan.data.schema import Conversation

        hint = ""
        # a record without a required field of the schema (msgspec names the first in its order): an upstream file
        required = "|".join(f.name for f in msgspec.structs.fields(Conversation) if f.required)
        if re.search(rf": field ({required}): missing$", str(e)):
            hint = f"\n`inspect` reads converted conversations: run `agentflan convert {file} -o converted.jsonl` first"
        raise _fail(f"{e}{hint}") from None
    if conv is None:
        raise _fail(f"{file}: no conversation with id {id!r}", 1)
    Console().print(_conversation_view(conv))


ROLE_STYLE = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}


def _conversation_view(conv):
    """One conversation as rich panels: what the model sees, and what it learns."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    items = [Text.assemble((conv.id, "bold"), f"  source={conv.source} kind={conv.kind} style={conv.style}")]
    if conv.tools:
        items.append(Text("tools: " + ", ".join(t.name for t in conv.tools), style="dim"))
    for turn in conv.turns:
        labels = [turn.role]
        if turn.role == "assistant":
            labels.append("LEARN" if turn.loss else "no loss")
            labels += [x for x in (turn.part, turn.capability) if x]
        if turn.call:
            labels.append(f"call={turn.call.name}")
        if turn.name:
            labels.append(f"result of {turn.name}")
        body = Text(turn.content)
        for call, loss in zip(turn.tool_calls, turn.call_loss):  # native calls: each piece learned or not
            flags = ", ".join(f"{k} {'LEARN' if v else 'no loss'}" for k, v in loss.items())
            body.append(f"\ntool call [{flags}]: {call.name}({call.arguments_json()})", style="bold")
        border = ROLE_STYLE.get(turn.role, "white") if (turn.trainable or turn.role != "assistant") else "dim"
        items.append(Panel(body, title=" | ".join(labels), title_align="left", border_style=border))
    return Group(*items)


@app.command()
def score(
    predictions: Annotated[
        Path, typer.Argument(help="JSONL: id, category, tools, expected (plain|call), expected_tool, response.")
    ],
) -> None:
    """Judge a predictions file from any model (Agent-H metrics as JSON on stdout); exit 2 on a malformed line."""
    import json

    from agentflan.data.jsonio import InputError, read_records
    from agentflan.evaluation.scoring import Prediction
    from agentflan.evaluation.scoring import score as score_predictions

    try:
        preds = list(read_records(predictions, Prediction.from_dict))
    except InputError as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps(score_predictions(preds), indent=2))


@app.command()
def evaluate(
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="An OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    ],
    model: Annotated[str, typer.Option("--model", help="The model name the server serves.")],
    benchmark: Annotated[Path, typer.Option(help="The benchmark (JSONL in our schema).")] = Path(
        "data/benchmark/agent_h.jsonl"
    ),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the predictions, with verdicts, here.")] = None,
    max_new_tokens: int = 64,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key (never pass the key).")
    ] = "OPENAI_API_KEY",
    concurrency: Annotated[
        int, typer.Option(help="Requests in flight (1 for `transformers serve`; more for vLLM, TGI, APIs).")
    ] = 1,
) -> None:
    """Score any OpenAI-compatible server on the benchmark in the native protocol (the user's message and the tools,
    greedy), with the scorer the pipeline uses: metrics as JSON on stdout. Exit 2 when the server or the benchmark
    cannot be used."""
    import json

    from agentflan.data.jsonio import InputError, atomic_writer, read_records, write_jsonl
    from agentflan.evaluation.benchmark import Sample
    from agentflan.evaluation.endpoint import EndpointError, run_endpoint
    from agentflan.evaluation.generation import predictions
    from agentflan.evaluation.scoring import judge
    from agentflan.evaluation.scoring import score as score_predictions

    try:
        samples = list(read_records(benchmark, Sample.from_dict))
        preds = predictions(
            samples, run_endpoint(samples, endpoint, model, max_new_tokens, api_key_env, concurrency), "native"
        )
    except (InputError, EndpointError) as e:
        raise _fail(str(e)) from None
    if out is not None:
        with atomic_writer(out) as f:
            write_jsonl(f, ({**p.to_dict(), "verdict": judge(p)} for p in preds))
    typer.echo(json.dumps({"endpoint": endpoint, "model": model, **score_predictions(preds)}, indent=2))


@app.command()
def serve(
    version: Annotated[str, typer.Option(help="A registered version number, or an alias of it.")] = "champion",
    name: Annotated[str, typer.Option(help="The registered model name.")] = "agentflan",
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
) -> None:
    """Serve a registered version with `transformers serve` (OpenAI-compatible /v1/chat/completions, native tool_calls).

    The version's weights and tokenizer (its chat template and response template) are fetched from MLflow into a local
    folder named after the model, which `transformers serve` then serves under that name (clients send `model=NAME`);
    it runs until stopped.
    """
    import os
    import shutil

    from agentflan.pipeline.serving import registered_folder

    try:
        folder = registered_folder(name, version).resolve()
    except LookupError as e:
        raise _fail(str(e)) from None
    server = shutil.which("transformers")
    if server is None:
        raise _fail("`transformers` is not on PATH (it comes with this package's install: pip install -e .)")
    typer.echo(f"serving {name} {version} ({folder}) as model {name!r} on http://{host}:{port}/v1", err=True)
    os.chdir(folder.parent)  # the server names the model by the path it is given: the folder's own name
    os.execv(server, [server, "serve", folder.name, "--host", host, "--port", str(port), "--device", device])


benchmark_app = typer.Typer(help="Benchmarks: bring third-party ones into our schema.", no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")


class BenchmarkFormat(enum.StrEnum):
    bfcl = "bfcl"
    agent_h = "agent-h"


@benchmark_app.command("import")
def benchmark_import(
    inputs: Annotated[list[Path], typer.Argument(help="Benchmark files (JSON lines), e.g. BFCL_v3_simple.json.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL in our benchmark schema.")],
    format: Annotated[
        BenchmarkFormat, typer.Option("--format", "-f", help="bfcl, or agent-h (our schema, validated).")
    ],
    answers: Annotated[
        list[Path] | None, typer.Option("--answers", help="BFCL possible-answer file(s) for call tests.")
    ] = None,
) -> None:
    """Import a third-party benchmark: BFCL's irrelevance, simple, multiple and parallel tests, or an Agent-H file.

    Exit 0 when every line was imported, 1 when some were rejected (see OUT.rejected.jsonl), 2 when an
    input is unusable.
    """
    from agentflan.data.jsonio import InputError, atomic_writer, write_jsonl
    from agentflan.evaluation.benchmark_import import import_files, read_answers

    rejected_path = out.with_name(out.name.removesuffix(".jsonl") + ".rejected.jsonl")
    rejected: list = []
    try:
        known = read_answers([str(a) for a in answers or []])
        with atomic_writer(out) as f:
            n = write_jsonl(
                f,
                (
                    s.to_dict()
                    for s in import_files([str(p) for p in inputs], format.value.replace("-", "_"), known, rejected)
                ),
            )
        with atomic_writer(rejected_path) as f:
            write_jsonl(f, (r.to_dict() for r in rejected))
    except InputError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{e.filename or out}: {e.strerror}") from None
    typer.echo(f"{out}: {n} samples imported, {len(rejected)} rejected", err=True)
    for r in rejected[:5]:
        typer.echo(f"  {r.file}:{r.line} ({r.id or 'no id'}): {r.field}: {r.reason}", err=True)
    if rejected:
        typer.echo(f"all rejected lines with reasons: {rejected_path}", err=True)
        raise typer.Exit(1)


@app.command("suggest-mix")
def suggest_mix(
    source: Annotated[
        str, typer.Argument(help="metrics/details/train.json of a finished run, or an MLflow train run id.")
    ] = "metrics/details/train.json",
) -> None:
    """Propose `mix.*` from a run's per-capability validation curves: the fastest learned get the smallest share."""
    import json

    from rich.console import Console
    from rich.table import Table

    from agentflan.training.curves import learning_speed
    from agentflan.training.curves import suggest_mix as propose

    path = Path(source)
    if path.is_dir():
        raise _fail(f"{path}: is a directory, not a metrics file")
    if path.is_file():
        try:
            speed = json.loads(path.read_text()).get("learning_speed") or {}
        except (ValueError, AttributeError):
            raise _fail(f"{path}: not a JSON metrics object") from None
        if not speed:
            raise _fail(f"{path}: has no learning_speed (a train run of this version writes it)")
    elif "/" in source or source.endswith(".json"):
        raise _fail(f"{path}: no such file")
    else:
        speed = learning_speed(_capability_history(source))
        if not speed:
            raise _fail(f"MLflow run {source}: no val_loss.<capability> metrics")
    weights = propose(speed)
    table = Table(
        "capability",
        "start",
        "final",
        "steps to 90%",
        "relative area",
        "suggested mix",
        title="learning speed per capability",
    )
    for capability, s in sorted(speed.items(), key=lambda kv: kv[1]["relative_area"]):
        table.add_row(
            capability,
            f"{s['start']:.3f}",
            f"{s['final']:.3f}",
            str(s["steps_to_90pct"]),
            f"{s['relative_area']:.3f}",
            f"{weights[capability]:.2f}",
        )
    Console().print(table)
    typer.echo(
        "rule: weight = relative area / the slowest capability's (fastest learned -> smallest share), at least 0.05"
    )
    typer.echo("dvc exp run " + " ".join(f"-S mix.{c}={w}" for c, w in weights.items()))


def _capability_history(run_id: str) -> list[dict]:
    """A train run's per-capability validation curves, from MLflow."""
    from agentflan.data.schema import CAPABILITIES
    from agentflan.pipeline.tracking import client

    rows: dict[int, dict] = {}
    mlflow_client = client()
    try:
        mlflow_client.get_run(run_id)
    except Exception:  # noqa: BLE001 - MLflow raises its own error for an unknown id; name it in one line
        raise _fail(
            f"no MLflow run {run_id!r} in {mlflow_client.tracking_uri} (pass a metrics/details/train.json, or a run id)"
        ) from None
    for capability in CAPABILITIES:
        try:
            history = mlflow_client.get_metric_history(run_id, f"val_loss.{capability}")
        except Exception as e:  # noqa: BLE001 - an unknown run id: say so in one line
            raise _fail(f"MLflow run {run_id}: {str(e).splitlines()[0]}") from None
        for m in history:
            rows.setdefault(m.step, {"step": m.step})[capability] = m.value
    return [rows[k] for k in sorted(rows)]


@app.command()
def promote(
    version: Annotated[str | None, typer.Argument(help="Model version; the latest by default.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and explain, change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Promote even if the gate refuses (recorded).")] = False,
    params: Annotated[Path, typer.Option(help="params.yaml with the registry section.")] = Path("params.yaml"),
) -> None:
    """Move alias `champion` to a model version if it beats the champion on `registry.gate`."""
    import json

    from agentflan.config import ParamsError, load_params
    from agentflan.pipeline.registry import promote as promote_version

    try:
        cfg = load_params(params).registry
    except ParamsError as e:
        raise _fail(str(e)) from None
    from agentflan.pipeline.tracking import client

    try:
        decision = promote_version(client(), cfg.model_name, cfg.gate, version, dry_run, force)
    except LookupError as e:
        raise _fail(str(e.args[0])) from None
    typer.echo(json.dumps(decision.to_dict(), indent=2))
    if (
        not decision.promoted and decision.candidate != decision.champion
    ):  # already the champion: nothing to do, no error
        raise typer.Exit(1)


@app.command()
def results(
    experiments: Annotated[
        list[str] | None, typer.Argument(help="DVC experiment names (`dvc exp show`); none: the workspace alone.")
    ] = None,
    all_experiments: Annotated[bool, typer.Option("--all", help="Every experiment of the baseline.")] = False,
    rev: Annotated[
        str | None, typer.Option("--rev", help="The experiments' baseline commit (`dvc exp show --rev`); default HEAD.")
    ] = None,
) -> None:
    """The headline of the workspace's run and of DVC experiments, side by side."""
    from rich.console import Console
    from rich.table import Table

    from agentflan.pipeline.experiments import shown
    from agentflan.pipeline.headline import HEADLINE, headline, workspace

    columns = {"workspace": headline(workspace())}
    if experiments or all_experiments:
        found = shown(rev)
        missing = [e for e in experiments or [] if e not in found]
        if missing:
            known = ", ".join(sorted(found)) or "none"
            hint = "" if rev else "; experiments of an earlier commit: --rev COMMIT"
            raise _fail(f"no experiment {missing[0]!r} of {rev or 'HEAD'} in `dvc exp show` (known: {known}){hint}")
        for name in experiments or sorted(found):
            columns[name] = headline(found[name]["metrics"])
    if not any(v is not None for col in columns.values() for v in col.values()):
        raise _fail("no metrics yet: run `dvc repro` (or `dvc exp run`) first")
    table = Table("metric", *columns, title="headline (metrics/evaluate.json, metrics/train.json)")
    for _, _, label in HEADLINE:
        cells = [columns[c][label] for c in columns]
        table.add_row(label, *("—" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in cells))
    Console().print(table)


experiments_app = typer.Typer(
    help="The paper's three claims as DVC experiments: (a) chat-aligned vs ReAct data, (b) the capability mix, "
    "(c) hallucination negatives; each variant over several seeds.",
    no_args_is_help=True,
)
app.add_typer(experiments_app, name="experiments")
Claims = Annotated[list[str], typer.Option("--claim", "-c", help="a, b or c (repeat it); all three by default.")]
Seeds = Annotated[list[int], typer.Option("--seed", "-s", help="A `train.seed` (repeat it); 0, 1 and 2 by default.")]


def _claims(claims: list[str] | None) -> list[str]:
    from agentflan.pipeline.experiments import CLAIMS

    keys = [c.key for c in CLAIMS]
    unknown = [c for c in claims or [] if c not in keys]
    if unknown:
        raise _fail(f"unknown claim {unknown[0]!r}: choose from {', '.join(keys)}")
    return claims or keys


@experiments_app.command("run")
def experiments_run(
    claim: Claims = None,
    seed: Seeds = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the `dvc exp run` commands, run nothing.")] = False,
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Queue them (`dvc queue start -j N` runs them; again once default-s0 is done)."),
    ] = False,
) -> None:
    """Run each variant x seed missing from `dvc exp show`, one `dvc exp run --temp -n <variant>-s<seed>` each."""
    from agentflan.pipeline.experiments import run

    count = run(_claims(claim), seed or [0, 1, 2], echo=typer.echo, dry_run=dry_run, queue=queue)
    if not dry_run:
        done = "queued: `dvc queue start -j N`, then" if queue else "run;"
        typer.echo(f"{count} experiment(s) {done} `agentflan experiments table` reads them back")


@experiments_app.command("table")
def experiments_table(
    claim: Claims = None,
    seed: Seeds = None,
    rev: Annotated[
        str | None, typer.Option(help="The baseline commit the experiments were run on (default: HEAD).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where ablations.json and ablations.md go.")] = Path("results"),
    runs: Annotated[
        Path | None,
        typer.Option(
            help="Judge the runs archived in this file (an earlier table's ablations-runs.jsonl.gz) instead of the "
            "experiments `dvc exp show` lists.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Read the runs back (`dvc exp show --json`, their predictions by `dvc.api`): mean ± sd over seeds and the
    paired bootstrap interval of each difference from the default, to ablations.json and ablations.md (merged:
    claims not read this time keep their rows), every answer judged by this commit's judges. Each run's answers are
    archived beside them (ablations-runs.jsonl.gz), so that `--runs` judges them again once the experiments are
    gone."""
    import json

    from agentflan.pipeline.experiments import collect, markdown, merge, read_runs, table, write_runs

    claims, seeds = _claims(claim), seed or [0, 1, 2]
    found = read_runs(runs, claims, seeds) if runs else collect(claims, seeds, rev)
    if not found:
        where = f"in {runs}" if runs else "in `dvc exp show` (run `agentflan experiments run` first)"
        raise _fail(f"no experiment of these claims found {where}")
    summary = table(found, claims, seeds)
    out.mkdir(parents=True, exist_ok=True)
    if not runs:
        write_runs(out / "ablations-runs.jsonl.gz", found)
    if (out / "ablations.json").is_file():  # the other claims' rows stay, each with the baseline it was run on
        summary = merge(json.loads((out / "ablations.json").read_text()), summary)
    (out / "ablations.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(summary)
    (out / "ablations.md").write_text(text + "\n")
    typer.echo(text)


if __name__ == "__main__":
    app()
