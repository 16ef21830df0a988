"""Page data shared between users (ui/shared.py): the second person to open a board gets the
first one's result, and any save through the services shows on the very next view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from duban import audit, boards, cases
from duban.clock import today
from duban.enums import AuditAction, Progress, Role
from duban.permissions import Actor
from duban.uploads import store_upload
from tests.factories import make_case, make_step, make_unit, sample_file
from tests.helpers import open_page

CLERK = Actor(None, "clerk", Role.CENTER)


@pytest.fixture
def late_step(engine) -> int:
    """One written case whose step is ten days overdue."""
    day = today()
    with Session(engine) as s:
        unit = make_unit(s, "镇城建中心")
        case = make_case(s, unit, case_no="逾期件", title="路灯损坏", opened_at=day - timedelta(20))
        step = make_step(s, case, issued_at=day - timedelta(20), due_at=day - timedelta(10))
        audit.record(s, CLERK, AuditAction.CREATE, "case", case.id)
        s.commit()
        return step.id


@pytest.fixture
def summaries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the computations of 首页's data (`duban.boards.summary`)."""
    calls: list[int] = []
    real = boards.summary

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(boards, "summary", counted)
    return calls


def overdue_metric(at) -> str:
    return {m.label: m.value for m in at.metric}["逾期环节"]


def test_the_audit_head_moves_with_every_logged_change(session) -> None:
    assert audit.head(session) == (None, None)
    audit.record(session, CLERK, AuditAction.UPDATE, "ticket", 1)
    session.commit()
    first = audit.head(session)
    audit.record(session, CLERK, AuditAction.UPDATE, "ticket", 1)
    session.commit()
    assert first[0] is not None and audit.head(session)[0] > first[0]


def test_a_second_user_is_served_the_first_users_board(late_step, summaries) -> None:
    first = open_page(CLERK, "pages/home.py")
    second = open_page(Actor(None, "clerk2", Role.CENTER), "pages/home.py")
    assert overdue_metric(first) == overdue_metric(second) == "1"
    assert len(summaries) == 1


def test_a_save_through_the_services_shows_on_the_next_view(engine, late_step, summaries):
    assert overdue_metric(open_page(CLERK, "pages/home.py")) == "1"
    with Session(engine) as s:  # the unit's compliant answer closes the overdue step
        cases.register_feedback(
            s, CLERK, late_step, received_at=today(), text="已修复", signed=True, stamped=True,
            progress=Progress.DONE,
            upload_id=store_upload(s, CLERK, name="回执.pdf", data=sample_file("pdf")).id,
        )  # fmt: skip
        s.commit()
    assert overdue_metric(open_page(CLERK, "pages/home.py")) == "0"
    assert len(summaries) == 2


def test_users_whose_view_differs_are_not_served_each_others_data(engine, late_step) -> None:
    with Session(engine) as s:
        other = make_unit(s, "镇派出所")
        s.commit()
        other_id = other.id
    assert overdue_metric(open_page(CLERK, "pages/home.py")) == "1"
    unit_user = Actor(None, "police", Role.UNIT, unit_id=other_id)
    assert overdue_metric(open_page(unit_user, "pages/home.py")) == "0"
