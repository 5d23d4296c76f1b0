"""README quotes the claims table as `agentflan experiments table` wrote it: every table row and verdict of
results/ablations.md, in order, and nothing else, in README's claims section."""

from __future__ import annotations

from conftest import ROOT

SECTION = "### Results: the paper's claims"


def quoted(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("|", "Verdict:", "Baseline commit"))]


def test_readme_quotes_the_ablations_table_as_written():
    readme = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(readme) if line.startswith(SECTION))
    end = next(i for i in range(start + 1, len(readme)) if readme[i].startswith("### "))
    table = quoted((ROOT / "results" / "ablations.md").read_text().splitlines())
    assert len(table) > 3 * 4  # three claims: a header, a rule, the default and a variant each, and a verdict
    assert quoted(readme[start:end]) == table
