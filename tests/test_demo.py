"""The demo town (`python -m duban init --demo`): cases at every level and state, run through
the workflow's services, deterministic, dated back from the `end` date."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from duban.cases import eligible_for_escalation
from duban.db import make_engine, upgrade
from duban.demo import generate_demo
from duban.enums import CaseStatus, Level, StepKind, StepStatus
from duban.models import Case, Feedback, Meeting, Referral, RoutingRule, Step

END = datetime(2024, 6, 28, 18, 0)


def fingerprint(engine) -> list[tuple]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(Case.case_no, Case.title, Case.level, Case.status, Step.kind, Step.due_at)
                .join(Step, Step.case_id == Case.id)
                .order_by(Step.id)
            )
        )


def test_the_demo_covers_every_level_and_state(engine, tmp_path):
    """~80 cases over every level and state: open/closed, overdue, due soon, eligible,
    non-compliant feedback, reopened, referred; 专题会 with routing rules."""
    summary = generate_demo(engine, end=END)
    assert summary == {"单位": 31, "工单": 2400, "督办事项": 80, "专题会": 3, "处置规则": 4}
    end = END.date()
    with Session(engine) as s:
        states = Counter((c.status, c.level) for c in s.exec(select(Case)))
        assert set(states) == {(st, lv) for st in CaseStatus for lv in Level}
        assert max(s.exec(select(Case.opened_at))) <= end
        open_steps = s.exec(
            select(Step).join(Case).where(Step.status == StepStatus.OPEN, Case.status == "open")
        ).all()
        assert any(st.due_at and st.due_at < end for st in open_steps)  # overdue
        assert any(st.due_at and end <= st.due_at <= date(2024, 7, 2) for st in open_steps)
        assert len(eligible_for_escalation(s, end)) >= 5
        non_compliant = s.exec(
            select(func.count()).select_from(Feedback).where(Feedback.compliant.is_(False))
        ).one()
        assert non_compliant >= 3
        assert (
            s.exec(select(func.count()).select_from(Case).where(Case.reopen_reason != "")).one()
            == 3
        )
        assert s.exec(select(func.count()).select_from(Referral)).one() == 3
        assert s.exec(select(func.count()).select_from(Meeting)).one() == 3
        assert s.exec(select(func.count()).select_from(RoutingRule)).one() == 4
        kinds = set(s.exec(select(Step.kind)))
        assert kinds == set(StepKind)
    if engine.dialect.name == "sqlite":  # deterministic: a second town is the same town
        other = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
        upgrade(other)
        generate_demo(other, end=END)
        assert fingerprint(other) == fingerprint(engine)
