"""签收, 催办 and the to-do lists as the pages show them (`duban.chasing`), shared until the
data changes (`ui.shared`); the acting user is part of the key because the lists are scoped."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlmodel import Session

from duban import chasing
from duban.clock import cn_date
from duban.kpi import Period
from duban.permissions import Actor
from ui.common import engine
from ui.shared import Stamp, shared_data


@shared_data
def items(stamp: Stamp, day: date, me: Actor) -> list[chasing.Item]:
    """What the actor's unit owes (a unit user), or every unit's items (the center)."""
    with Session(engine()) as session:
        return chasing.open_items(session, me, day)


@shared_data
def pending_extensions(stamp: Stamp, me: Actor) -> list[chasing.ExtensionRow]:
    with Session(engine()) as session:
        return chasing.pending_extensions(session, me)


@shared_data
def step_chasing(stamp: Stamp, case_id: int, me: Actor) -> dict[int, chasing.StepChasing]:
    with Session(engine()) as session:
        return chasing.step_chasing(session, me, case_id)


@shared_data
def figures(stamp: Stamp, period: Period, as_of: date) -> dict[int | None, chasing.UnitFigures]:
    with Session(engine()) as session:
        return chasing.unit_figures(session, period, as_of=as_of)


def items_frame(rows: list[chasing.Item], *, with_unit: bool) -> pd.DataFrame:
    """The list as a table: the columns of the digest's xlsx, and a link to the case."""
    frame = pd.DataFrame(
        {
            "类别": [i.category_text for i in rows],
            "督办编号": [i.case_no for i in rows],
            "督办事项": [i.title for i in rows],
            "承办单位": [i.unit_name for i in rows],
            "环节": [i.kind.label for i in rows],
            "截止日期": [i.due_text for i in rows],
            "剩余或逾期工作日": [i.days_text for i in rows],
            "签收": [i.sign_text for i in rows],
            "催办次数": [i.chases for i in rows],
            "延期申请": ["待审批" if i.extension_pending else "—" for i in rows],
            "查看": [f"/cases?case={i.case_id}" for i in rows],
        }
    )
    return frame if with_unit else frame.drop(columns=["承办单位"])


def figures_frame(rows: dict[int | None, chasing.UnitFigures]) -> pd.DataFrame:
    """Per unit 及时签收率, 催办次数 and 延期 (the total last)."""
    ordered = sorted((r for k, r in rows.items() if k is not None), key=lambda r: r.unit_name)
    ordered += [rows[None]] if None in rows else []
    return pd.DataFrame(
        {
            "承办单位": [r.unit_name for r in ordered],
            "督办单/通知": [r.papers for r in ordered],
            "及时签收": [r.signed_on_time for r in ordered],
            "超时或未签收": [r.signed_late for r in ordered],
            "及时签收率": [str(r.sign_rate) for r in ordered],
            "催办次数": [r.chases for r in ordered],
            "延期申请": [r.extensions for r in ordered],
            "批准延期": [r.extensions_approved for r in ordered],
            "不予批准": [r.extensions_refused for r in ordered],
        }
    )


def step_lines(info: chasing.StepChasing) -> list[str]:
    """签收, 催办 and 延期 of one step as the case page lists them (plain text)."""
    lines = [f"签收：{info.sign_text}"] if info.needs_sign else []
    if info.chases:
        last = info.chases[-1]
        reached = f"，{last.reached}" if last.reached else ""
        lines.append(
            f"催办：{len(info.chases)} 次（最近 {cn_date(last.chased_on)} {last.way.label}{reached}）"
        )
    for e in info.extensions:
        text = f"延期申请：{cn_date(e.requested_on)} 申请 {e.workdays} 个工作日，{e.status.label}"
        if e.new_due_at is not None:
            text += f"（原截止 {cn_date(e.old_due_at)}，现截止 {cn_date(e.new_due_at)}）"
        elif e.decision_note:
            text += f"（{e.decision_note}）"
        lines.append(text)
    return lines
