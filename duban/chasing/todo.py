"""The to-do list (待签收, 即将到期, 已逾期, 已催办) and each unit's list as a file."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from duban import documents
from duban.boards import Horizon, answering_unit, effective_due, working_days_late
from duban.chasing.chases import _chase_counts
from duban.chasing.signing import SIGN_KINDS
from duban.clock import cn_date
from duban.enums import CaseStatus, ExtensionStatus, StepKind, StepStatus
from duban.models import Case, Extension, Feedback, Step, StepReceipt, Unit
from duban.permissions import Actor, Perm
from duban.workdays import Calendar

DUE_SOON_WORKDAYS = 1  # 临期提醒: due today or within this many working days
# --- the to-do list ------------------------------------------------------------------------

TO_SIGN = "待签收"
DUE_SOON = "即将到期"
OVERDUE = "已逾期"
CHASED = "已催办"
CATEGORIES = (TO_SIGN, DUE_SOON, OVERDUE, CHASED)


@dataclass(frozen=True)
class Item:
    """One open step a unit owes: a paper to sign for, an answer due or overdue."""

    step_id: int
    case_id: int
    case_no: str
    title: str
    kind: StepKind
    unit_id: int | None
    unit_name: str
    issued_at: date
    due_at: date | None
    provisional: bool
    workdays: int | None  # working days left (≥ 0) or overdue (< 0); None: no deadline yet
    needs_sign: bool
    signed_at: datetime | None
    sign_on_time: bool | None
    has_feedback: bool
    chases: int
    extension_pending: bool
    overdue: bool
    due_soon: bool  # 临期提醒: due today or the next working day, no feedback yet

    @property
    def unsigned(self) -> bool:
        return self.needs_sign and self.signed_at is None

    @property
    def categories(self) -> list[str]:
        flags = (self.unsigned, self.due_soon, self.overdue, self.chases > 0)
        return [name for name, on in zip(CATEGORIES, flags, strict=True) if on]

    @property
    def category_text(self) -> str:
        return "、".join(self.categories) or "办理中"

    @property
    def days_text(self) -> str:
        """剩余或逾期工作日, as a person says it."""
        if self.workdays is None:
            return "—"
        if self.workdays < 0:
            return f"逾期 {-self.workdays} 个工作日"
        return "今天到期" if self.workdays == 0 else f"剩余 {self.workdays} 个工作日"

    @property
    def sign_text(self) -> str:
        if not self.needs_sign:
            return "无需签收"
        if self.signed_at is None:
            return "未签收"
        return f"{cn_date(self.signed_at)}签收（{'及时' if self.sign_on_time else '超时'}）"

    @property
    def due_text(self) -> str:
        if self.due_at is None:
            return "—"
        return cn_date(self.due_at) + ("（暂估）" if self.provisional else "")


def open_items(
    session: Session, actor: Actor, day: date, *, unit_id: int | None = None
) -> list[Item]:
    """Every open step of an open case a unit owes: with a deadline, or awaiting 签收.

    A unit user gets their own unit's whatever `unit_id` asks; the center any unit or all.
    Sorted by unit, then the most urgent first (overdue, then by due date).
    """
    if not actor.can(Perm.VIEW_ALL):
        unit_id = actor.unit_id if actor.unit_id is not None else -1
    calendar = Calendar.load(session)
    horizon = Horizon.of(day, calendar)
    soon_through = calendar.add(day, DUE_SOON_WORKDAYS).day
    unit = answering_unit()
    has_feedback = (
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.step_id == Step.id, Feedback.deleted_at.is_(None))  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        .correlate(Step)
        .scalar_subquery()
    )
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Step.id),
            col(Case.id),
            col(Case.case_no),
            col(Case.title),
            col(Step.kind),
            unit.label("unit_id"),
            col(Unit.name),
            col(Step.issued_at),
            col(Step.due_at),
            col(Step.due_provisional),
            col(StepReceipt.signed_at),
            col(StepReceipt.on_time),
            has_feedback,
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(Unit, Unit.id == unit)
        .outerjoin(StepReceipt, StepReceipt.step_id == Step.id)
        .where(
            Case.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Case.status == CaseStatus.OPEN,
            Step.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Step.status == StepStatus.OPEN,
            Step.issued_at <= day,  # as of a past day: what was owed then
            or_(Step.due_at.is_not(None), Step.kind.in_(SIGN_KINDS)),  # type: ignore[union-attr,attr-defined]  # sqlmodel columns: mypy sees the value types on the class
        )
    )
    if unit_id is not None:
        stmt = stmt.where(unit == unit_id)
    raw = session.exec(stmt).all()
    step_ids = [r[0] for r in raw]
    chases = _chase_counts(session, step_ids)
    waiting = (
        set(
            session.exec(
                select(Extension.step_id).where(
                    Extension.step_id.in_(step_ids),  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
                    Extension.status == ExtensionStatus.PENDING,
                    Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
                )
            )
        )
        if step_ids
        else set()
    )
    late = working_days_late(
        calendar, day, (r[8] for r in raw if r[8] is not None and r[8] <= horizon.overdue_through)
    )
    items = []
    for sid, cid, no, title, kind, uid, uname, issued, due, prov, signed, sign_ok, fb in raw:
        overdue = due is not None and due <= horizon.overdue_through
        workdays = None
        if due is not None:
            if overdue:
                eff, n = late[due]
                workdays = -n
            else:
                eff = effective_due(due, calendar)
                workdays = calendar.between(day, eff.day)
            prov = bool(prov) or eff.provisional
        items.append(
            Item(
                step_id=sid,
                case_id=cid,
                case_no=no,
                title=title,
                kind=kind,
                unit_id=uid,
                unit_name=uname or "—",
                issued_at=issued,
                due_at=due,
                provisional=bool(prov),
                workdays=workdays,
                needs_sign=kind in SIGN_KINDS,
                signed_at=signed,
                sign_on_time=sign_ok,
                has_feedback=bool(fb),
                chases=chases.get(sid, 0),
                extension_pending=sid in waiting,
                overdue=overdue,
                due_soon=(not overdue and due is not None and due <= soon_through and not fb),
            )
        )
    items.sort(
        key=lambda i: (
            i.unit_name,
            not i.overdue,
            i.due_at is None,
            i.due_at or date.max,
            i.case_no,
        )
    )
    return items


@dataclass
class UnitList:
    """One unit's to-do list (待办清单) on a day."""

    unit_id: int | None
    unit_name: str
    items: list[Item] = field(default_factory=list)

    @property
    def open(self) -> int:
        return len(self.items)

    @property
    def overdue(self) -> int:
        return sum(i.overdue for i in self.items)

    @property
    def due_soon(self) -> int:
        return sum(i.due_soon for i in self.items)

    @property
    def unsigned(self) -> int:
        return sum(i.unsigned for i in self.items)

    @property
    def chased(self) -> int:
        return sum(i.chases > 0 for i in self.items)

    def line(self) -> str:
        """The digest's line: `UNIT open=N overdue=N due_soon=N`."""
        return f"{self.unit_name} open={self.open} overdue={self.overdue} due_soon={self.due_soon}"


