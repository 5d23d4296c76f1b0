"""The judges calibrated on the benchmark's own references, every run: a reference plain answer must be judged plain
(no call, no ReAct), a reference call, written the way each protocol writes one, must parse as the right call, and a
multi-step sample's reference answer must be read as answered from the results.

False positives and false negatives go to `metrics/evaluate.json` (`judge_calibration`); the stage fails when either
exceeds `eval.judge_tolerance`, since a judge that misreads the references misreads the model too.
"""

from __future__ import annotations

import json
from typing import Any

from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.generation import predictions
from agentflan.evaluation.scoring import PROTOCOLS, judge


class CalibrationError(RuntimeError):
    pass


def reference_answer(s: Sample, protocol: str) -> dict[str, Any] | list[str] | None:
    """The reference as `run_protocol` would return the model's answer in `protocol` (None: the sample has none)."""
    if s.expected == "plain":
        if s.reference is None:
            return None
        return (
            {"response": s.reference, "content": s.reference, "tool_calls": [], "parse_error": None}
            if protocol == "native"
            else [s.reference]
        )
    if s.expected_calls is not None:
        calls = [{"name": c["name"], "arguments": first_values(c["arguments"])} for c in s.expected_calls]
        if protocol == "chat":
            return None  # the harness asks for one call: a reference of several has no chat form
    else:
        calls = [{"name": s.expected_tool, "arguments": first_values(s.expected_arguments or {})}]
    if protocol == "native":
        return {"response": "", "content": "", "tool_calls": calls, "parse_error": None}
    if protocol == "chat":
        return [calls[0]["name"], json.dumps(calls[0]["arguments"], ensure_ascii=False)]
    if protocol == "react":
        steps = [f"Action: {c['name']}\nAction Input: {json.dumps(c['arguments'], ensure_ascii=False)}" for c in calls]
        return ["\n".join(steps)]
    return [json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)]


def first_values(acceptable: dict[str, list[Any]]) -> dict[str, Any]:
    """The arguments a reference call gives: each one's first acceptable value, optional ones ("" first) left out."""
    return {k: v[0] for k, v in acceptable.items() if v and v[0] != ""}


def calibrate(samples: list[Sample], protocols: tuple[str, ...] = PROTOCOLS) -> dict[str, Any]:
    """False-positive rate (reference plain answers judged a call, ReAct or, after tool results, made up) and
    false-negative rate (reference calls not read as the expected call with the expected arguments, multi-step
    reference answers not read as answered from the results), over every protocol, with the first misjudged ids."""
    false_pos, false_neg, plain, calls, answers = [], [], 0, 0, 0
    for protocol in protocols:
        referenced = [(s, a) for s in samples if (a := reference_answer(s, protocol)) is not None]
        for p in predictions([s for s, _ in referenced], [a for _, a in referenced], protocol):
            v = judge(p)
            if p.expected == "plain":
                plain += 1
                if v["react"] or v["general"] or v.get("fabricated"):  # a reference states only what it was given
                    false_pos.append(f"{protocol}:{p.id}")
                elif "next_turn_right" in v:
                    answers += 1
                    if not v["next_turn_right"]:
                        false_neg.append(f"{protocol}:{p.id}")
            else:
                calls += 1
                if not (v["tool_correct"] and v["format_valid"] and v.get("args_correct", True)):
                    false_neg.append(f"{protocol}:{p.id}")
    return {
        "plain_references": plain,
        "false_positive_rate": round(len(false_pos) / plain, 4) if plain else 0.0,
        "call_references": calls,
        "answer_references": answers,
        "false_negative_rate": round(len(false_neg) / (calls + answers), 4) if calls + answers else 0.0,
        "misjudged": (false_pos + false_neg)[:10],
    }


def check(calibration: dict[str, Any], tolerance: float) -> None:
    """Fail loudly when the judges misread the references beyond `tolerance`."""
    worst = max(calibration["false_positive_rate"], calibration["false_negative_rate"])
    if worst > tolerance:
        raise CalibrationError(
            f"judge calibration: false-positive rate {calibration['false_positive_rate']}, false-negative rate "
            f"{calibration['false_negative_rate']} on the benchmark's references exceed "
            f"eval.judge_tolerance={tolerance}; "
            f"misjudged: {', '.join(calibration['misjudged'])}"
        )
