"""What the step, the case page and the boards show of chasing: per-step state, unit figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from duban.boards import answering_unit
from duban.cases import get_case
from duban.chasing.extensions import ExtensionRow, _extension_rows
from duban.chasing.signing import SIGN_KINDS
from duban.clock import cn_date, today
from duban.enums import ExtensionStatus, StepStatus
from duban.kpi import Period, Ratio
from duban.models import Case, Chase, Extension, Step, StepReceipt, Unit
from duban.permissions import Actor
from duban.settings import get_setting
from duban.workdays import Calendar


@dataclass(frozen=True)
class StepChasing:
    """签收, 催办 and 延期 of one step, for the case page."""

    needs_sign: bool
    receipt: StepReceipt | None
    chases: list[Chase]
    extensions: list[ExtensionRow]

    @property
    def sign_text(self) -> str:
        if not self.needs_sign:
            return "—"
        r = self.receipt
        if r is None:
            return "未签收"
        how = "代为登记" if r.on_behalf else "单位签收"
        return (
            f"{cn_date(r.signed_at)} {r.signed_at:%H:%M} {how}（{'及时' if r.on_time else '超时'}）"
        )


def step_chasing(session: Session, actor: Actor, case_id: int) -> dict[int, StepChasing]:
    """Step id → its 签收, 催办 and 延期, for every step of a case the actor may see."""
    get_case(session, actor, case_id)
    steps = session.exec(
        select(col(Step.id), col(Step.kind)).where(
            col(Step.case_id) == case_id, col(Step.deleted_at).is_(None)
        )
    ).all()
    ids = [sid for sid, _ in steps]
    if not ids:
        return {}
    receipts = {
        r.step_id: r
        for r in session.exec(select(StepReceipt).where(StepReceipt.step_id.in_(ids)))  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
    }
    chases: dict[int, list[Chase]] = defaultdict(list)
    for c in session.exec(
        select(Chase)
        .where(col(Chase.step_id).in_(ids))
        .order_by(col(Chase.chased_on), col(Chase.id))
    ):
        chases[c.step_id].append(c)
    exts: dict[int, list[ExtensionRow]] = defaultdict(list)
    for e in _extension_rows(session, Extension.step_id.in_(ids)):  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
        exts[e.step_id].append(e)
    return {
        sid: StepChasing(kind in SIGN_KINDS, receipts.get(sid), chases[sid], exts[sid])
        for sid, kind in steps
        if sid is not None
    }


@dataclass
class UnitFigures:
    """A unit's 签收, 催办 and 延期 figures over a period (formulas in docs/KPI.md)."""

    unit_id: int | None
    unit_name: str = "合计"
    papers: int = 0  # 督办单 and notices issued in the period
    signed_on_time: int = 0
    signed_late: int = 0  # signed after the 及时签收 day, or still unsigned past it
    sign_pending: int = 0  # unsigned, the 及时签收 day not yet past
    chases: int = 0  # 催办 recorded in the period
    extensions: int = 0  # 延期申请 made in the period
    extensions_approved: int = 0
    extensions_refused: int = 0

    @property
    def sign_rate(self) -> Ratio:
        """及时签收率: signed on time ÷ (signed on time + late); pending not yet judged."""
        return Ratio(self.signed_on_time, self.signed_on_time + self.signed_late)


def unit_figures(
    session: Session,
    period: Period,
    *,
    as_of: date | None = None,
    unit_ids: list[int] | None = None,
) -> dict[int | None, UnitFigures]:
    """Per unit (and `None`: all units) 及时签收, 催办次数 and 延期 over `period`.

    A paper counts for its addressee; a chase and an extension for the unit that must answer
    the step. Cancelled steps and deleted cases are left out.
    """
    as_of = as_of or today()
    calendar = Calendar.load(session)
    n_days = int(get_setting(session, "sign_within_workdays"))
    names = dict(session.exec(select(Unit.id, Unit.name)).all())
    out: dict[int | None, UnitFigures] = {}

    def row(unit_id: int | None) -> UnitFigures:
        if unit_id not in out:
            out[unit_id] = UnitFigures(unit_id, names.get(unit_id, "—") if unit_id else "合计")
        return out[unit_id]

    live = and_(
        Case.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        Step.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        col(Step.status) != StepStatus.CANCELLED,
    )
    unit_of_paper = func.coalesce(Step.unit_id, Case.lead_unit_id)
    papers = (
        select(unit_of_paper, col(Step.issued_at), col(StepReceipt.on_time))
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(StepReceipt, col(StepReceipt.step_id) == col(Step.id))
        .where(
            live,
            Step.kind.in_(SIGN_KINDS),  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
            Step.issued_at >= period.start,
            Step.issued_at <= period.end,
        )
    )
    if unit_ids:
        papers = papers.where(unit_of_paper.in_(unit_ids))
    deadlines: dict[date, date] = {}
    for unit_id, issued, on_time in session.exec(papers).all():
        if on_time is None:
            if issued not in deadlines:
                deadlines[issued] = calendar.add(issued, n_days).day
            verdict = "signed_late" if deadlines[issued] < as_of else "sign_pending"
        else:
            verdict = "signed_on_time" if on_time else "signed_late"
        for key in (unit_id, None):
            r = row(key)
            r.papers += 1
            setattr(r, verdict, getattr(r, verdict) + 1)

    unit = answering_unit()
    chases = (
        select(unit, func.count())
        .select_from(Chase)
        .join(Step, col(Step.id) == col(Chase.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(live, Chase.chased_on >= period.start, Chase.chased_on <= period.end)
        .group_by(unit)
    )
    extensions = (
        select(unit, Extension.status, func.count())
        .select_from(Extension)
        .join(Step, col(Step.id) == col(Extension.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(
            live,
            Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Extension.requested_on >= period.start,
            Extension.requested_on <= period.end,
        )
        .group_by(unit, Extension.status)
    )
    if unit_ids:
        chases, extensions = chases.where(unit.in_(unit_ids)), extensions.where(unit.in_(unit_ids))
    for unit_id, n in session.exec(chases).all():
        for key in (unit_id, None):
            row(key).chases += int(n)
    for unit_id, status, n in session.exec(extensions).all():
        for key in (unit_id, None):
            r = row(key)
            r.extensions += int(n)
            if status == ExtensionStatus.APPROVED:
                r.extensions_approved += int(n)
            elif status == ExtensionStatus.REFUSED:
                r.extensions_refused += int(n)
    row(None)
    return out
