"""docs/WORKFLOW.md shows the state machine that `duban.cases.TRANSITIONS` actually enforces."""

import re
from pathlib import Path

from duban.cases import TRANSITIONS, Action, CaseState, workflow_markdown, workflow_mermaid

DOC = Path(__file__).resolve().parent.parent / "docs" / "WORKFLOW.md"
BLOCK = re.compile(
    r"<!-- BEGIN GENERATED \(duban\.cases\.workflow_markdown\) -->\n(.*)<!-- END GENERATED -->",
    re.S,
)


def test_the_diagram_in_the_docs_matches_the_transition_table():
    """“The allowed transitions are written once, as data, and docs/WORKFLOW.md shows the state
    machine as a diagram that a test keeps in step with that table.”"""
    found = BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert found, "docs/WORKFLOW.md lost its generated block markers"
    assert found.group(1) == workflow_markdown(), (
        "docs/WORKFLOW.md is out of date: regenerate the block with "
        'python -c "from duban.cases import workflow_markdown; print(workflow_markdown())"'
    )


def test_every_transition_is_drawn_and_every_action_has_a_row():
    diagram = workflow_mermaid()
    for t in TRANSITIONS:
        start = "[*]" if t.source == CaseState.NEW else t.source.name
        edge = re.search(rf"^    {re.escape(start)} --> {t.target.name}: (.*)$", diagram, re.M)
        assert edge and t.action.label in edge.group(1).split("、"), t
    assert {t.action for t in TRANSITIONS} == set(Action)


def test_the_seed_levels_go_up_one_at_a_time():
    """§三: 书面督办 → 现场协调督办 → 提级协调督办, each time 经…仍未有处置进展."""
    ups = {(t.source, t.target) for t in TRANSITIONS if t.action == Action.ESCALATE}
    assert ups == {
        (CaseState.WRITTEN, CaseState.ONSITE),
        (CaseState.ONSITE, CaseState.ESCALATED),
    }
    assert all(t.action != Action.ESCALATE for t in TRANSITIONS if t.source == CaseState.CLOSED)
