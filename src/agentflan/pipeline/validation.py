"""Great Expectations at the stage boundaries.

Each boundary has a suite in `expectations/<name>.json` (GX 1.x JSON: `{"name", "expectations":
[{"type", "kwargs"}]}`) and a per-record profile (`profiles.py`) it runs on. `validate` raises
`ValidationFailed` with a readable report — which expectations failed, how many rows, and example
ids — and the stage then exits before publishing, so the previous output stays intact.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentflan.pipeline.profiles import Profile

if TYPE_CHECKING:
    import pandas as pd

EXAMPLES = 5
_SPENT = {"validate": 0.0, "import": 0.0}  # seconds in this process: all of `validate`; of it, importing GX


def seconds_spent() -> float:
    """Wall seconds this process has spent in `validate` so far (the stage logs it as `gx_validation_s`)."""
    return _SPENT["validate"]


def import_seconds() -> float:
    """Of `seconds_spent()`, the one-off import of great_expectations (about 2 s here: it imports scipy.stats,
    altair and SQLAlchemy), which every stage process pays once whatever the size of its data."""
    return _SPENT["import"]


class ValidationFailed(Exception):
    def __init__(self, suite: str, failures: list[dict[str, Any]], rows: int):
        self.suite = suite
        self.failures = failures
        self.rows = rows
        super().__init__(self.report())

    def report(self) -> str:
        lines = [
            f"Data validation failed: suite '{self.suite}' on {self.rows} rows, {len(self.failures)} expectation(s) "
            "not met:"
        ]
        for f in self.failures:
            where = f" column '{f['column']}'" if f.get("column") else ""
            lines.append(f"  - {f['type']}{where}: {f['detail']}")
            if f.get("examples"):
                lines.append(f"      examples: {json.dumps(f['examples'], default=str)[:400]}")
        return "\n".join(lines)


@dataclass
class ValidationSummary:
    suite: str
    rows: int
    expectations: int

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "rows": self.rows, "expectations": self.expectations, "success": True}


def expectations_dir() -> Path:
    """`expectations/` of the project (AGENTFLAN_EXPECTATIONS overrides, for tests and other layouts)."""
    env = os.environ.get("AGENTFLAN_EXPECTATIONS")
    if env:
        return Path(env)
    from agentflan.pipeline.project import project_root

    return project_root() / "expectations"


def load_suite_json(name_or_path: str | Path) -> dict[str, Any]:
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = expectations_dir() / f"{name_or_path}.json"
    with path.open() as f:
        return json.load(f)


def suite_columns(*suites: str) -> tuple[str, ...]:
    """`id` and every column the named suites' expectations read, in order: what a stage's profile keeps of its rows
    (a 500k-record profile of every row field is ~1 KB a record with its frame; the suites read a third of them)."""
    columns = ["id"]
    for suite in suites:
        for e in load_suite_json(suite).get("expectations", []):
            kwargs = e.get("kwargs", {})
            columns += [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
            columns += list(kwargs.get("column_list", ()))
    return tuple(dict.fromkeys(columns))


def import_gx() -> None:
    """Import great_expectations now (about 2 s: it imports scipy.stats, altair and SQLAlchemy): GX's time, of it
    the import's."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    started, first = time.perf_counter(), "great_expectations" not in sys.modules
    import great_expectations  # noqa: F401

    if first:
        spent = time.perf_counter() - started
        _SPENT["import"] += spent
        _SPENT["validate"] += spent


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under 1 GB (`pd.util.hash_pandas_object` of every row: 177 MiB of
    # transient memory for a 500k-row frame of ids, and its time) for a batch marker nothing here reads; the limit is
    # a module constant, 0 hashes none
    pandas_execution_engine.HASH_THRESHOLD = 0

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, ctx


def validate(
    frame: pd.DataFrame | Profile | list[dict[str, Any]],
    suite: str | Path | dict[str, Any],
    id_column: str = "id",
    parameters: dict[str, Any] | None = None,
) -> ValidationSummary:
    """Run a suite on a frame; raise `ValidationFailed` (with a readable report) when any expectation fails.

    `parameters` fill the suite's `{"$PARAMETER": name}` values (e.g. a tolerance from params.yaml).
    """
    import_gx()  # counted by itself, once
    started = time.perf_counter()
    try:
        return _validate(frame, suite, id_column, parameters)
    finally:
        _SPENT["validate"] += time.perf_counter() - started


def _validate(frame, suite, id_column: str, parameters: dict[str, Any] | None) -> ValidationSummary:
    if isinstance(frame, Profile):
        frame = frame.frame()  # building the frame is part of what validation costs
    else:
        import pandas as pd  # here, not at import: a stage reads its records before it needs a frame

        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
    spec = suite if isinstance(suite, dict) else load_suite_json(suite)
    gx, ctx = _context()
    gx_suite = gx.ExpectationSuite(**spec)
    if len(gx_suite.expectations) != len(spec.get("expectations", [])):  # GX drops unknown types silently
        raise ValueError(
            f"suite '{spec.get('name')}': GX loaded {len(gx_suite.expectations)} of {len(spec['expectations'])} "
            "expectations"
        )
    asset = ctx.data_sources.add_pandas("agentflan").add_dataframe_asset(name=spec["name"])
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES}
    if id_column in frame.columns:
        result_format["unexpected_index_column_names"] = [id_column]
    result = batch.validate(gx_suite, result_format=result_format, expectation_parameters=parameters)
    if not result.success:
        failures = []
        for r in result.results:
            if r.success:
                continue
            res = r.result or {}
            kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k not in ("batch_id", "column")}
            if "unexpected_count" in res:
                rows = f"{res['unexpected_count']} of {res.get('element_count')} rows"
                detail = f"{rows} unexpected ({json.dumps(kwargs, default=str)})"
            else:
                detail = f"observed {res.get('observed_value')!r} ({json.dumps(kwargs, default=str)})"
            examples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
            failures.append(
                {
                    "type": r.expectation_config.type,
                    "column": r.expectation_config.kwargs.get("column"),
                    "detail": detail,
                    "examples": examples[:EXAMPLES],
                }
            )
        raise ValidationFailed(spec["name"], failures, len(frame))
    return ValidationSummary(spec["name"], len(frame), len(gx_suite.expectations))
