"""The evaluation report: static, offline, and every figure loads in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from agentflan.evaluation.scoring import Prediction, category_intervals
from agentflan.pipeline import report


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def predictions() -> list[Prediction]:
    """Plain samples answered well or with a hallucinated ReAct call, and call samples right or wrong."""
    out = []
    for i in range(20):
        text = (
            "Thought: I call search.\nAction: search\nAction Input: {}"
            if i % 4 == 0
            else "Paris is the capital of France."
        )
        out.append(Prediction(f"p{i}", "plain_tools_offered", ["search"], "plain", text, None, {}, {}, "chat", [text]))
    for i in range(20):
        name = "get_weather" if i % 5 else "search"
        turns = ["I need the weather service.", name, '{"city": "Oslo"}']
        out.append(
            Prediction(
                f"c{i}",
                "tool_needed_offered_seen",
                ["get_weather", "search"],
                "call",
                "\n".join(turns),
                "get_weather",
                {
                    "get_weather": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "search": {"type": "object", "properties": {}},
                },
                {},
                "chat",
                turns,
            )
        )
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    intervals = category_intervals(predictions())
    history = [{"step": s, "reasoning": 5 - s / 100, "general": 4 - s / 200} for s in (0, 100, 200)]
    report.write(
        out,
        intervals=intervals,
        train_history=[{"step": s, "loss": 5 - s / 50} for s in range(1, 201)],
        capability_tokens={"decomposed": {"reasoning": 10, "general": 5}, "balanced": {"reasoning": 6, "general": 5}},
        val_history=[{"step": s, "val_loss": 5 - s / 80} for s in (0, 100, 200)],
        capability_history=history,
        unigram=4.5,
        headline=[("hscore", 0.875)],
        params=[("train.max_steps", 200)],
        hashes=[("train md5", "abc")],
    )
    return out, intervals


def test_intervals_hold_the_value_and_come_from_the_samples(written):
    _, intervals = written
    plain, calls = intervals["plain_tools_offered"], intervals["tool_needed_offered_seen"]
    assert plain["metric"] == "hscore" and plain["value"] == pytest.approx(0.875) and plain["samples"] == 20
    assert calls["metric"] == "tool_name_accuracy" and calls["value"] == pytest.approx(0.8)
    for c in (plain, calls):
        assert c["low"] < c["value"] < c["high"]  # neither all right nor all wrong: a real spread


def test_the_page_is_static_and_offline(written):
    out, _ = written
    page = (out / "index.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from the internet
    assert sorted(re.findall(r'<img src="([^"]+)"', page)) == sorted(report.FIGURES)
    assert all(
        (out / name).stat().st_size > 1000 and (out / name).read_bytes()[:4] == b"\x89PNG" for name in report.FIGURES
    )
    assert "train.max_steps" in page and "train md5" in page


def test_every_figure_loads_in_a_headless_browser(written, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's `chromium`; `apt-get install chromium`)")
    out, _ = written
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    loaded = re.search(r'data-figures-loaded="(\d+)/(\d+)"', dom.stdout)
    assert loaded, f"the page's load check never ran\n{dom.stderr[-2000:]}"
    assert loaded.group(1) == loaded.group(2) == str(len(report.FIGURES))


def test_model_output_on_the_page_is_escaped(tmp_path):
    answer = {"category": "plain_no_tools", "query": "q", "answer": "<script>alert(1)</script>", "verdict": "{}"}
    page = report.page("t", [("hscore", "<b>0.5</b>")], [], [], [answer])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "&lt;b&gt;0.5&lt;/b&gt;" in page
    assert page.count("<script>") == 1  # only the page's own figure check
