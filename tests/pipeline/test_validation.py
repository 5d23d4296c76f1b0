"""Great Expectations suites: they load whole, pass on good data, and fail with a readable report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from agentflan.config import ConvertConfig, Source
from agentflan.data.convert import Converter
from agentflan.data.decompose import label
from agentflan.pipeline.profiles import Profile, conversation_row, raw_frame
from agentflan.pipeline.validation import ValidationFailed, expectations_dir, suite_columns, validate


@pytest.mark.parametrize("suite", sorted(p.stem for p in expectations_dir().glob("*.json")))
def test_every_suite_loads_every_expectation(suite):
    import great_expectations as gx

    spec = json.loads((expectations_dir() / f"{suite}.json").read_text())
    assert spec["name"] == suite
    assert len(gx.ExpectationSuite(**spec).expectations) == len(spec["expectations"]) > 0


def test_converted_suite_passes_on_fixtures(fixtures):
    converter = Converter(ConvertConfig(format_samples=2))
    rows = [
        conversation_row(c)
        for c in converter.run(
            [
                Source(path=str(fixtures / n))
                for n in ("toolbench_toolllama.json", "agentinstruct.jsonl", "sharegpt.jsonl")
            ]
        )
    ]
    summary = validate(pd.DataFrame(rows), "converted")
    assert summary.rows == len(rows) == 6 and summary.expectations == 11


def test_a_profile_is_the_frame_of_its_rows_and_refuses_a_row_of_other_fields(fixtures):
    converter = Converter(ConvertConfig(format_samples=2))
    rows = [
        conversation_row(c)
        for c in converter.run([Source(path=str(fixtures / n)) for n in ("toolbench_toolllama.json", "sharegpt.jsonl")])
    ]
    profile = Profile(rows)
    frame = profile.frame()
    pd.testing.assert_frame_equal(frame, pd.DataFrame(rows), check_dtype=False)
    assert frame["id"].dtype == object and frame["n_trainable"].dtype == "int64"  # text: the profile's own strings
    assert validate(profile, "converted").rows == len(rows)
    with pytest.raises(ValueError, match="differ"):
        profile.add({**rows[0], "extra": 1})


def test_raw_suites_pass_on_fixtures(fixtures):
    assert validate(raw_frame(str(fixtures / "toolbench_toolllama.json"), "toolbench"), "raw_toolbench").rows == 3
    assert validate(raw_frame(str(fixtures / "agentinstruct.jsonl"), "agentinstruct"), "raw_agentinstruct").rows == 2


def test_failure_report_names_expectations_and_example_rows(fixtures):
    converter = Converter(ConvertConfig(format_samples=0))
    rows = [conversation_row(c) for c in converter.run([Source(path=str(fixtures / "agentinstruct.jsonl"))])]
    rows[1]["n_trainable"] = 0
    rows[1]["unknown_calls"] = 2
    rows.append(dict(rows[0]))  # a duplicate id
    with pytest.raises(ValidationFailed) as err:
        validate(pd.DataFrame(rows), "converted")
    report = err.value.report()
    assert "suite 'converted' on 3 rows, 3 expectation(s) not met" in report
    assert "expect_column_values_to_be_unique column 'id'" in report
    assert "expect_column_values_to_be_between column 'n_trainable': 1 of 3 rows unexpected" in report
    assert '"id": "db_0"' in report  # the example row is named by id
    assert {f["column"] for f in err.value.failures} == {"id", "n_trainable", "unknown_calls"}


def test_a_profile_keeps_what_its_suites_check_and_still_catches_a_bad_row(fixtures):
    converter = Converter(ConvertConfig(format_samples=2))
    sources = [Source(path=str(fixtures / n)) for n in ("toolbench_toolllama.json", "sharegpt.jsonl")]
    rows = [conversation_row(label(c)) for c in converter.run(sources)]
    kept = suite_columns("decomposed")
    assert kept == ("id", "unlabelled", "n_trainable", "empty_trainable")  # the suite's columns, id first
    assert suite_columns("final", "final_split")[-1] == "query_key"  # both suites' columns
    profile = Profile(rows, keep=kept)
    assert list(profile.frame().columns) == list(kept) and len(profile.frame()) == len(rows)
    assert validate(profile, "decomposed").rows == len(rows)
    bad = Profile([*rows[:-1], {**rows[-1], "unlabelled": 1}], keep=kept)
    with pytest.raises(ValidationFailed, match="unlabelled"):
        validate(bad, "decomposed")
    with pytest.raises(ValueError, match=r"lack the field\(s\) \['split'\]"):
        Profile(rows, keep=("id", "split"))
    assert list(Profile(keep=kept).frame().columns) == list(kept)  # no rows: the columns still there


def test_a_query_in_both_splits_fails_the_split_suite():
    """`query_split_rows` keeps each (query, split) pair once, in the order first met: a query asked in training and
    in validation is a duplicate key for `final_split`; the same query twice in one split is not."""
    from agentflan.pipeline.profiles import query_split_rows

    rows = [("q1", "train"), ("q2", "validation"), ("q1", "train"), ("q3", "train")]
    profile = Profile({"query_key": q, "split": s} for q, s in rows)
    pairs = query_split_rows(profile)
    assert pairs.columns == {"query_key": ["q1", "q2", "q3"], "split": ["train", "validation", "train"]}
    assert validate(pairs, "final_split", id_column="query_key").rows == 3
    profile.add({"query_key": "q3", "split": "validation"})
    with pytest.raises(ValidationFailed, match="query_key"):
        validate(query_split_rows(profile), "final_split", id_column="query_key")


def test_validation_does_not_hash_the_frame(monkeypatch):
    """GX fingerprints an in-memory batch with `pd.util.hash_pandas_object` (memory and time for a marker nothing
    reads); validation switches it off."""

    def refuse(*args, **kwargs):
        raise AssertionError("hashed the frame")

    monkeypatch.setattr(pd.util, "hash_pandas_object", refuse)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(50)], "n_trainable": [1] * 50})
    spec = {"name": "t", "expectations": [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}}]}
    assert validate(frame, spec).rows == 50
