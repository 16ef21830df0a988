"""The 督办线索 rules measured on a labelled set written the way the platform writes tickets
(tests/labelled_set.py): the issue's targets — at least 95 % of matters found whole, at most
2 % of groups holding a ticket of another matter — and the figures docs/ANALYSIS.md shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from duban.analysis import Rule
from tests.labelled_set import RULE_KIND, generate, measure, run, table

DOC = Path(__file__).resolve().parent.parent / "docs" / "ANALYSIS.md"


@pytest.fixture(scope="module")
def labelled():
    return generate()


def test_the_labelled_set_varies_as_real_exports_do(labelled):
    text = labelled.data.decode("utf-8")
    for spelling in ("上海市青浦区赵巷镇", "上海市 青浦区 赵巷镇", "号楼", "幢", "栋", "（北门）",
                     "北门口", "１", "三"):  # fmt: skip
        assert spelling in text, spelling
    kinds = set(labelled.kind.values())
    assert kinds == {"repeat", "concentrated", "decoy", "single"}


def test_repeats_and_concentrated_complaints_are_found_whole_and_pure(session, labelled):
    """§二 4 重复投诉 and §二 5 多人次集中投诉: each labelled matter in one group of its rule
    (≥ 95 %), and groups of one matter only — neither the next house number nor another
    kind of complaint at the same place (≤ 2 % of groups)."""
    figures = {f.rule: f for f in measure(run(session, labelled), labelled)}
    for rule in RULE_KIND:
        assert figures[rule].matters >= 20
        assert figures[rule].whole_share >= 0.95, figures[rule]
    for f in figures.values():
        assert f.impure_share <= 0.02, f
    assert figures[Rule.REPEATED].groups > figures[Rule.REPEATED].matters  # decoys too


def test_docs_show_the_figures_of_this_code(session, labelled):
    """docs/ANALYSIS.md holds the table this code gives (regenerate: python -m tests.labelled_set)."""
    figures = measure(run(session, labelled), labelled)
    assert table(figures, labelled) in DOC.read_text(encoding="utf-8")
