"""Saved views: a user's named filter + column set of a grid, kept per user in the database
(as spreadsheet users keep views). Personal: nobody sees, applies or deletes another's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from duban.clock import now
from duban.errors import NotFound, PermissionDenied, ValidationError
from duban.models import SavedView
from duban.permissions import Actor

# The grids that have views: page → the columns a view may show, and its filter fields.
LEDGER = "ledger"
COLUMNS: dict[str, tuple[str, ...]] = {
    LEDGER: ("ticket_no", "received_at", "unit", "unit_raw", "category", "address", "content",
             "caller", "phone", "platform_status", "callback_result", "platform_due_at", "notes",
             "tags", "repeat_group"),
}  # fmt: skip
FILTERS: dict[str, dict[str, type]] = {
    LEDGER: {"unit_ids": list, "categories": list, "statuses": list, "callbacks": list,
             "date_from": str, "date_to": str, "keyword": str, "numbers": str},
}  # fmt: skip
MAX_NAME = 50
MAX_VIEWS = 50  # per user and grid

__all__ = ["COLUMNS", "FILTERS", "LEDGER", "View", "delete_view", "list_views", "save_view"]


@dataclass(frozen=True)
class View:
    id: int
    name: str
    filters: dict[str, Any]
    columns: list[str]


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied("当前身份不是登录账号，不能保存个人视图")
    return actor.user_id


def _clean_filters(page: str, filters: dict[str, Any]) -> dict[str, Any]:
    """Only the grid's filter fields, each of its type; empty ones are left out."""
    fields = FILTERS[page]
    unknown = set(filters) - set(fields)
    if unknown:
        raise ValidationError(f"视图的筛选条件：不认识的字段 {'、'.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for key, value in filters.items():
        if value in (None, "", [], ()):
            continue
        kind = fields[key]
        if kind is list:
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in value
            ):
                raise ValidationError(f"视图的筛选条件“{key}”应为若干个值")
            clean[key] = list(value)
        elif isinstance(value, str):
            clean[key] = value[:2000]
        else:
            raise ValidationError(f"视图的筛选条件“{key}”应为文字")
    return clean


def _check(page: str) -> None:
    if page not in COLUMNS:
        raise ValidationError(f"没有可保存视图的表格“{page}”")


def _as_view(row: SavedView) -> View:
    return View(row.id or 0, row.name, dict(row.filters), list(row.columns))


def list_views(session: Session, actor: Actor, page: str) -> list[View]:
    """The actor's own views of a grid, by name."""
    _check(page)
    if actor.user_id is None:
        return []
    rows = session.exec(
        select(SavedView)
        .where(
            SavedView.user_id == actor.user_id,
            SavedView.page == page,
            col(SavedView.deleted_at).is_(None),
        )
        .order_by(SavedView.name)
    )
    return [_as_view(r) for r in rows]


def save_view(
    session: Session,
    actor: Actor,
    page: str,
    name: str,
    *,
    filters: dict[str, Any],
    columns: list[str],
) -> View:
    """Save the current filter and columns under a name; the same name replaces that view."""
    _check(page)
    owner = _owner(actor)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("视图名称：不能为空")
    if len(name) > MAX_NAME:
        raise ValidationError(f"视图名称：不超过 {MAX_NAME} 个字")
    unknown = [c for c in columns if c not in COLUMNS[page]]
    if unknown:
        raise ValidationError(f"视图的显示列：不认识的列 {'、'.join(unknown)}")
    if not columns:
        raise ValidationError("视图的显示列：至少选择一列")
    clean = _clean_filters(page, filters)
    mine = {v.name: v for v in list_views(session, actor, page)}
    at = now()
    if name in mine:
        row = session.get(SavedView, mine[name].id)
        assert row is not None
        row.filters, row.columns, row.updated_at = clean, list(columns), at
    else:
        if len(mine) >= MAX_VIEWS:
            raise ValidationError(f"每人最多保存 {MAX_VIEWS} 个视图，请先删除不用的视图")
        row = SavedView(user_id=owner, page=page, name=name, filters=clean, columns=list(columns),
                        created_at=at, updated_at=at)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # the same name saved at the same moment in another tab
        raise ValidationError(f"视图“{name}”刚刚在别处保存过，请重新选择后再保存") from exc
    return _as_view(row)


def delete_view(session: Session, actor: Actor, view_id: int) -> None:
    """Delete one of the actor's own views (kept, marked deleted)."""
    row = session.get(SavedView, view_id)
    if row is None or row.deleted_at is not None or row.user_id != _owner(actor):
        raise NotFound(f"视图（编号 {view_id}）不存在")
    row.deleted_at = now()
    session.add(row)
