"""DVC stage `evaluate`: generation on the benchmark, hallucination and call metrics, the report, registration."""

import os
import time

import orjson
import pandas as pd

from agentflan.config import EXECUTION_ONLY, ParamsError
from agentflan.data.jsonio import atomic_dir, atomic_writer, read_json, read_records, write_jsonl
from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.calibration import calibrate, check
from agentflan.evaluation.endpoint import EndpointError, run_endpoint
from agentflan.evaluation.generation import load, predictions, protocols_for, run_protocol
from agentflan.evaluation.scoring import answer_rows, category_intervals, judge, score
from agentflan.pipeline import model_card, report
from agentflan.pipeline.headline import EVALUATION as HEADLINE
from agentflan.pipeline.logged_model import publish_card
from agentflan.pipeline.project import file_md5, file_sha256, git_commit
from agentflan.pipeline.registry import BENCHMARK_TAG, register
from agentflan.pipeline.stage import stage
from agentflan.pipeline.tracking import client, find_run_by_tag, flatten

with stage("evaluate", ("eval", "registry")) as s:  # the report shows every params section: dvc.yaml lists them all
    cfg = s.params.eval
    samples = list(read_records(s.path("benchmark"), Sample.from_dict))  # validated by the benchmark stage
    md5 = {k: file_md5(s.path(k)) for k in ("train", "validation", "benchmark")}  # the report and the registry tag them
    benchmark_md5, commit = md5["benchmark"], git_commit()
    model, tokenizer = load(s.path("model"))
    calibration = calibrate(samples, protocols_for(tokenizer))  # the judges on the references, before any generation
    check(calibration, cfg.judge_tolerance)
    preds = [
        p
        for protocol in protocols_for(tokenizer)  # native first: the tools through the template, calls parsed back
        for p in predictions(
            samples, run_protocol(model, tokenizer, samples, protocol, cfg.max_new_tokens, cfg.batch_size), protocol
        )
    ]
    verdicts = [judge(p) for p in preds]  # once: the metrics, the predictions file, the answers table, the report
    metrics = {**score(preds, verdicts), "judge_calibration": calibration, "benchmark_md5": benchmark_md5}
    if cfg.endpoint:  # a server scored beside the model, on the same benchmark, by the same scorer (native protocol)
        try:
            answers = run_endpoint(samples, cfg.endpoint, cfg.endpoint_model, cfg.max_new_tokens, cfg.api_key_env)
        except EndpointError as e:
            raise ParamsError(f"eval.endpoint: {e}") from None
        served = predictions(samples, answers, "native")
        metrics["comparison"] = {
            "this model": {k: metrics[k] for k in HEADLINE},
            cfg.endpoint_model: {k: v for k, v in score(served).items() if k in HEADLINE},
        }
        s.run.mlflow.log_text(
            "".join(orjson.dumps({**p.to_dict(), "verdict": judge(p)}).decode() + "\n" for p in served),
            "endpoint_predictions.jsonl",
        )
    with atomic_writer(s.path("predictions")) as f:
        write_jsonl(f, ({**p.to_dict(), "verdict": v} for p, v in zip(preds, verdicts)))
    answers = answer_rows(preds, verdicts)
    intervals = category_intervals(preds, verdicts)
    s.run.mlflow.log_table(pd.DataFrame(answers), "answers.json")  # every answer beside its verdicts, in the UI
    s.write_plot(
        "agent_h_plot",
        [  # one bar per category, by its figure (HScore, tool-name accuracy or multi-step accuracy)
            {"category": c, "metric": m["metric"], "value": m["value"]} for c, m in intervals.items()
        ],
    )
    s.write_metrics("eval_metrics", metrics)
    s.run.log_artifact(s.path("predictions"))

    train = read_json(s.path("train_metrics"))
    final = read_json(s.path("negatives_details"))["train"]["tokens"]
    weights = file_sha256(s.path("model") / "model.safetensors")
    hashes = [(f"{x['path']} ({x['format']}) md5", x["md5"]) for x in read_json(s.path("convert_details"))["sources"]]
    hashes += [(f"{s.path(k)} md5", digest) for k, digest in md5.items()]
    hashes += [("model.safetensors sha256", weights), ("git commit", commit)]
    headline = [("protocol", metrics["protocol"]), *((k, metrics[k]) for k in (*HEADLINE, "samples"))]
    headline += [("val_loss (unigram baseline)", f"{train['val_loss']} ({train['unigram_val_loss']})")]
    with atomic_dir(s.path("report")) as tmp:
        report.write(
            tmp,
            intervals=intervals,
            train_history=read_json(s.path("train_loss_plot")),
            capability_tokens={
                "decomposed": {r["capability"]: r["tokens"] for r in read_json(s.path("capability_plot"))},
                "balanced": {r["capability"]: r["tokens_after"] for r in read_json(s.path("balance_plot"))},
                "final (with negatives)": final,
            },
            val_history=read_json(s.path("val_loss_plot")),
            capability_history=read_json(s.path("capability_loss_plot")),
            unigram=train["unigram_val_loss"],
            headline=headline,
            hashes=hashes,
            params=sorted(flatten(s.params.model_dump(mode="json", exclude={"paths": True, **EXECUTION_ONLY})).items()),
            answers=[r for r in answers if r["protocol"] == metrics["protocol"]],
        )
    s.run.mlflow.log_artifacts(str(s.path("report")), "report")  # the MLflow UI shows the figures beside the metrics

    registry = s.params.registry
    train_run = find_run_by_tag("data.model.sha256", weights)
    if train_run is None:
        raise SystemExit("evaluate: no MLflow train run logged these weights; run `dvc repro -f train`")
    gated = {
        k: metrics[k]
        for k in (
            "hscore",
            "h_react",
            "h_general",
            "fabrication_rate",
            "plain_quality",
            "tool_name_accuracy",
            "tool_name_accuracy_seen",
            "tool_name_accuracy_unseen",
            "call_format_validity",
            "hallucinated_tool_rate",
            "argument_validity",
            "argument_accuracy",
            "over_refusal_rate",
        )
    }
    model_id = train_run.data.tags["model_id"]  # the transformers-flavor model the train run logged
    version = register(
        client(),
        registry.model_name,
        train_run.data.tags["model_uri"],
        train_run.info.run_id,
        {
            **gated,
            "git_commit": commit,
            "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
            "data.train.md5": md5["train"],
            "data.validation.md5": md5["validation"],
            "weights.sha256": weights,
            "evaluate_run_id": s.run.run_id,
            BENCHMARK_TAG: benchmark_md5,
        },
        model_id=model_id,
    )
    s.run.mlflow.set_tag("registered_version", version)
    card = model_card.with_evaluation((s.path("model") / "README.md").read_text(), metrics)
    publish_card(
        client(),
        model_id,
        model_card.add_history(
            card,
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: registered as {registry.model_name} v{version}",
        ),
    )
    print(orjson.dumps({"registered": f"{registry.model_name} v{version}", **gated}).decode())
