"""Real-shaped upstream records built from the fixtures, shared by the reader and pipeline tests."""

from __future__ import annotations

import json


def hallucinated_call(record: dict, api: str) -> dict:
    """The ToolBench fixture record with its second step calling `api` instead of the listed one (ToolBench holds such
    records: the generating model made the name up)."""
    record = json.loads(json.dumps(record))
    step = next(t for t in record["conversations"] if t["from"] == "assistant" and "product_reviews" in t["value"])
    step["value"] = step["value"].replace("product_reviews_for_real_time_product_search", api)
    return record
