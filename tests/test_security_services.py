"""Ids passed by a caller are checked in the services (issue #15): another unit's upload,
moving unassigned tickets, and uploads shared by hash."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from duban import auth, importer, uploads
from duban.enums import Progress, Role
from duban.errors import PermissionDenied
from duban.models import Feedback, Ticket, Upload
from duban.permissions import SYSTEM, Actor
from tests.factories import make_ticket, make_unit
from tests.test_cases import current_step, open_written, town  # noqa: F401 - fixture
from tests.test_uploads import PDF


def unit_actor(session: Session, name: str, unit_id: int) -> Actor:
    user = auth.create_user(session, SYSTEM, name, "correct horse 1", Role.UNIT, unit_id=unit_id)
    session.commit()
    return auth.actor_for(user)


def test_a_unit_cannot_attach_another_units_upload_to_its_feedback(session, town):  # noqa: F811
    case = open_written(session, town)
    step = current_step(session, case)
    own = unit_actor(session, "dept1", town.dept.id)
    stranger = unit_actor(session, "other1", town.other.id)
    theirs = uploads.store_upload(session, stranger, name="他单位回执.pdf", data=PDF + b"x")
    session.commit()
    with pytest.raises(PermissionDenied, match="本单位上传的扫描件"):
        cases_register(session, own, step.id, theirs.id)
    session.rollback()
    assert session.exec(select(Feedback)).all() == []
    mine = uploads.store_upload(session, own, name="回执.pdf", data=PDF)
    session.commit()
    assert cases_register(session, own, step.id, mine.id).upload_id == mine.id


def cases_register(session: Session, actor: Actor, step_id: int, upload_id: int) -> Feedback:
    from duban.cases import register_feedback

    return register_feedback(
        session, actor, step_id, text="已处理",  # a unit's reply is dated by the server
        signed=True, stamped=True, progress=Progress.DONE, upload_id=upload_id,
    )  # fmt: skip


def test_a_unit_cannot_move_unassigned_tickets_into_itself(session):
    unit = make_unit(session, "镇城管中队")
    ticket = make_ticket(session, "X1", unit_raw="未知单位")
    session.commit()
    actor = Actor(user_id=None, username="u", role=Role.UNIT, unit_id=unit.id)
    with pytest.raises(PermissionDenied, match="无权对应承办单位"):
        importer.assign_unassigned(session, actor, "未知单位", unit.id)
    session.rollback()
    assert session.get(Ticket, ticket.id).unit_id is None


def test_the_same_file_from_two_units_gives_each_its_own_row_and_name(session):
    a, b = make_unit(session, "甲村"), make_unit(session, "乙村")
    first = unit_actor(session, "ua", a.id)
    second = unit_actor(session, "ub", b.id)
    theirs = uploads.store_upload(session, first, name="甲村内部材料.pdf", data=PDF)
    session.commit()
    mine = uploads.store_upload(session, second, name="回执.pdf", data=PDF)
    session.commit()
    assert mine.id != theirs.id
    assert (mine.original_name, mine.created_by) == ("回执.pdf", second.user_id)
    assert uploads.upload_path(mine) == uploads.upload_path(theirs)  # bytes stored once
    assert len(session.exec(select(Upload)).all()) == 2
