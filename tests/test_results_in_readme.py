"""README quotes the claims tables as they were written: every table row and verdict of results/ablations.md (by
`agentflan experiments table`) in README's claims section, and of the GPU tables (by `scripts/ablations_device.py
table`) in its GPU section, in order, and nothing else."""

from __future__ import annotations

import pytest

from conftest import ROOT

SECTIONS = {
    "### Results: the paper's claims": ("ablations.md",),
    "### Results: the claims on a GPU": ("ablations-gpu.md", "ablations-gpu-6000.md"),
}


def quoted(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("|", "Verdict:", "Baseline commit"))]


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_quotes_the_ablations_tables_as_written(section):
    readme = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(readme) if line.startswith(section))
    end = next(i for i in range(start + 1, len(readme)) if readme[i].startswith("### "))
    tables = [quoted((ROOT / "results" / name).read_text().splitlines()) for name in SECTIONS[section]]
    assert all(len(table) > 4 for table in tables)  # a claim at least: a header, a rule, two rows and a verdict
    assert quoted(readme[start:end]) == [line for table in tables for line in table]
