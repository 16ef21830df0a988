"""Saved views of the ledger: personal, named filter + column sets (issue 14)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from duban import auth, views
from duban.enums import Role
from duban.errors import NotFound, PermissionDenied, ValidationError
from duban.models import SavedView
from duban.permissions import SYSTEM, Actor
from tests.factories import make_unit

OVERDUE = {"statuses": ["处理中"], "keyword": "噪声", "date_from": "2024-01-01"}
COLUMNS = ["ticket_no", "received_at", "notes"]


def user(session: Session, name: str, role: Role = Role.CENTER, **kw) -> Actor:
    created = auth.create_user(session, SYSTEM, name, "a long password 1", role, **kw)
    session.commit()
    return auth.actor_for(created)


@pytest.fixture
def clerk(session: Session) -> Actor:
    return user(session, "clerk")


def test_a_saved_view_comes_back_with_its_filter_and_columns(session: Session, clerk) -> None:
    saved = views.save_view(session, clerk, views.LEDGER, " 噪声 在办 ", filters=OVERDUE,
                            columns=COLUMNS)  # fmt: skip
    session.commit()
    assert views.list_views(session, clerk, views.LEDGER) == [
        views.View(saved.id, "噪声 在办", OVERDUE, COLUMNS)
    ]


def test_saving_under_the_same_name_replaces_the_view(session: Session, clerk) -> None:
    views.save_view(session, clerk, views.LEDGER, "我的", filters=OVERDUE, columns=COLUMNS)
    views.save_view(session, clerk, views.LEDGER, "我的", filters={"keyword": "路灯"},
                    columns=["ticket_no"])  # fmt: skip
    (only,) = views.list_views(session, clerk, views.LEDGER)
    assert (only.filters, only.columns) == ({"keyword": "路灯"}, ["ticket_no"])


def test_views_are_personal(session: Session, clerk) -> None:
    unit = make_unit(session, "镇城管中队")
    other = user(session, "unit1", Role.UNIT, unit_id=unit.id)
    mine = views.save_view(session, clerk, views.LEDGER, "我的", filters={}, columns=COLUMNS)
    session.commit()
    assert views.list_views(session, other, views.LEDGER) == []
    with pytest.raises(NotFound, match="视图（编号 .*）不存在"):
        views.delete_view(session, other, mine.id)
    assert [v.name for v in views.list_views(session, clerk, views.LEDGER)] == ["我的"]


def test_a_deleted_view_is_gone_from_the_list_but_kept(session: Session, clerk) -> None:
    saved = views.save_view(session, clerk, views.LEDGER, "旧", filters={}, columns=COLUMNS)
    views.delete_view(session, clerk, saved.id)
    session.commit()
    assert views.list_views(session, clerk, views.LEDGER) == []
    assert session.get(SavedView, saved.id).deleted_at is not None
    again = views.save_view(session, clerk, views.LEDGER, "旧", filters={}, columns=COLUMNS)
    assert again.id != saved.id  # the name is free again
    with pytest.raises(NotFound):
        views.delete_view(session, clerk, saved.id)


@pytest.mark.parametrize(
    ("name", "filters", "columns", "message"),
    [
        ("  ", {}, COLUMNS, "视图名称：不能为空"),
        ("名" * 51, {}, COLUMNS, "视图名称：不超过 50 个字"),
        ("v", {}, ["password_hash"], "视图的显示列：不认识的列 password_hash"),
        ("v", {}, [], "视图的显示列：至少选择一列"),
        ("v", {"sql": "1=1"}, COLUMNS, "不认识的字段 sql"),
        ("v", {"unit_ids": "1"}, COLUMNS, "“unit_ids”应为若干个值"),
        ("v", {"keyword": ["a"]}, COLUMNS, "“keyword”应为文字"),
    ],
)
def test_a_bad_view_is_refused_with_a_message_and_nothing_saved(
    session: Session, clerk, name, filters, columns, message
) -> None:
    with pytest.raises(ValidationError, match=message):
        views.save_view(session, clerk, views.LEDGER, name, filters=filters, columns=columns)
    assert session.exec(select(SavedView)).all() == []


def test_only_a_logged_in_user_has_views(session: Session) -> None:
    with pytest.raises(PermissionDenied, match="不能保存个人视图"):
        views.save_view(session, SYSTEM, views.LEDGER, "v", filters={}, columns=COLUMNS)
    assert views.list_views(session, SYSTEM, views.LEDGER) == []


def test_the_same_name_saved_at_once_in_two_tabs_keeps_one_view(
    session: Session, clerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other tab's 周报 lands between this tab's look-up and its insert: the unique index
    refuses the second, with a message, and the first stays."""
    views.save_view(session, clerk, views.LEDGER, "周报", filters={}, columns=COLUMNS)
    session.commit()
    monkeypatch.setattr(views, "list_views", lambda *args: [])  # looked before it landed
    with pytest.raises(ValidationError, match="视图“周报”刚刚在别处保存过"):
        views.save_view(session, clerk, views.LEDGER, "周报", filters={"keyword": "x"},
                        columns=COLUMNS)  # fmt: skip
    session.rollback()
    monkeypatch.undo()
    (kept,) = views.list_views(session, clerk, views.LEDGER)
    assert kept.filters == {}
