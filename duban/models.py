"""All tables of the ledger, in one module (no import cycles, one picture of the data).

Conventions (see docs/ARCHITECTURE.md):
- times are naive Asia/Shanghai local time (`duban.clock.now()`);
- enums are stored as their English code (`CodeEnum`), shown by their Chinese label;
- editable rows carry `version` (optimistic concurrency, see `duban.records`) and
  `deleted_at` (soft delete: rows are never lost);
- every change goes through a service that writes `AuditLog` rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from duban.clock import now
from duban.enums import (
    AuditAction,
    CallbackResult,
    CaseStatus,
    ChaseWay,
    DocumentKind,
    ExtensionStatus,
    FeedbackReview,
    Level,
    Progress,
    Resolution,
    Role,
    Scope,
    StepKind,
    StepStatus,
    UnitKind,
    UnitRole,
)
from duban.text import fold_username


class CodeEnum(TypeDecorator):
    """Stores a `LabeledEnum` as its stable code in a VARCHAR and returns the member."""

    impl = String(40)
    cache_ok = True

    def __init__(self, enum_cls: type, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self.enum_cls(value)


def enum_field(enum_cls: type, *, default: Any = None, nullable: bool = False, index: bool = False):
    """A column holding `enum_cls` by code."""
    return Field(
        default=default,
        sa_type=CodeEnum(enum_cls),
        nullable=nullable,
        index=index,
    )


def json_field(default_factory: Any = dict):
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def text_field(default: str | None = "", nullable: bool = False):
    return Field(default=default, sa_column=Column(Text, nullable=nullable))


# --- shared column groups ----------------------------------------------------------------


class Tracked(SQLModel):
    """Columns every editable row has: creation, last change, optimistic version, soft delete."""

    created_at: NaiveDatetime = Field(default_factory=now)
    updated_at: NaiveDatetime = Field(default_factory=now)
    version: int = Field(default=1)
    deleted_at: NaiveDatetime | None = Field(default=None, index=True)


# --- 承办单位 ----------------------------------------------------------------------------


# A handling unit (承办单位): 村居, 职能部门, 企事业单位, 新城一站大居.
class Unit(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: UnitKind = enum_field(UnitKind, default=UnitKind.DEPARTMENT)
    aliases: list[str] = json_field(list)  # other spellings seen in platform exports
    head: str = Field(default="", max_length=50)  # 主要领导
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=50)
    active: bool = Field(default=True)


# --- 工单 --------------------------------------------------------------------------------


# One 12345 work order, imported from the city platform's export.
class Ticket(Tracked, table=True):
    __table_args__ = (
        Index("ix_ticket_unit_received", "unit_id", "received_at"),
        # covers callback satisfaction per unit (看板 承办单位): live rows, no table lookups
        Index("ix_ticket_live_unit_callback", "deleted_at", "unit_id", "callback_result"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_no: str = Field(max_length=64, unique=True)  # text, never a number
    received_at: NaiveDatetime = Field(index=True)
    title: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)
    address_norm: str = Field(default="", max_length=300, index=True)  # for grouping
    # the address's parts (duban.address): road/estate, its key (+ numbers), the landmark
    address_place: str = Field(default="", max_length=300)
    address_key: str = Field(default="", max_length=300, index=True)
    address_detail: str = Field(default="", max_length=300)
    content: str = text_field()
    category: str = Field(default="", max_length=100, index=True)
    caller: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=50)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    unit_raw: str = Field(default="", max_length=200)  # the unit name as the export wrote it
    platform_due_at: NaiveDatetime | None = Field(default=None, index=True)
    platform_status: str = Field(default="", max_length=50, index=True)
    callback_result: CallbackResult | None = enum_field(CallbackResult, nullable=True, index=True)
    resolved: bool | None = Field(default=None)
    city_supervised: bool = Field(default=False, index=True)
    # 热线考核 (duban.score): 是否先行联系, 办理结果, 办结时间, 是否逾期 (None: not in the export)
    first_contact: bool | None = Field(default=None)
    resolution: Resolution | None = enum_field(Resolution, nullable=True)
    finished_at: NaiveDatetime | None = Field(default=None)
    overdue: bool | None = Field(default=None)
    raw: dict[str, Any] = json_field(dict)  # columns the importer did not recognise
    # the center's own fields: never touched by a re-import
    notes: str = text_field()
    tags: str = Field(default="", max_length=200)
    repeat_group: str = Field(default="", max_length=64, index=True)
    import_batch_id: int | None = Field(default=None, foreign_key="importbatch.id")
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# One run of the importer: the file, who, when and what it did.
class ImportBatch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    created_at: NaiveDatetime = Field(default_factory=now)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    unknown_units: list[str] = json_field(list)
    rejects: list[dict[str, Any]] = json_field(list)  # row, column, reason


# A header the user mapped by hand to a ticket field, remembered for the next import.
class ColumnMapping(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    header: str = Field(max_length=100, unique=True)  # normalised header text
    field: str = Field(max_length=50)  # a Ticket attribute name, or "" to ignore
    created_at: NaiveDatetime = Field(default_factory=now)


# --- 督办线索: the stored same-matter index (duban.analysis) --------------------------------


# What the same-matter relation reads of one ticket, kept so a run prepares only new or
# changed tickets. Derived data: rebuilt from the tickets whenever the algorithm changes.
class TicketMatchKey(SQLModel, table=True):
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", primary_key=True)
    ticket_version: int  # Ticket.version when prepared: a cheap "may have changed" test
    wording: int = Field(sa_type=BigInteger)  # hash of (address, category, text); 0: no text
    received_at: NaiveDatetime  # as prepared: which tickets it was compared with
    city: bool  # city_supervised as prepared (city tickets are compared at any distance)


# Two wordings (TicketMatchKey.wording) of one matter: near-identical contents at agreeing
# addresses. A pure function of the two wordings, so never stale; `last_at` (the latest
# ticket it was found between) lets a run read only the links its window can use.
class MatterLink(SQLModel, table=True):
    wording_a: int = Field(sa_type=BigInteger, primary_key=True)  # the smaller
    wording_b: int = Field(sa_type=BigInteger, primary_key=True)
    score: float  # bigram Jaccard of the two texts
    last_at: NaiveDatetime = Field(index=True)
    city: bool = Field(default=False, index=True)  # found between two city-supervised tickets


# One update of the same-matter index: when, how much, and what it was built with.
class CandidateRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=now)
    as_of: NaiveDatetime  # the analysis it ran for
    rebuilt: bool = False  # the whole index was rebuilt (first run, or its rules changed)
    prepared: int = 0  # tickets new or changed since the last run
    links: int = 0  # links found between their wordings and the others'
    max_ticket_id: int = 0  # the newest ticket indexed so far
    index_version: int  # duban.analysis.index.INDEX_VERSION
    similarity_percent: int  # the threshold the links were found with
    horizon_days: int  # tickets this many days apart were compared
    seconds: float = 0.0
    match_stamp: str = Field(default="", max_length=64)  # prefixes, aliases, key-word minimum


# --- 督办事项 -----------------------------------------------------------------------------


# One supervised matter (督办事项), numbered 督办编号; groups one or more tickets.
class Case(Tracked, table=True):
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_case_year_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=64, unique=True)
    year: int
    seq: int
    title: str = Field(default="", max_length=200)  # 事由, a short name of the matter
    scope: Scope = enum_field(Scope, index=True)
    scope_reason: str = text_field()  # required for Scope.OTHER
    level: Level = enum_field(Level, default=Level.WRITTEN, index=True)
    start_level_reason: str = text_field()  # why a case started above 书面督办
    status: CaseStatus = enum_field(CaseStatus, default=CaseStatus.OPEN, index=True)
    lead_unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    source_note: str = text_field()  # e.g. 区领导批示 text
    source_date: date | None = None
    related_info: str = text_field()  # 相关情况
    opinion: str = text_field()  # 督办意见
    result_text: str = text_field()  # 督办情况, written at closing
    opened_at: date = Field(index=True)
    closed_at: date | None = Field(default=None, index=True)
    verified_at: date | None = None
    verification_note: str = text_field()  # 跟踪核实 result
    reopen_reason: str = text_field()
    typical_text: str = text_field()  # chosen as a 典型案例 for the work report
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# Which units handle a case: one 主办, any number of 协办.
class CaseUnit(SQLModel, table=True):
    case_id: int = Field(foreign_key="case.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
    role: UnitRole = enum_field(UnitRole, default=UnitRole.LEAD)


# Which tickets a case groups.
class CaseTicket(SQLModel, table=True):
    case_id: int = Field(foreign_key="case.id", primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, index=True)


# Per-year counter behind the gap-free 督办编号 sequence.
class CaseCounter(SQLModel, table=True):
    year: int = Field(primary_key=True)
    last_seq: int = 0


# One action of the center on a case (督办环节): a 督办单, a notice, a 批办, a meeting …
class Step(Tracked, table=True):
    __table_args__ = (Index("ix_step_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    level: Level = enum_field(Level, index=True)
    kind: StepKind = enum_field(StepKind)
    status: StepStatus = enum_field(StepStatus, default=StepStatus.OPEN)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)  # addressee
    issued_at: date
    due_workdays: int | None = None  # N of "N working days", to recompute the due date
    due_at: date | None = None
    due_provisional: bool = False  # the year's holiday schedule was unknown (暂估)
    # free-text fields of the step's paper (notice, 批办, 专报, report-up)
    subject: str = text_field()  # 协调督办事由 / 批办事项 / 专报标题
    body: str = text_field()  # 流程 / 批示内容 / 专报正文
    recipient: str = Field(default="", max_length=200)  # 批办对象 / 专报报送对象
    location: str = Field(default="", max_length=300)  # 协调督办地点
    scheduled_at: NaiveDatetime | None = None  # 现场督办时间
    attendees: str = text_field()  # 出席范围
    contact_name: str = Field(default="", max_length=50)
    contact_phone: str = Field(default="", max_length=50)
    remark: str = text_field()
    # 现场协调督办: the unit's same-day registration and the joint site visit
    registered_at: NaiveDatetime | None = None
    visit_at: date | None = None
    visit_findings: str = text_field()
    responsible_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    # 当天登记 (§三(二)2): 报告主要领导, 落实会议场所 (the task division: NoticeTask rows)
    reported_to: str = Field(default="", max_length=100)
    venue_ready: bool | None = None
    venue: str = Field(default="", max_length=300)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    # frozen outcome, written once when the step closes (history is never rewritten)
    closed_at: date | None = None
    on_time: bool | None = None
    margin_workdays: int | None = None  # due - feedback date in working days (<0: late)
    escalation_reason: str = text_field()  # why the case left this step upward
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    # the papers' own text (工作专报: body = 情况; 提级办理报告: body = 请示事项)
    analysis: str = text_field()  # 专报 原因分析
    suggestion: str = text_field()  # 专报 建议
    report_reason: str = text_field()  # 提级办理报告 提级理由


# A unit's written answer (书面反馈) to a step.
class Feedback(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="step.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    received_at: date
    text: str = text_field()
    signed: bool = False  # 主要领导签字
    stamped: bool = False  # 加盖公章
    compliant: bool = False  # signed and stamped
    on_time: bool | None = None  # received by the step's due date
    progress: Progress = enum_field(Progress)
    upload_id: int | None = Field(default=None, foreign_key="upload.id")
    # what a unit enters is 待核验 until the center confirms it; only confirmed feedback counts
    review: FeedbackReview = enum_field(FeedbackReview, default=FeedbackReview.PENDING, index=True)
    reviewed_at: NaiveDatetime | None = None
    reviewed_by: int | None = Field(default=None, foreign_key="user.id")
    review_note: str = text_field()  # why the center returned it
    date_reason: str = text_field()  # why 收到日期 is not the day it was entered
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# A stored file (scanned feedback, imported export), kept by content hash.
class Upload(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # the bytes are stored once per hash; each uploader gets their own row and name
    sha256: str = Field(max_length=64, index=True)
    original_name: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    path: str = Field(max_length=500)  # relative to the data folder
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# --- 专题会与处置规则 ----------------------------------------------------------------------


# A 镇领导专题会 on hotline work.
class Meeting(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    held_at: date = Field(index=True)
    title: str = Field(default="", max_length=200)
    chair: str = Field(default="", max_length=100)  # 分管领导
    attendees: str = text_field()
    summary: str = text_field()  # 会议指示要求
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# The cases a meeting discussed.
class MeetingCase(SQLModel, table=True):
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    case_id: int = Field(foreign_key="case.id", primary_key=True, index=True)


# A meeting decision fixing the department and path for a class of matter (同类事项).
class RoutingRule(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    name: str = Field(default="", max_length=200)  # 事项类别
    category: str = Field(default="", max_length=100)  # matches Ticket.category
    keywords: str = Field(default="", max_length=300)  # any of these, separated by 、 or ,
    address_pattern: str = Field(default="", max_length=300)
    unit_id: int = Field(foreign_key="unit.id")  # 处置部门
    handling_path: str = text_field()  # 处置路径
    active: bool = True
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# A typical buck-passing case sent to 镇纪委监察办.
class Referral(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    referred_at: date = Field(index=True)
    reason: str = text_field()
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# --- 文书 --------------------------------------------------------------------------------


# A rendered document kept under data/documents/ and registered against its case.
class Document(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: DocumentKind = enum_field(DocumentKind, index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    step_id: int | None = Field(default=None, foreign_key="step.id")
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    template_name: str = Field(max_length=255)
    template_sha256: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    path: str = Field(max_length=500)  # relative to the data folder
    sha256: str = Field(max_length=64)
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# An uploaded version of a document template; the newest active one is used.
class TemplateVersion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: DocumentKind = enum_field(DocumentKind, index=True)
    version: int
    file_name: str = Field(max_length=255)
    path: str = Field(max_length=500)  # relative to the data folder
    sha256: str = Field(max_length=64)
    active: bool = True
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# --- 用户与日志 ----------------------------------------------------------------------------


# A person who logs in.
class User(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=50, unique=True)
    # the username folded (NFKC + casefold) in Python: one account per spelling, any script
    username_key: str = Field(default="", max_length=200, unique=True, index=True)
    display_name: str = Field(default="", max_length=50)
    role: Role = enum_field(Role)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")  # for Role.UNIT
    can_see_contacts: bool = False  # a leader may be granted this
    password_hash: str = Field(max_length=255)
    active: bool = True
    failed_logins: int = 0
    locked_until: NaiveDatetime | None = None
    last_login_at: NaiveDatetime | None = None
    password_changed_at: NaiveDatetime | None = None


# Append-only change log: who, when, what, old → new.
class AuditLog(SQLModel, table=True):
    __table_args__ = (Index("ix_auditlog_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=now, index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    username: str = Field(default="", max_length=50)
    action: AuditAction = enum_field(AuditAction, index=True)
    entity: str = Field(max_length=30)  # table name: ticket, case, step …
    entity_id: int | None = None
    field: str = Field(default="", max_length=50)
    old: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    new: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str = text_field()


# --- 日历与设置 ----------------------------------------------------------------------------


# An admin's correction of one day: a holiday or an adjusted working weekend (调休).
class HolidayOverride(SQLModel, table=True):
    day: date = Field(primary_key=True)
    is_workday: bool
    name: str = Field(default="", max_length=50)
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# A year whose full holiday schedule an admin has entered (deadlines stop being 暂估).
class CalendarYear(SQLModel, table=True):
    year: int = Field(primary_key=True)
    confirmed_at: NaiveDatetime = Field(default_factory=now)
    confirmed_by: int | None = Field(default=None, foreign_key="user.id")
    note: str = text_field()


# Key/value settings (office name, number prefix, thresholds, scoring rules …).
class Setting(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=100)
    value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: NaiveDatetime = Field(default_factory=now)
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# --- security hardening (issue 15) ---


@event.listens_for(User, "before_insert")
def _fold_username(_mapper: Any, _connection: Any, user: User) -> None:
    """Every account row gets its folded name, however it was created."""
    user.username_key = fold_username(user.username)


# One row per one-time setup step (e.g. "first_admin"): the primary key lets only one of
# several parallel first-start requests through.
class SetupGuard(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=30)
    at: NaiveDatetime = Field(default_factory=now)


# --- 热线考核 ---------------------------------------------------------------------------------


# A deduction the center records by hand against a unit's 热线考核 (reason, points, who, when).
class ScoreDeduction(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    day: date = Field(index=True)  # the day it counts for: it falls in the periods holding it
    points: float
    reason: str = text_field()
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_by_name: str = Field(default="", max_length=100)


# --- 标准地址 (duban.standard_address) --------------------------------------------------


# A place as the center names it (标准地址): the address key every alias of it stands for.
class StandardAddress(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300, index=True)  # an address key (duban.address)
    note: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# Another spelling (its address key) of a standard address, recorded by staff confirming
# or splitting a 督办线索 group, or typed in the table; every later run reads it.
class AddressAlias(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=300, unique=True)  # an address key
    standard_id: int = Field(foreign_key="standardaddress.id", index=True)
    source: str = Field(default="", max_length=20)  # 确认 / 拆分 / 手工
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# --- 签收、催办、延期 (duban.chasing) -------------------------------------------------------


# A unit's 签收 of a 督办单 or 现场协调督办通知: once per step, its timeliness frozen at signing.
class StepReceipt(SQLModel, table=True):
    step_id: int = Field(foreign_key="step.id", primary_key=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    signed_at: NaiveDatetime  # when the unit signed (for a paper unit: the time it reported)
    on_behalf: bool = False  # recorded by the center for a unit that works on paper
    due_at: date  # the last day of 及时签收 (issue day + the setting's working days)
    on_time: bool
    recorded_at: NaiveDatetime = Field(default_factory=now)
    recorded_by: int | None = Field(default=None, foreign_key="user.id")


# One 催办 of a step by the center: when, how, whom it reached; a written one prints a paper.
class Chase(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="step.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    chased_on: date = Field(index=True)
    way: ChaseWay = enum_field(ChaseWay)
    reached: str = Field(default="", max_length=100)  # whom it reached (姓名/职务)
    note: str = text_field()
    due_at: date | None = None  # the step's deadline when chased (临期 or 逾期)
    document_id: int | None = Field(default=None, foreign_key="document.id")
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# A unit's 延期申请 on a step: asked before the deadline, approved or refused by the center.
class Extension(Tracked, table=True):
    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="step.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    requested_on: date
    workdays: int  # working days wanted
    reason: str = text_field()
    status: ExtensionStatus = enum_field(
        ExtensionStatus, default=ExtensionStatus.PENDING, index=True
    )
    old_due_at: date  # the deadline when asked (kept after approval)
    new_due_at: date | None = None  # the approved deadline
    decided_on: date | None = None
    decision_note: str = text_field()
    created_by: int | None = Field(default=None, foreign_key="user.id")
    decided_by: int | None = Field(default=None, foreign_key="user.id")


# A unit's e-mail addresses for its to-do list (待办清单), separated by commas.
class UnitMailbox(SQLModel, table=True):
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    addresses: str = Field(default="", max_length=500)
    updated_at: NaiveDatetime = Field(default_factory=now)
    updated_by: int | None = Field(default=None, foreign_key="user.id")


# --- 当天登记: task division (issue 14b) -------------------------------------------------


# One line of the task division a unit records when it registers an on-site notice
# (§三(二)2: 按照协调督办事项职责范围分解任务): which unit does what.
class NoticeTask(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="step.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    task: str = text_field()
    created_at: NaiveDatetime = Field(default_factory=now)
    created_by: int | None = Field(default=None, foreign_key="user.id")


# --- login sessions and saved views (issue 14a) --------------------------------------------


# A login that lasts across reloads and tabs. The browser holds only a random token (in a
# cookie); the table keeps its SHA-256, so a copy of the database cannot log anyone in.
class LoginSession(SQLModel, table=True):
    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: NaiveDatetime
    last_seen_at: NaiveDatetime
    expires_at: NaiveDatetime  # the absolute end, however active the user is
    ended_at: NaiveDatetime | None = None
    end_reason: str = Field(default="", max_length=50)


# A user's named filter + column set of a grid (工单台账), as spreadsheet users keep views.
class SavedView(SQLModel, table=True):
    __tablename__ = "saved_view"
    __table_args__ = (
        Index(
            "ux_saved_view_live_name",
            "user_id",
            "page",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    page: str = Field(max_length=30)
    name: str = Field(max_length=50)
    filters: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    columns: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime = Field(default_factory=now)
    updated_at: NaiveDatetime = Field(default_factory=now)
    deleted_at: NaiveDatetime | None = None