def unit_lists(session: Session, actor: Actor, day: date) -> list[UnitList]:
    """Every unit that owes something, with its items, by unit name."""
    lists: dict[int | None, UnitList] = {}
    for item in open_items(session, actor, day):
        lists.setdefault(item.unit_id, UnitList(item.unit_id, item.unit_name)).items.append(item)
    return sorted(lists.values(), key=lambda u: u.unit_name)


LIST_COLUMNS = (
    "类别",
    "督办编号",
    "督办事项",
    "环节",
    "发出日期",
    "截止日期",
    "剩余或逾期工作日",
    "签收",
    "催办次数",
    "延期申请",
)


def list_xlsx(unit_list: UnitList, day: date) -> bytes:
    """One unit's list as an xlsx: a title row, the header, one row per item (text cells)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "待办清单"
    ws.append([f"{unit_list.unit_name} 督办待办清单（截至{cn_date(day)}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(LIST_COLUMNS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i in unit_list.items:
        ws.append(
            [
                i.category_text,
                i.case_no,
                i.title,
                i.kind.label,
                cn_date(i.issued_at),
                i.due_text,
                i.days_text,
                i.sign_text,
                i.chases,
                "待审批" if i.extension_pending else "—",
            ]
        )
    for letter, width in zip("ABCDEFGHIJ", (20, 24, 36, 18, 16, 18, 18, 26, 10, 10), strict=True):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def list_file_name(unit_list: UnitList, day: date) -> str:
    return f"{documents.safe_name(unit_list.unit_name)}-待办清单-{day.isoformat()}.xlsx"


def lists_zip(
    lists: list[UnitList], day: date, progress: Callable[[int, int], None] | None = None
) -> bytes:
    """Every unit's list as one xlsx each, in one zip; `progress(done, total)` after each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, unit_list in enumerate(lists, 1):
            zf.writestr(list_file_name(unit_list, day), list_xlsx(unit_list, day))
            if progress is not None:
                progress(n, len(lists))
    return buffer.getvalue()


def write_digest(lists: list[UnitList], day: date, folder: Path) -> list[Path]:
    """Write one xlsx per unit into `folder` (created); an existing file is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit_list in lists:
        path = folder / list_file_name(unit_list, day)
        path.write_bytes(list_xlsx(unit_list, day))
        paths.append(path)
    return paths
